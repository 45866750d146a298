"""评标过程数据统计, checked by hand on the main case of tests/evaluation/room.py: phases a minute or two each, B rejected
at compliance, A and C scored (SCORES), C first at 950,000.00; one extension of 30 minutes carried."""

from datetime import timedelta
from decimal import Decimal

import pytest

from evaluation import session as ev
from evaluation.statistics import human_duration, lot_statistics
from tests.evaluation.room import at, sign_report, to_report
from trading.models import Lot


def test_human_duration():
    assert [human_duration(s) for s in (0, 59, 60, 3725, 7200)] == ["0秒", "59秒", "1分0秒", "1小时2分5秒", "2小时0分0秒"]


@pytest.mark.django_db
def test_before_the_session_there_is_nothing_to_count(room):
    room.session.spans.all().delete()
    room.session.delete()
    assert lot_statistics(room.lot) == {"lot": room.lot.pk, "session": None}


@pytest.mark.django_db
def test_the_numbers_of_a_whole_session(room):
    Lot.objects.filter(pk=room.lot.pk).update(max_price=Decimal("1200000.00"))
    room.lot.refresh_from_db()
    to_report(room)
    proposal = ev.extension_propose(session=room.session, actor=room.user(0), minutes=30, reason="需要讨论", now=at(14))
    ev.extension_vote(session=room.session, actor=room.user(1), proposal_id=proposal.pk, yes=True, now=at(14))
    sign_report(room, 15)
    st = lot_statistics(room.lot)

    assert [(p["phase"], p["seconds"], p["human"]) for p in st["phases"]] == [
        ("sign_in", 120, "2分0秒"),
        ("declaration", 120, "2分0秒"),
        ("chair_election", 120, "2分0秒"),
        ("qualification", 120, "2分0秒"),
        ("compliance", 120, "2分0秒"),
        ("scoring", 120, "2分0秒"),
        ("price", 60, "1分0秒"),
        ("summary", 60, "1分0秒"),
        ("report", 60, "1分0秒"),
        ("done", None, None),
    ]
    assert st["phases"][0]["started_at"] == at(0) and st["phases"][-1]["ended_at"] is None
    assert st["phase_seconds"]["scoring"] == 120
    assert (st["total_seconds"], st["total_human"]) == (900, "15分0秒")
    assert st["bids"] == {"received": 3, "opened": 3, "rejected": {"qualification": 0, "compliance": 1}, "valid": 2}

    # T1: A 25 26 24 27 25, C 24 25 23 26 24: mean 24.9, Σ(x−mean)² = 6.45 + 6.45, σ = √1.29 = 1.1358 → 1.14.
    # T2: A 15 16 15 17 16, C 16 16 16 16 17: mean 16, Σ = 3 + 1, σ = √0.4 = 0.6325 → 0.63.
    # C1: A 18 18 17 19 18, C 17 18 18 18 17: mean 17.8, Σ = 2.2 + 1.4, σ = √0.36 = 0.60.
    spread = {c["name"]: c for c in st["criteria"]}
    got = {n: (c["marks"], c["min"], c["max"], c["range"], c["stdev"]) for n, c in spread.items()}
    assert got == {
        "T1": (10, Decimal("23.00"), Decimal("27.00"), Decimal("4.00"), Decimal("1.14")),
        "T2": (10, Decimal("15.00"), Decimal("17.00"), Decimal("2.00"), Decimal("0.63")),
        "C1": (10, Decimal("17.00"), Decimal("19.00"), Decimal("2.00"), Decimal("0.60")),
    }
    # T1 per bid: A mean 25.4, Σ = 5.2, σ = √1.04 = 1.0198 → 1.02; C mean 24.4, Σ = 5.2 → 1.02.
    a, c = room.bids["A"].bidder.name, room.bids["C"].bidder.name
    per_bid = {b["bidder"]: (b["min"], b["max"], b["range"], b["stdev"]) for b in spread["T1"]["bids"]}
    assert per_bid == {
        a: (Decimal("24.00"), Decimal("27.00"), Decimal("3.00"), Decimal("1.02")),
        c: (Decimal("23.00"), Decimal("26.00"), Decimal("3.00"), Decimal("1.02")),
    }

    # C first at 950,000.00: 250,000.00 below the maximum of 1,200,000.00 (20.83 %), 50,000.00 below the estimate (5 %).
    first = st["first_candidate"]
    assert (first["bidder"], first["price"]) == (c, Decimal("950000.00"))
    assert first["savings_vs_max_price"] == {
        "reference": Decimal("1200000.00"),
        "amount": Decimal("250000.00"),
        "percent": Decimal("20.83"),
    }
    assert first["savings_vs_estimated_price"] == {
        "reference": Decimal("1000000.00"),
        "amount": Decimal("50000.00"),
        "percent": Decimal("5.00"),
    }
    assert st["extensions"] == {"proposed": 1, "carried": 1, "minutes": 30}
    assert st["replacements"] == []
    assert room.reload().request.window_end - room.session.request.window_start == timedelta(hours=8, minutes=30)


@pytest.mark.django_db
def test_a_replaced_members_scores_are_left_out(room):
    to_report(room)
    leaving = room.members[3]  # scored A's T1 27 and C's T1 26: the highest
    ev.session_member_replace(session=room.session, member=leaving, actor=room.parties.staff, reason="身体不适", now=at(15))
    st = lot_statistics(room.lot)
    t1 = next(c for c in st["criteria"] if c["name"] == "T1")
    assert (t1["marks"], t1["max"], t1["range"]) == (8, Decimal("26.00"), Decimal("3.00"))
    assert [(r["member"], r["reason"]) for r in st["replacements"]] == [(leaving.pk, "身体不适")]
    assert st["first_candidate"] is None  # the ranking is cleared until the session is summed up again
