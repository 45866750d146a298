"""开标: the remote opening at the bid deadline (法34, 电子办法)."""

from datetime import datetime, timedelta

from django.db import transaction

from audit.services import audit_record
from bidding.models import Bid, BidStatus, Opening
from trading import rules
from trading.models import Lot


@transaction.atomic
def opening_start(*, lot: Lot, now: datetime) -> Opening | None:
    """Called when the lot reaches its deadline: fewer valid bids than the rule set's minimum means
    no opening and a failed tender (条例44); otherwise the decryption window starts."""
    from trading.services import lot_fail

    rule_set = lot.project.rule_set
    submitted = Bid.objects.filter(lot=lot, status=BidStatus.SUBMITTED).count()
    if not rules.enough_bids(rule_set, submitted):
        lot_fail(lot=lot, reason=f"递交投标文件的投标人少于{rule_set.min_bids}个（{submitted}个），不予开标（条例44）", now=now)
        return None
    opening, _ = Opening.objects.get_or_create(
        lot=lot,
        defaults={"started_at": now, "decryption_deadline": now + timedelta(minutes=rule_set.decryption_window_minutes)},
    )
    audit_record(
        action="opening.started",
        obj=opening,
        lot_id=lot.pk,
        after={"bids": submitted, "decryption_deadline": opening.decryption_deadline},
        now=now,
    )
    return opening
