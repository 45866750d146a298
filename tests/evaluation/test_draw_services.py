"""The draw and the committee through the services: commit, draw, answers, replacements, timeout, fixing, refusals."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine

from audit.models import AuditEvent
from evaluation import draw_random, services
from evaluation.models import Draw, DrawnExpert, DrawRequest
from experts.models import ExpertStatus
from tests.evaluation import kit
from trading import rules
from trading import services as trading_services
from trading.api import DomainError
from trading.models import RuleSet

pytestmark = pytest.mark.django_db


@pytest.fixture
def pool(tree):
    return kit.experts(10, "A0801")


def run(parties, request, label="s1", now=kit.NOW) -> Draw:
    return services.draw_run(request=request, actor=parties.staff, now=now, seed=kit.seed(label))


def member_at(draw, position, code="A08") -> DrawnExpert:
    return DrawnExpert.objects.select_related("expert").get(draw=draw, line__specialty_code=code, position=position)


def actions_since(seq: int) -> list[str]:
    return list(AuditEvent.objects.filter(seq__gt=seq).order_by("seq").values_list("action", flat=True))


def test_draw_commits_then_draws_the_stream(parties, lot, pool):
    request = kit.request(parties, lot)
    start = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    draw = run(parties, request)
    ids = [e.pk for e in pool]
    order = draw_random.first(kit.seed("s1"), "A08", ids, 7)
    assert kit.rows(draw) == [("A08", i, order[i], "invited" if i < 5 else "backup") for i in range(7)]
    seats = list(DrawnExpert.objects.filter(draw=draw, status="invited").order_by("position").values_list("venue__kind", "seat"))
    assert seats == [("main", 1), ("main", 2), ("main", 3), ("secondary", 1), ("secondary", 2)]
    assert all(m.respond_by == kit.NOW + timedelta(minutes=30) for m in DrawnExpert.objects.filter(status="invited"))
    request.refresh_from_db()
    assert request.status == DrawRequest.Status.DRAWN
    # The commitment is in the audit trail before the draw; the seed is nowhere in clear.
    assert actions_since(start) == ["draw.committed", "draw.drawn"]
    committed = AuditEvent.objects.get(action="draw.committed")
    snapshot = draw_random.encode_snapshot([("A08", ids)])
    assert committed.after == {
        "commitment": draw_random.commitment(
            seed=kit.seed("s1"),
            draw_id=request.pk,
            transaction_code=lot.transaction_code,
            eligible_hash=draw_random.snapshot_hash(snapshot),
        ),
        "snapshot_sha256": draw_random.snapshot_hash(snapshot),
        "transaction_code": lot.transaction_code,
        "eligible": [{"specialty": "A08", "count": 10}],
    }
    assert draw.commitment == committed.after["commitment"]
    assert bytes(draw.snapshot) == snapshot
    assert draw.seed == "" and draw.revealed_at is None
    assert kit.seed("s1") not in bytes(draw.seed_sealed)
    assert kit.seed("s1").hex() not in str(list(AuditEvent.objects.values_list("after", flat=True)))
    assert services.draw_seed(draw) == kit.seed("s1")


def test_fresh_seed_each_draw(parties, lot, pool):
    draw = services.draw_run(request=kit.request(parties, lot), actor=parties.staff, now=kit.NOW)
    other = kit.opened_lot(parties, bidders=[])
    start = kit.WINDOW[1] + timedelta(days=1)
    second = services.draw_run(
        request=kit.request(parties, other, window_start=start, window_end=start + timedelta(hours=3)),
        actor=parties.staff,
        now=kit.NOW,
    )
    assert len(services.draw_seed(draw)) == 32 and services.draw_seed(draw) != services.draw_seed(second)


def test_decline_pulls_the_backups_then_the_stream(parties, lot, pool):
    request = kit.request(parties, lot)
    draw = run(parties, request)
    order = draw_random.first(kit.seed("s1"), "A08", [e.pk for e in pool], 10)
    first = member_at(draw, 0)
    start = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    later = kit.NOW + timedelta(minutes=5)
    services.member_respond(member=first, actor=first.expert.user, accept=False, reason="出差", now=later)
    backup = member_at(draw, 5)
    assert (backup.status, backup.venue_id, backup.seat) == ("invited", first.venue_id, first.seat)
    assert backup.respond_by == later + timedelta(minutes=30)
    assert actions_since(start) == ["member.declined", "member.invited"]
    assert AuditEvent.objects.get(action="member.invited").after == {
        "expert": order[5],
        "specialty": "A08",
        "position": 5,
        "replaces": order[0],
        "venue": first.venue_id,
        "seat": first.seat,
    }
    # Staff record a telephone decline of the next one: the second backup.
    services.member_respond(member=member_at(draw, 1), actor=parties.staff, accept=False, reason="电话告知：生病", now=later)
    assert member_at(draw, 6).status == "invited"
    # The backups are used up: the next decline takes the stream's next item, position 7.
    services.member_respond(
        member=member_at(draw, 2), actor=member_at(draw, 2).expert.user, accept=False, reason="回避", now=later
    )
    assert member_at(draw, 7).expert_id == order[7]
    assert member_at(draw, 7).status == "invited"
    assert [m.status for m in DrawnExpert.objects.filter(draw=draw).order_by("position")] == [
        "declined",
        "declined",
        "declined",
        "invited",
        "invited",
        "invited",
        "invited",
        "invited",
    ]


def test_backup_no_longer_eligible_is_skipped(parties, lot, pool):
    request = kit.request(parties, lot)
    draw = run(parties, request)
    member_at(draw, 5).expert.__class__.objects.filter(pk=member_at(draw, 5).expert_id).update(
        status=ExpertStatus.SUSPENDED, status_until=kit.NOW.date() + timedelta(days=90)
    )
    first = member_at(draw, 0)
    services.member_respond(member=first, actor=first.expert.user, accept=False, reason="出差", now=kit.NOW)
    assert (member_at(draw, 5).status, member_at(draw, 5).reason) == ("skipped", "no_longer_eligible")
    assert member_at(draw, 6).status == "invited"
    assert member_at(draw, 6).seat == first.seat


def test_timeout_pulls_a_backup_and_the_sweep_is_idempotent(parties, lot, pool):
    request = kit.request(parties, lot)
    draw = run(parties, request)
    for position in (1, 2, 3, 4):
        member = member_at(draw, position)
        services.member_respond(member=member, actor=member.expert.user, accept=True, now=kit.NOW + timedelta(minutes=1))
    due = member_at(draw, 0).respond_by
    with time_machine.travel(due - timedelta(seconds=1), tick=False):
        trading_services.sweep_deadlines()
    assert member_at(draw, 0).status == "invited"
    with time_machine.travel(due, tick=False):
        trading_services.sweep_deadlines()
        trading_services.sweep_deadlines()
    assert member_at(draw, 0).status == "timed_out"
    assert member_at(draw, 5).status == "invited"
    assert member_at(draw, 6).status == "backup"
    assert AuditEvent.objects.filter(action="member.timed_out").count() == 1
    # Too late to answer now, for the one who timed out; the new one confirms and the committee is fixed.
    with pytest.raises(DomainError) as refused:
        services.member_respond(member=member_at(draw, 0), actor=member_at(draw, 0).expert.user, accept=True, now=due)
    assert refused.value.code == "invalid_member_state"
    services.member_respond(
        member=member_at(draw, 5), actor=member_at(draw, 5).expert.user, accept=True, now=due + timedelta(minutes=1)
    )
    request.refresh_from_db()
    assert request.status == "fixed"


def test_all_confirmed_fixes_the_committee_and_reveals_the_seed(parties, lot, pool):
    request = kit.request(parties, lot)
    draw = run(parties, request)
    for position in range(5):
        member = member_at(draw, position)
        assert Draw.objects.get(pk=draw.pk).seed == ""
        services.member_respond(member=member, actor=member.expert.user, accept=True, now=kit.NOW + timedelta(minutes=position))
    draw.refresh_from_db()
    request.refresh_from_db()
    assert request.status == "fixed" and request.fixed_at == kit.NOW + timedelta(minutes=4)
    assert draw.seed == kit.seed("s1").hex() and draw.revealed_at == kit.NOW + timedelta(minutes=4)
    revealed = AuditEvent.objects.get(action="draw.revealed")
    assert revealed.after == {
        "seed": kit.seed("s1").hex(),
        "commitment": draw.commitment,
        "snapshot_sha256": draw.snapshot_sha256,
    }
    assert list(AuditEvent.objects.order_by("-seq").values_list("action", flat=True)[:3]) == [
        "draw.revealed",
        "committee.fixed",
        "member.confirmed",
    ]
    # Fixed: no more answers or replacements.
    with pytest.raises(DomainError):
        services.member_replace(member=member_at(draw, 0), actor=parties.staff, reason="x", now=kit.NOW)


def test_answer_refusals_change_nothing(parties, lot, pool):
    draw = run(parties, kit.request(parties, lot))
    member, other = member_at(draw, 0), member_at(draw, 1)
    before = kit.state()
    for kwargs, code in [
        ({"actor": other.expert.user, "accept": True}, "forbidden"),
        ({"actor": parties.supervisor, "accept": True}, "forbidden"),
        ({"actor": parties.tenderee, "accept": False, "reason": "x"}, "forbidden"),
        ({"actor": member.expert.user, "accept": False, "reason": " "}, "reasons_required"),
        ({"actor": member.expert.user, "accept": True, "now": member.respond_by}, "response_too_late"),
    ]:
        with pytest.raises(DomainError) as refused:
            services.member_respond(member=member, **{"now": kit.NOW, **kwargs})
        assert refused.value.code == code
    backup = member_at(draw, 5)
    with pytest.raises(DomainError) as refused:
        services.member_respond(member=backup, actor=backup.expert.user, accept=True, now=kit.NOW)
    assert refused.value.code == "invalid_member_state"
    assert kit.state() == before
    services.member_respond(member=member, actor=member.expert.user, accept=True, now=kit.NOW)
    after = kit.state()
    with pytest.raises(DomainError) as refused:
        services.member_respond(member=member, actor=member.expert.user, accept=False, reason="changed my mind", now=kit.NOW)
    assert refused.value.code == "invalid_member_state"
    assert kit.state() == after


def test_staff_replace_a_confirmed_member(parties, lot, pool):
    draw = run(parties, kit.request(parties, lot))
    member = member_at(draw, 2)
    services.member_respond(member=member, actor=member.expert.user, accept=True, now=kit.NOW)
    services.member_replace(member=member, actor=parties.staff, reason="发现与投标人存在利害关系", now=kit.NOW)
    assert member_at(draw, 2).status == "replaced"
    assert (member_at(draw, 5).status, member_at(draw, 5).seat) == ("invited", member.seat)
    with pytest.raises(DomainError) as refused:
        services.member_replace(member=member_at(draw, 3), actor=parties.supervisor, reason="x", now=kit.NOW)
    assert refused.value.code == "role_not_allowed"


def test_impossible_request_is_refused_with_the_shortfall_per_line(parties, lot, tree):
    kit.experts(6, "A0801")
    kit.experts(2, "B02")
    request = kit.request(parties, lot, lines=(("A08", 5), ("B02", 2)), backups=2, venue_seats=None)
    before = kit.state()
    with pytest.raises(DomainError) as refused:
        run(parties, request)
    error = refused.value
    assert (error.code, error.status_code) == ("too_few_eligible_experts", 422)
    assert error.extra == {
        "shortfall": [
            {"specialty": "A08", "needed": 7, "eligible": 6, "missing": 1},
            {"specialty": "B02", "needed": 4, "eligible": 2, "missing": 2},
        ]
    }
    assert kit.state() == before


def test_experts_shared_between_lines_sit_once(parties, lot, tree):
    both = kit.experts(7, "A0801", "B02")
    ids = [e.pk for e in both]
    # A seed whose B02 stream meets an expert the A08 line has already taken.
    label = next(
        f"dup{i}"
        for i in range(100)
        if set(draw_random.first(kit.seed(f"dup{i}"), "A08", ids, 2)) & set(draw_random.first(kit.seed(f"dup{i}"), "B02", ids, 3))
    )
    request = kit.request(parties, lot, lines=(("A08", 2), ("B02", 3)), backups=0)
    draw = run(parties, request, label=label)
    rows = kit.rows(draw)
    seated = [expert for _, _, expert, status in rows if status != "skipped"]
    assert len(seated) == 5 == len(set(seated))
    skipped = [r for r in rows if r[3] == "skipped"]
    assert skipped and all(r[0] == "B02" and r[2] in seated for r in skipped)
    # With one backup per line the seven shared experts are not enough: refused, nothing kept.
    other = kit.opened_lot(parties, bidders=[])
    start = kit.WINDOW[1] + timedelta(days=2)
    too_many = kit.request(
        parties, other, lines=(("A08", 2), ("B02", 3)), backups=2, window_start=start, window_end=start + timedelta(hours=2)
    )
    with pytest.raises(DomainError) as refused:
        run(parties, too_many, label=label)
    assert refused.value.extra["shortfall"][0]["specialty"] == "B02"


def test_cancel_releases_the_members_and_reveals_the_seed(parties, lot, pool):
    request = kit.request(parties, lot)
    draw = run(parties, request)
    services.draw_request_cancel(request=request, actor=parties.staff, reason="项目暂停", now=kit.NOW)
    draw.refresh_from_db()
    assert draw.seed == kit.seed("s1").hex()
    assert set(DrawnExpert.objects.filter(draw=draw).values_list("status", flat=True)) == {"replaced", "backup"}
    # The lot may then have a new request.
    kit.request(parties, lot)


# --- Committee validation: 法37 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("experts", "reps", "codes"),
    [
        (5, 0, []),
        (4, 1, []),
        (6, 3, []),  # 6/9 = 0.6667 after rounding: two thirds exactly passes
        (7, 0, []),
        (4, 0, ["committee_too_small", "committee_size_even"]),
        (6, 0, ["committee_size_even"]),
        (3, 2, ["committee_too_few_experts"]),
        (5, 3, ["committee_size_even", "committee_too_few_experts"]),
        (2, 1, ["committee_too_small"]),  # 2 of 3 is two thirds
        (1, 2, ["committee_too_small", "committee_too_few_experts"]),
    ],
)
def test_committee_breaches(db, experts, reps, codes):
    rule_set = RuleSet(code="x", name="x")
    assert [b.code for b in rules.committee_breaches(rule_set, experts=experts, tenderee_reps=reps)] == codes


def test_committee_rule_set_values_apply(db):
    lenient = RuleSet(code="y", name="y", committee_min_size=3, committee_odd_size=False, committee_expert_ratio=Decimal("0.5"))
    assert rules.committee_breaches(lenient, experts=2, tenderee_reps=2) == []


def test_request_refused_for_an_invalid_committee(parties, lot, pool):
    before = kit.state()
    with pytest.raises(DomainError) as refused:
        kit.request(parties, lot, lines=(("A08", 3),), tenderee_reps=2)
    assert (refused.value.code, refused.value.status_code) == ("committee_too_few_experts", 422)
    assert [b["code"] for b in refused.value.extra["breaches"]] == ["committee_too_few_experts"]
    assert refused.value.extra["breaches"][0]["article"] == "法37"
    with pytest.raises(DomainError) as refused:
        kit.request(parties, lot, lines=(("A08", 6),))
    assert refused.value.code == "committee_size_even"
    assert kit.state() == before


def test_request_checks(parties, lot, pool):
    main, secondary = kit.venues()
    base = {
        "lot": lot,
        "actor": parties.staff,
        "lines": [{"specialty_code": "A08", "count": 5}],
        "venues": [{"venue": main, "seats": 3}, {"venue": secondary, "seats": 2}],
        "window_start": kit.WINDOW[0],
        "window_end": kit.WINDOW[1],
        "now": kit.NOW,
    }
    before = kit.state()
    for change, code in [
        ({"actor": parties.supervisor}, "role_not_allowed"),
        ({"actor": parties.tenderee}, "role_not_allowed"),
        ({"lines": [{"specialty_code": "Z99", "count": 5}]}, "unknown_specialty"),
        ({"lines": [{"specialty_code": "A08", "count": 2}, {"specialty_code": "A08", "count": 3}]}, "duplicate_line"),
        ({"venues": [{"venue": main, "seats": 3}, {"venue": secondary, "seats": 1}]}, "seats_mismatch"),
        ({"venues": [{"venue": secondary, "seats": 5}]}, "one_main_venue"),
        ({"venues": [{"venue": main, "seats": 11}]}, "venue_seats"),
        ({"venues": [{"venue": main, "seats": 5}, {"venue": secondary, "seats": 0}]}, "venue_seats"),
        ({"window_start": kit.NOW - timedelta(hours=1)}, "invalid_window"),
        ({"window_end": kit.WINDOW[0]}, "invalid_window"),
        ({"excluded_employers": ["91450102000000001A"]}, "invalid_credit_code"),
        ({"excluded_experts": [999999]}, "unknown_expert"),
    ]:
        with pytest.raises(DomainError) as refused:
            services.draw_request_create(**{**base, **change})
        assert refused.value.code == code, change
    assert kit.state() == before
    services.draw_request_create(**base)
    with pytest.raises(DomainError) as refused:
        services.draw_request_create(**base)
    assert refused.value.code == "draw_request_exists"


def test_run_refusals(parties, lot, pool):
    request = kit.request(parties, lot)
    before = kit.state()
    for kwargs, code in [
        ({"actor": parties.supervisor}, "role_not_allowed"),
        ({"now": kit.WINDOW[0]}, "window_passed"),
    ]:
        with pytest.raises(DomainError) as refused:
            services.draw_run(request=request, **{"actor": parties.staff, "now": kit.NOW, **kwargs})
        assert refused.value.code == code
    assert kit.state() == before
    run(parties, request)
    with pytest.raises(DomainError) as refused:
        run(parties, request)
    assert refused.value.code == "invalid_draw_state"
