"""经评审的最低投标价法 (评标规定30-31): during the price phase the chair records adjustments per bid; the evaluated
prices and the ranking follow them (docs/evaluation.md, "Price adjustments").

Hand-computed table (B is rejected at compliance; A 1,000,000.00 and C 950,000.00 remain):

| bid | price        | adjustments                       | evaluated    | rank |
| A   | 1,000,000.00 | −5,000.50 (付款条件)                | 994,999.50   | 1    |
| C   |   950,000.00 | +60,000.00 (工期), −2,000.00 (质保期) | 1,008,000.00 | 2    |

Without the adjustments C would rank first.
"""

from decimal import Decimal

import pytest
import time_machine

from audit.models import AuditEvent
from evaluation import clarifications as cl
from evaluation.models import Criterion, EvaluationMethod, PriceAdjustment
from realtime.models import RoomEvent
from tests.bidding.opening_kit import client
from tests.evaluation.room import advance, at, refused, score_all, to_scoring


def adjust(room, letter, amount, *, factor="付款条件", reason="按招标文件第三章价格调整办法", actor=None, minute=12):
    return cl.price_adjust(
        session=room.session,
        actor=actor or room.user(0),
        bid_id=room.bids[letter].pk,
        factor=factor,
        amount=amount,
        reason=reason,
        now=at(minute),
    )


@pytest.fixture
def lowest(room):
    EvaluationMethod.objects.filter(lot=room.lot).update(
        kind="lowest_price", technical_weight=0, commercial_weight=0, price_weight=0, price_formula=""
    )
    Criterion.objects.filter(stage__in=["technical", "commercial"]).delete()
    to_scoring(room)
    advance(room, 11)  # no scored criteria: straight to the price phase
    return room


@pytest.mark.django_db
def test_adjustments_give_the_evaluated_prices_and_the_ranking(lowest):
    room = lowest
    a, c = str(room.bids["A"].pk), str(room.bids["C"].pk)
    adjust(room, "C", "60000.00", factor="工期", reason="工期每超出一日按招标文件加价")
    adjust(room, "A", "-5000.50")
    path = f"/api/lots/{room.lot.pk}/evaluation-session/price-adjustments/"
    with time_machine.travel(at(12), tick=False):
        body = {"bid": c, "factor": "质保期", "amount": "-2000.00", "reason": "质保期延长一年按招标文件减价"}
        response = client(room.user(0)).post(path, body, format="json")
    assert response.status_code == 201, response.json()
    price = response.json()["price_result"]
    assert (price["prices"], price["evaluated"]) == (
        {a: "1000000.00", c: "950000.00"},
        {a: "994999.50", c: "1008000.00"},
    )
    assert [(x["factor"], x["amount"]) for x in price["adjustments"][c]] == [("工期", "60000.00"), ("质保期", "-2000.00")]
    assert AuditEvent.objects.filter(action="evaluation.price_adjusted").count() == 3
    assert RoomEvent.objects.filter(kind="price_adjusted").last().payload["evaluated"] == "1008000.00"
    advance(room, 13)
    ranking = room.reload().ranking
    assert [(r["bid"], r["rank"], r["evaluated_price"], r["price"]) for r in ranking] == [
        (a, 1, "994999.50", "1000000.00"),
        (c, 2, "1008000.00", "950000.00"),
    ]
    # After the phase: refused, nothing recorded.
    count = PriceAdjustment.objects.count()
    refused("invalid_phase", adjust, room, "A", "100.00", minute=14)
    assert PriceAdjustment.objects.count() == count


@pytest.mark.django_db
def test_refusals_change_nothing(lowest):
    room = lowest
    before = (room.reload().price_result, AuditEvent.objects.count(), RoomEvent.objects.count())
    assert refused("chair_only", adjust, room, "A", "100.00", actor=room.user(1)).status_code == 403
    for amount in ("0", "0.00", "1.005", "abc", "NaN"):
        refused("invalid_adjustment", adjust, room, "A", amount)
    refused("invalid_adjustment", adjust, room, "A", "100.00", reason=" ")
    refused("invalid_adjustment", adjust, room, "A", "-1000000.00")  # the evaluated price would be 0
    refused("invalid_bid", adjust, room, "B", "100.00")  # rejected at compliance
    assert not PriceAdjustment.objects.exists()
    assert (room.reload().price_result, AuditEvent.objects.count(), RoomEvent.objects.count()) == before


@pytest.mark.django_db
def test_no_adjustments_with_the_comprehensive_method(room):
    to_scoring(room)
    score_all(room, 11)
    advance(room, 12)
    refused("not_lowest_price", adjust, room, "A", "100.00", minute=12)
    assert not PriceAdjustment.objects.exists()
    assert Decimal(room.reload().price_result["scores"][str(room.bids["A"].pk)]) == Decimal("27.44")
