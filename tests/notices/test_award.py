"""The award (定标, 条例55): the first candidate of the ranking unless staff name another candidate with the reason;
a bid that is not a candidate is never the winner. Refusals leave nothing behind."""

from datetime import timedelta

import pytest
import time_machine

from audit.models import AuditEvent
from notices import letters
from notices.models import Letter, Notice
from tests.bidding.opening_kit import client
from tests.evaluation import kit
from tests.trading.publicity_kit import evaluation_done, ranking_of
from trading import services
from trading.api import DomainError
from trading.models import LotStatus


@pytest.fixture
def awarded(parties, tmp_path, db):
    """Three decrypted bids; the ranking names two candidates (C first, A second): B's bid is not a candidate."""
    kit.specialties()
    opened, _, _ = kit.evaluating_lot(parties, tmp_path)
    lot = opened.lot
    a, b, c = (opened.bid(k) for k in opened.kits)
    evaluation_done(parties, lot, at=kit.NOW + timedelta(hours=20), ranking=ranking_of(lot, [c, a]))
    with time_machine.travel(kit.NOW + timedelta(days=1), tick=False):
        services.lot_start_publicity(lot=lot, actor=parties.staff)
    lot.refresh_from_db()
    with time_machine.travel(lot.publicity_end + timedelta(minutes=1), tick=False):
        services.sweep_deadlines()
    lot.refresh_from_db()
    assert lot.status == LotStatus.AWARDED
    return lot, {"A": a, "B": b, "C": c}


def nothing_issued():
    return not Letter.objects.exists() and not Notice.objects.filter(kind="result").exists()


def issued_event(lot):
    return AuditEvent.objects.get(action="lot.letters_issued", lot_id=lot.pk)


@pytest.mark.django_db
def test_the_first_candidate_wins_by_default(parties, awarded):
    lot, bids = awarded
    response = client(parties.staff).post(f"/api/lots/{lot.pk}/award-letters/", {}, format="json")
    assert response.status_code == 201, response.json()
    award = Letter.objects.get(lot=lot, kind="award")
    assert award.recipient == bids["C"].bidder
    assert Letter.objects.filter(lot=lot, kind="result").count() == 2
    event = issued_event(lot)
    assert (event.after["bid"], event.after["rank"], event.after["reason"]) == (str(bids["C"].pk), 1, "")
    notice = Notice.objects.get(lot=lot, kind="result")
    assert f"中标人：{bids['C'].bidder.name}" in notice.body and "理由" not in notice.body


@pytest.mark.django_db
def test_naming_the_first_candidate_needs_no_reason(parties, awarded):
    lot, bids = awarded
    made = letters.award_letters_issue(lot=lot, winner_bid=bids["C"].pk, actor=parties.staff)
    assert [x.recipient for x in made if x.kind == "award"] == [bids["C"].bidder]


@pytest.mark.django_db
def test_another_candidate_needs_the_reason(parties, awarded):
    lot, bids = awarded
    path = f"/api/lots/{lot.pk}/award-letters/"
    for reason in ("", "   "):
        response = client(parties.staff).post(path, {"winner_bid": str(bids["A"].pk), "reason": reason}, format="json")
        assert (response.status_code, response.json()["code"]) == (400, "reason_required")
        assert "条例55" in response.json()["message"]["zh-hans"]
    assert nothing_issued()

    reason = "排名第一的中标候选人放弃中标"
    response = client(parties.staff).post(path, {"winner_bid": str(bids["A"].pk), "reason": reason}, format="json")
    assert response.status_code == 201, response.json()
    assert Letter.objects.get(lot=lot, kind="award").recipient == bids["A"].bidder
    event = issued_event(lot)
    assert (event.after["bid"], event.after["rank"], event.after["reason"], event.actor_id) == (
        str(bids["A"].pk),
        2,
        reason,
        parties.staff.pk,
    )
    assert f"中标人为排名第2的中标候选人，理由：{reason}" in Notice.objects.get(lot=lot, kind="result").body


@pytest.mark.django_db
def test_a_bid_that_is_not_a_candidate_never_wins(parties, awarded):
    lot, bids = awarded
    with pytest.raises(DomainError) as error:
        letters.award_letters_issue(lot=lot, winner_bid=bids["B"].pk, reason="第一、第二中标候选人均放弃", actor=parties.staff)
    assert (error.value.code, error.value.status_code) == ("not_a_candidate", 422)
    response = client(parties.staff).post(
        f"/api/lots/{lot.pk}/award-letters/",
        {"winner_bid": "00000000-0000-0000-0000-000000000000", "reason": "x"},
        format="json",
    )
    assert (response.status_code, response.json()["code"]) == (400, "invalid_winner")
    assert nothing_issued()
    assert not AuditEvent.objects.filter(action="lot.letters_issued").exists()


@pytest.mark.django_db
def test_the_candidates_are_listed_once_published(parties, tmp_path):
    """GET /api/lots/{id}/candidates/: empty while evaluating (the ranking stays with the committee), the ranking's
    first places from publicity on, for staff and a bidder alike."""
    kit.specialties()
    opened, _, _ = kit.evaluating_lot(parties, tmp_path)
    lot = opened.lot
    a, _, c = (opened.bid(k) for k in opened.kits)
    evaluation_done(parties, lot, at=kit.NOW + timedelta(hours=20), ranking=ranking_of(lot, [c, a]))
    path = f"/api/lots/{lot.pk}/candidates/"
    assert client(parties.staff).get(path).json() == []
    with time_machine.travel(kit.NOW + timedelta(days=1), tick=False):
        services.lot_start_publicity(lot=lot, actor=parties.staff)
    for user in (parties.staff, parties.bidders[0]):
        listed = client(user).get(path).json()
        assert [(row["bid"], row["rank"]) for row in listed] == [(str(c.pk), 1), (str(a.pk), 2)]
