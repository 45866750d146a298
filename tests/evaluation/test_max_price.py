"""条例51第五项: a bid priced above the lot's maximum price is rejected when the review is decided, whatever the votes,
and the committee sees it from the start (docs/evaluation.md, "Bids above the maximum price").

Prices of the room: A 1,000,000.00, B 980,000.00, C 950,000.00. With a maximum of 980,000.00, A is above it and B,
equal to it, passes.
"""

from decimal import Decimal

import pytest

from audit.models import AuditEvent
from evaluation import session as ev
from evaluation.models import ReviewResult
from realtime.models import RoomEvent, RoomHead
from tests.bidding.opening_kit import client
from tests.evaluation.room import advance, review, to_qualification
from trading import rules
from trading.models import Lot

MAX = Decimal("980000.00")
REASON_A = "投标报价 1000000.00 元高于最高投标限价 980000.00 元（条例51第五项）"


@pytest.fixture
def capped(evaluating):
    """Sets the maximum price before the `room` fixture starts the session (request it before `room`)."""
    opened, _, _ = evaluating
    Lot.objects.filter(pk=opened.lot.pk).update(max_price=MAX)


def test_the_rule_equal_passes_a_cent_above_fails_no_maximum_no_limit():
    assert rules.above_max_price(price=MAX, max_price=MAX) is None
    assert rules.above_max_price(price=MAX, max_price=None) is None
    breach = rules.above_max_price(price=Decimal("980000.01"), max_price=MAX)
    assert (breach.code, breach.article) == ("above_max_price", "条例51第五项")
    assert breach.zh == "投标报价 980000.01 元高于最高投标限价 980000.00 元（条例51第五项）"


@pytest.mark.django_db
def test_a_bid_above_the_maximum_is_shown_from_the_start_and_rejected_whatever_the_votes(capped, room):
    a, b, c = (str(room.bids[k].pk) for k in "ABC")
    bidder_a = room.bids["A"].bidder.name
    # Shown from the start: in the room state of every snapshot, in the session API, in the start's audit event.
    assert RoomHead.objects.get(room=f"evaluation:{room.lot.pk}").state["above_max_price"] == [a]
    assert AuditEvent.objects.get(action="evaluation.started").after["above_max_price"] == [a]
    shown = client(room.user(1)).get(f"/api/lots/{room.lot.pk}/evaluation-session/").json()["above_max_price"]
    assert shown == [{"bid": a, "bidder": bidder_a, "price": "1000000.00", "max_price": "980000.00", "reason": REASON_A}]

    to_qualification(room)
    # Every member passes A and B; member 4 also fails A for a reason of their own.
    review(room, "qualification", 7, fails={(4, "A"): "资质证书过期"})
    results = {str(r.bid_id): r for r in ReviewResult.objects.filter(session=room.session, phase="qualification")}
    got = {k: (r.passed, r.votes_for, r.votes_against, r.dissenters) for k, r in results.items()}
    assert got == {
        a: (False, 4, 1, []),  # rejected by law: no dissenters, the members' counts kept
        b: (True, 5, 0, []),
        c: (True, 5, 0, []),
    }
    assert results[a].reasons == [
        {"member": room.members[4].pk, "criterion": "Q1", "reason": "资质证书过期"},
        {"criterion": "最高投标限价", "reason": REASON_A, "auto": True},
    ]
    assert results[b].reasons == []
    decided = AuditEvent.objects.get(action="evaluation.review_decided")
    assert decided.after["above_max_price"] == [a]
    event = RoomEvent.objects.get(kind="review_decided")
    assert {r["bid"]: r["passed"] for r in event.payload["results"]} == {a: False, b: True, c: True}
    advance(room, 8)
    assert {str(x.pk) for x in ev.remaining_bids(room.session)} == {b, c}


@pytest.mark.django_db
def test_a_lot_without_maximum_is_unaffected(room):
    assert room.lot.max_price is None
    assert client(room.parties.supervisor).get(f"/api/lots/{room.lot.pk}/evaluation-session/").json()["above_max_price"] == []
    to_qualification(room)
    review(room, "qualification", 7)
    assert set(ReviewResult.objects.filter(session=room.session).values_list("passed", flat=True)) == {True}
    assert all(r.reasons == [] for r in ReviewResult.objects.filter(session=room.session))


@pytest.mark.django_db
def test_without_qualification_criteria_the_compliance_review_rejects_it(capped, room):
    room.crit["Q1"].delete()
    a = str(room.bids["A"].pk)
    to_qualification(room)
    advance(room, 7)  # no qualification criteria: nothing to hand in
    review(room, "compliance", 8)
    result = ReviewResult.objects.get(session=room.session, phase="compliance", bid_id=a)
    assert (result.passed, result.reasons) == (False, [{"criterion": "最高投标限价", "reason": REASON_A, "auto": True}])
