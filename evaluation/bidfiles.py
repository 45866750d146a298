"""The opened bids, for the committee: during evaluation only its confirmed members read them (法44: members keep
the bids' contents confidential; 条例49: evaluation only from the bid files). Each read is one audit event."""

from datetime import datetime

from django.utils import timezone
from rest_framework import status

from audit.services import audit_record
from bidding.models import Bid, BidStatus
from evaluation.models import DrawnExpert
from evaluation.selectors import committee_of
from trading.api import DomainError, store_unavailable
from trading.models import Lot, LotStatus
from trading.objectstore import ChunkIterator, ObjectMissing, StoreUnavailable, get_store


def committee_seat(*, lot: Lot, user) -> DrawnExpert | None:
    """The user's confirmed seat on the lot's fixed committee, or None."""
    if not user.is_authenticated:
        return None
    return committee_of(lot.pk).filter(expert__user=user).first()


def _not_found() -> DomainError:
    return DomainError("not_found", "对象不存在或无权查看", "Not found.", status_code=status.HTTP_404_NOT_FOUND)


def _require_reader(*, lot: Lot, user) -> DrawnExpert:
    """Only a confirmed member, only while the lot is being evaluated. Anyone else learns nothing (404)."""
    seat = committee_seat(lot=lot, user=user)
    if seat is None:
        raise _not_found()
    if lot.status != LotStatus.EVALUATING:
        raise DomainError(
            "not_evaluating",
            "标段不在评标阶段，不能查阅投标文件",
            "The lot is not being evaluated: the bid files cannot be read",
            status_code=status.HTTP_409_CONFLICT,
        )
    return seat


def opened_bids(*, lot: Lot, user) -> list[dict]:
    """The lot's opened bids as a member sees them: bidder, size, SHA-256 of the opened file (the audit trail holds
    the same hash, recorded when the worker stored it)."""
    _require_reader(lot=lot, user=user)
    bids = Bid.objects.filter(lot=lot, opening__isnull=False, status=BidStatus.DECRYPTED).select_related("bidder")
    return [
        {
            "bid": str(bid.pk),
            "bidder": bid.bidder.name,
            "credit_code": bid.bidder.credit_code,
            "size": bid.plaintext_size,
            "sha256": bid.plaintext_sha256,
            "stored": bool(bid.plaintext_key),
            "opening_summary": bid.opening_summary,
        }
        for bid in sorted(bids, key=lambda b: b.bidder.credit_code)
    ]


def opened_bid_read(*, lot: Lot, bid_id, user, now: datetime | None = None) -> tuple[Bid, ChunkIterator]:
    """The stored opened file of one of the lot's bids, as a stream from the store, for a member; audited."""
    seat = _require_reader(lot=lot, user=user)
    bid = (
        Bid.objects.filter(pk=bid_id, lot=lot, opening__isnull=False, status=BidStatus.DECRYPTED).select_related("bidder").first()
    )
    if bid is None:
        raise _not_found()
    if not bid.plaintext_key:
        raise DomainError(
            "opened_file_pending",
            "解密后的投标文件仍在保存中，请稍后再试",
            "The opened bid is still being stored; try again shortly",
            status_code=status.HTTP_409_CONFLICT,
        )
    try:
        stream = get_store().iter_chunks(bid.plaintext_key)
    except (StoreUnavailable, ObjectMissing):
        raise store_unavailable() from None
    audit_record(
        action="bid.opened_file_read",
        actor=user,
        object_type="bidding.bid",
        object_id=str(bid.pk),
        lot_id=lot.pk,
        after={"bidder": bid.bidder_id, "member": seat.pk, "sha256": bid.plaintext_sha256},
        now=now or timezone.now(),
    )
    return bid, stream
