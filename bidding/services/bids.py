"""Sealed bids: keys, direct multipart upload to the object store, verification, receipts, replacement, withdrawal.

The platform never sees a bid in clear before opening: the bidder's program seals it (bidding/envelope.py),
and the bytes go from the bidder straight to the object store through presigned part URLs. Like enrolments,
a bid row names neither lot nor bidder until the deadline (法22): both sit in `sealed`, found by blind index.
"""

import contextlib
import hashlib
import math
import re
import uuid
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status

from audit.context import current_ip, current_user_agent
from audit.services import audit_record
from bidding import envelope, receipts
from bidding.models import Bid, BidderKey, BidStatus
from bidding.services.enrolment import is_enrolled
from realtime.services import push_to_orgs
from trading.access import require_org, require_role
from trading.api import DomainError, store_unavailable
from trading.models import Lot, LotStatus, Organisation, Role
from trading.objectstore import STREAM_READ, ObjectMissing, StoreUnavailable, get_store, prefetched
from trading.sealing import blind_index, seal, unseal

PURPOSE = "bid"
PART_URL_LIFETIME = timedelta(minutes=30)
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
# Bids are accepted while the lot is open for tenders; the deadline itself is checked on the server's clock.
OPEN_FOR_BIDS = (LotStatus.PUBLISHED, LotStatus.TENDERING)


def bid_index(lot_id: int, org_id: int) -> str:
    return blind_index(PURPOSE, lot_id, org_id)


def _deadline_passed() -> DomainError:
    return DomainError(
        "deadline_passed",
        "投标截止时间已过，不再接受投标文件的递交、修改或撤回（招标投标法第二十八条）",
        "The bid deadline has passed: bids can no longer be submitted, replaced or withdrawn (Tendering Law art. 28)",
    )


# --- Keys -----------------------------------------------------------------------------------------


@transaction.atomic
def bidder_key_register(*, actor, public_key: bytes, expires_at: datetime, now: datetime | None = None) -> BidderKey:
    """Registers a bidder's P-256 public key (its certificate for sealing) until `expires_at`."""
    now = now or timezone.now()
    require_role(actor, Role.BIDDER)
    require_org(actor)
    try:
        spki = envelope.public_key_der(envelope.load_public_key(public_key))
    except ValueError:
        raise DomainError(
            "invalid_public_key", "公钥无效（须为 P-256 公钥）", "Not a valid P-256 public key", status_code=400
        ) from None
    if not now < expires_at <= now + timedelta(days=3 * 366):
        raise DomainError(
            "invalid_expiry", "有效期须在未来三年以内", "The expiry must be in the next three years", status_code=400
        )
    try:
        with transaction.atomic():
            key = BidderKey.objects.create(
                kid=envelope.key_id(spki),
                organisation_id=actor.organisation_id,
                registered_by=actor,
                public_key=spki,
                created_at=now,
                expires_at=expires_at,
            )
    except IntegrityError:
        raise DomainError("key_registered", "该公钥已登记", "This public key is already registered") from None
    audit_record(action="bidder_key.registered", actor=actor, obj=key, after={"kid": key.kid, "expires_at": expires_at}, now=now)
    return key


def bidder_keys(*, actor) -> list[BidderKey]:
    if actor.role != Role.BIDDER or actor.organisation_id is None:
        return []
    return list(BidderKey.objects.filter(organisation_id=actor.organisation_id))


def valid_keys(org_id: int, now: datetime) -> dict[str, BidderKey]:
    keys = BidderKey.objects.filter(organisation_id=org_id, revoked_at__isnull=True, created_at__lte=now, expires_at__gt=now)
    return {key.kid: key for key in keys}


# --- Upload ---------------------------------------------------------------------------------------


def _payload(bid: Bid) -> dict:
    return unseal(PURPOSE, "", bid.sealed)


def _own(bid: Bid, actor) -> dict:
    """The bid's sealed payload, if it is the actor's own; anyone else is told it does not exist."""
    if actor.role == Role.BIDDER and actor.organisation_id is not None:
        payload = _payload(bid)
        if payload["org"] == actor.organisation_id:
            return payload
    raise DomainError("not_found", "投标文件不存在", "No such bid", status_code=status.HTTP_404_NOT_FOUND)


def _open_lot(lot_id: int, now: datetime, *, lock: bool = False) -> Lot:
    qs = Lot.objects.select_related("project")
    lot = (qs.select_for_update(of=("self",)) if lock else qs).get(pk=lot_id)
    if lot.bid_deadline is not None and now >= lot.bid_deadline:
        raise _deadline_passed()
    if lot.status not in OPEN_FOR_BIDS:
        raise DomainError("bids_closed", "该标段当前不接受投标文件", "This lot is not accepting bids now")
    return lot


@transaction.atomic
def bid_start(*, lot: Lot, actor, size: int, sha256: str = "", fingerprint: str = "", now: datetime | None = None) -> Bid:
    """Opens a direct multipart upload for a sealed bid of `size` bytes. The bidder declares its SHA-256 here or,
    having hashed the file while sending it (one read of the file instead of two), when completing."""
    now = now or timezone.now()
    require_role(actor, Role.BIDDER)
    require_org(actor)
    lot = _open_lot(lot.pk, now)
    if not is_enrolled(lot=lot, org_id=actor.organisation_id):
        raise DomainError(
            "not_enrolled", "贵单位未报名该标段", "Your organisation has not enrolled for this lot", status_code=403
        )
    if not valid_keys(actor.organisation_id, now):
        raise DomainError(
            "no_bidder_key", "贵单位没有有效的投标密钥，请先登记公钥", "Register a valid public key first", status_code=400
        )
    if not 0 < size <= settings.BID_MAX_SIZE:
        raise DomainError(
            "invalid_size", "投标文件大小无效", f"The size must be 1..{settings.BID_MAX_SIZE} bytes", status_code=400
        )
    if sha256:
        _check_sha256(sha256)
    index = bid_index(lot.pk, actor.organisation_id)
    if Bid.objects.filter(blind_index=index, status=BidStatus.UPLOADING).exists():
        raise DomainError(
            "upload_in_progress", "已有未完成的上传，请续传或放弃后重试", "An upload is already in progress: resume or abort it"
        )
    key = f"bids/{uuid.uuid4().hex}"
    store = get_store()
    try:
        upload_id = store.multipart_create(key)
    except StoreUnavailable:
        raise store_unavailable() from None
    sealed = seal(
        PURPOSE,
        "",
        {
            "lot": lot.pk,
            "org": actor.organisation_id,
            "user": actor.pk,
            "ip": current_ip(),
            "user_agent": current_user_agent(),
            "fingerprint": fingerprint[:200],
            "started_at": now.isoformat(),
        },
    )
    try:
        with transaction.atomic():
            bid = Bid.objects.create(
                blind_index=index,
                sealed=sealed,
                object_key=key,
                upload_id=upload_id,
                size=size,
                sha256=sha256,
                part_size=settings.BID_PART_SIZE,
            )
    except IntegrityError:
        store.multipart_abort(key, upload_id)
        raise DomainError("upload_in_progress", "已有未完成的上传", "An upload is already in progress") from None
    audit_record(
        action="bid.upload_started",
        actor=actor,
        lot_id=lot.pk,
        object_type="bidding.bid",
        object_id=str(bid.pk),
        after={"size": size},
        sealed=True,
        now=now,
    )
    return bid


def _check_sha256(sha256: str) -> None:
    if not SHA256_HEX.match(sha256):
        raise DomainError("invalid_sha256", "SHA-256 格式无效", "The SHA-256 must be 64 lower-case hex digits", status_code=400)


def _declared(bid: Bid, sha256: str) -> str:
    """The SHA-256 the bidder declared, at the start or now; refused (nothing changes) if missing or declared twice
    differently."""
    if sha256:
        _check_sha256(sha256)
        if bid.sha256 and sha256 != bid.sha256:
            raise DomainError(
                "sha256_differs",
                "与开始上传时声明的 SHA-256 不一致",
                "The SHA-256 differs from the one declared when the upload started",
                status_code=400,
            )
        return sha256
    if not bid.sha256:
        raise DomainError(
            "sha256_required",
            "请声明投标文件（密文）的 SHA-256",
            "Declare the SHA-256 of the sealed bid",
            status_code=400,
        )
    return bid.sha256


def part_count(bid: Bid) -> int:
    return math.ceil(bid.size / bid.part_size)


def _check_part_numbers(bid: Bid, numbers) -> list[int]:
    numbers = sorted(set(numbers))
    if not numbers or numbers[0] < 1 or numbers[-1] > part_count(bid):
        raise DomainError("invalid_part", "分片编号无效", f"Part numbers are 1..{part_count(bid)}", status_code=400)
    return numbers


def _uploading(bid: Bid, actor, now: datetime) -> dict:
    payload = _own(bid, actor)
    if bid.status != BidStatus.UPLOADING:
        raise DomainError("not_uploading", "该投标文件不在上传中", "This bid is not being uploaded")
    _open_lot(payload["lot"], now)
    return payload


def bid_part_urls(*, bid: Bid, actor, part_numbers, now: datetime | None = None) -> list[dict]:
    """Presigned PUT URLs for the given parts (again after a broken connection); None means upload via the API."""
    now = now or timezone.now()
    _uploading(bid, actor, now)
    store = get_store()
    return [
        {"part": n, "url": store.multipart_part_url(bid.object_key, bid.upload_id, n, PART_URL_LIFETIME)}
        for n in _check_part_numbers(bid, part_numbers)
    ]


def bid_upload_part(*, bid: Bid, actor, part_number: int, data: bytes, now: datetime | None = None) -> str:
    """Server-side path for one part, for object stores without presigned URLs (the embedded local disk)."""
    now = now or timezone.now()
    _uploading(bid, actor, now)
    _check_part_numbers(bid, [part_number])
    try:
        return get_store().multipart_upload_part(bid.object_key, bid.upload_id, part_number, data)
    except StoreUnavailable:
        raise store_unavailable() from None


def bid_parts(*, bid: Bid, actor) -> list[dict]:
    """What the store already holds, so a client can resume after a broken connection."""
    _own(bid, actor)
    if bid.status != BidStatus.UPLOADING:
        return []
    try:
        parts = get_store().multipart_list_parts(bid.object_key, bid.upload_id)
    except StoreUnavailable:
        raise store_unavailable() from None
    except ObjectMissing:
        return []
    return [{"part": p.part_number, "etag": p.etag, "size": p.size} for p in parts]


def _reject(bid: Bid, code: str, zh: str, en: str) -> DomainError:
    """Refuses an assembled upload that is not a sealed bid for this lot; the stored bytes are removed."""
    with transaction.atomic():
        Bid.objects.filter(pk=bid.pk, status=BidStatus.UPLOADING).update(status=BidStatus.REJECTED, status_reason=f"{code}: {en}")
        audit_record(
            action="bid.rejected",
            lot_id=None,
            object_type="bidding.bid",
            object_id=str(bid.pk),
            after={"code": code},
            sealed=True,
        )
    with contextlib.suppress(StoreUnavailable):  # a leftover is removed with the lot's bids later
        get_store().delete(bid.object_key)
    return DomainError(code, zh, en, status_code=422)


def _assemble(bid: Bid) -> None:
    store = get_store()
    if store.exists(bid.object_key):
        return  # assembled by an earlier attempt whose verification was interrupted
    try:
        parts = store.multipart_list_parts(bid.object_key, bid.upload_id)
    except ObjectMissing:
        raise DomainError("upload_missing", "上传会话不存在", "The upload no longer exists") from None
    expected = part_count(bid)
    have = {p.part_number for p in parts}
    missing = [n for n in range(1, expected + 1) if n not in have]
    if missing or sum(p.size for p in parts) != bid.size:
        raise DomainError(
            "upload_incomplete",
            "投标文件尚未完整上传",
            "The upload is incomplete",
            extra={"missing_parts": missing, "uploaded_bytes": sum(p.size for p in parts)},
        )
    store.multipart_complete(bid.object_key, bid.upload_id, [(p.part_number, p.etag) for p in parts])


def _verify(bid: Bid, sha256: str) -> envelope.Header:
    """Reads the assembled object back: size, SHA-256 (`sha256`, the declared one) and the envelope header are
    checked, not trusted."""
    store = get_store()
    digest = hashlib.sha256()
    head = bytearray()
    total = 0
    pieces = store.iter_chunks(bid.object_key, chunk_size=STREAM_READ)
    feed = prefetched(pieces)  # hashing overlaps the next read
    try:
        for piece in feed:
            digest.update(piece)
            total += len(piece)
            if len(head) < envelope.MAX_PREFIX:
                head += piece[: envelope.MAX_PREFIX - len(head)]
    finally:
        feed.close()
        pieces.close()
    if total != bid.size:
        raise _reject(bid, "size_mismatch", "投标文件大小与声明不符", f"Stored {total} bytes, declared {bid.size}")
    if digest.hexdigest() != sha256:
        raise _reject(
            bid, "hash_mismatch", "投标文件 SHA-256 与声明不符", "The SHA-256 of the stored bytes differs from the declared one"
        )
    view = memoryview(bytes(head))
    position = 0

    def read(n: int) -> bytes:
        nonlocal position
        chunk = bytes(view[position : position + n])
        position += len(chunk)
        return chunk

    try:
        header = envelope.read_header(read)
    except envelope.EnvelopeError as error:
        raise _reject(
            bid,
            "not_sealed",
            f"不是按平台格式加密的投标文件：{error.zh}",
            f"Not a sealed bid in the platform's format: {error.en}",
        ) from None
    # The envelope names neither lot, bidder nor key (a store reader must not learn them): that it was sealed
    # for this lot and bidder is proved at opening, with the data key (envelope.check_binding).
    if header.envelope_size != bid.size:
        raise _reject(bid, "size_mismatch", "信封长度与文件大小不符", "The envelope's length does not match the file size")
    return header


def bid_complete(*, bid: Bid, actor, sha256: str = "", now: datetime | None = None) -> dict:
    """Assembles and verifies the upload, then decides on the server's clock, under the lot's row lock,
    whether it came before the deadline (法28). Returns the signed receipt (电子办法: 回执). `sha256`: the declared
    SHA-256, if the bidder did not declare it at the start. `now` is for the demo loader and tests only; the API
    never passes it."""
    start = now or timezone.now()
    payload = _uploading(bid, actor, start)
    sha256 = _declared(bid, sha256)
    lot = Lot.objects.get(pk=payload["lot"])
    try:
        _assemble(bid)
        header = _verify(bid, sha256)
    except StoreUnavailable:
        raise store_unavailable() from None
    org = Organisation.objects.get(pk=payload["org"])
    replaced = []
    with transaction.atomic():
        lot = Lot.objects.select_for_update().get(pk=lot.pk)
        now = now or timezone.now()  # the decision: taken after the lock, inside the transaction
        if now >= lot.bid_deadline or lot.status not in OPEN_FOR_BIDS:
            refusal = (
                _deadline_passed()
                if now >= lot.bid_deadline
                else DomainError("bids_closed", "该标段当前不接受投标文件", "This lot is not accepting bids now")
            )
        else:
            refusal = None
            for old in Bid.objects.select_for_update().filter(blind_index=bid.blind_index, status=BidStatus.SUBMITTED):
                Bid.objects.filter(pk=old.pk).update(status=BidStatus.REPLACED, status_reason=f"replaced by {bid.pk}")
                replaced.append(old.object_key)
            receipt = receipts.sign(
                {
                    "type": "trading-bid-receipt",
                    "version": 1,
                    "bid": str(bid.pk),
                    "lot": lot.transaction_code,
                    "bidder": org.credit_code,
                    "received_at": now.astimezone(UTC).isoformat(),
                    "size": bid.size,
                    "sha256": sha256,
                    "header_sha256": header.digest.hex(),
                },
                receipts.platform_private_key(),
            )
            updated = Bid.objects.filter(pk=bid.pk, status=BidStatus.UPLOADING).update(
                status=BidStatus.SUBMITTED,
                sha256=sha256,
                header_sha256=header.digest.hex(),
                upload_id="",
                sealed=seal(PURPOSE, "", {**payload, "submitted_at": now.isoformat(), "receipt": receipt}),
            )
            if updated != 1:
                raise DomainError("not_uploading", "该投标文件不在上传中", "This bid is not being uploaded")
            audit_record(
                action="bid.submitted",
                actor=actor,
                lot_id=lot.pk,
                object_type="bidding.bid",
                object_id=str(bid.pk),
                after={"size": bid.size, "sha256": sha256, "replaced": len(replaced)},
                sealed=True,
                now=now,
            )
            transaction.on_commit(lambda: _delete_objects(replaced))
    if refusal is not None:
        # Not completely transmitted by the deadline: it counts as withdrawn (电子办法), and its bytes go.
        _withdraw(bid, reason="deadline", actor=actor, now=now)
        raise refusal
    return receipt


def _delete_objects(keys) -> None:
    store = get_store()
    for key in keys:
        with contextlib.suppress(StoreUnavailable):
            store.delete(key)


def _withdraw(bid: Bid, *, reason: str, actor, now: datetime) -> None:
    with transaction.atomic():
        updated = Bid.objects.filter(pk=bid.pk, status__in=[BidStatus.UPLOADING, BidStatus.SUBMITTED]).update(
            status=BidStatus.WITHDRAWN, status_reason=reason
        )
        if updated != 1:
            return
        audit_record(
            action="bid.withdrawn",
            actor=actor,
            object_type="bidding.bid",
            object_id=str(bid.pk),
            after={"reason": reason},
            sealed=True,
            now=now,
        )
    store = get_store()
    try:
        if bid.upload_id:
            store.multipart_abort(bid.object_key, bid.upload_id)
        store.delete(bid.object_key)
    except StoreUnavailable:
        pass  # the row says withdrawn; the deadline sweep removes leftovers


def bid_withdraw(*, bid: Bid, actor, now: datetime | None = None) -> None:
    """Before the deadline only the bidder may withdraw its own bid or abandon an upload (法29)."""
    payload = _own(bid, actor)
    if bid.status not in (BidStatus.UPLOADING, BidStatus.SUBMITTED):
        raise DomainError("not_withdrawable", "该投标文件不能撤回", "This bid cannot be withdrawn")
    with transaction.atomic():
        lot = Lot.objects.select_for_update().get(pk=payload["lot"])
        now = now or timezone.now()
        if now >= lot.bid_deadline:
            raise _deadline_passed()
    _withdraw(bid, reason="by bidder", actor=actor, now=now)


def bid_view(bid: Bid, payload: dict) -> dict:
    lot = Lot.objects.only("transaction_code", "name", "bid_deadline").get(pk=payload["lot"])
    return {
        "id": str(bid.pk),
        "lot": payload["lot"],
        "lot_name": lot.name,
        "transaction_code": lot.transaction_code,
        "bid_deadline": timezone.localtime(lot.bid_deadline).isoformat(),
        "status": bid.status,
        "size": bid.size,
        "sha256": bid.sha256,
        "part_size": bid.part_size,
        "parts": part_count(bid),
        "receipt": payload.get("receipt"),
        # After the opening: the decrypted file has been stored for evaluation (written by a worker).
        "opened_file_stored": bool(bid.plaintext_key),
    }


def bid_detail(*, bid: Bid, actor) -> dict:
    return bid_view(bid, _own(bid, actor))


def my_bids(*, actor) -> list[dict]:
    """A bidder's own bids: by blind index on lots still before their deadline, by name after it."""
    if actor.role != Role.BIDDER or actor.organisation_id is None:
        return []
    open_lots = Lot.objects.filter(docs_issued_at__isnull=False, enrolments_unsealed_at__isnull=True).values_list("pk", flat=True)
    indexes = [bid_index(lot_id, actor.organisation_id) for lot_id in open_lots]
    sealed = Bid.objects.filter(blind_index__in=indexes, lot__isnull=True)
    named = Bid.objects.filter(bidder_id=actor.organisation_id)
    return [bid_view(bid, _payload(bid)) for bid in (sealed | named).exclude(status=BidStatus.REJECTED)]


# --- At the deadline ----------------------------------------------------------------------------


def bids_unseal(*, lot: Lot, now: datetime) -> dict:
    """Names the lot and bidder on every bid of the lot; half-finished uploads count as withdrawn (电子办法)."""
    from bidding.models import Enrolment

    counts = {"submitted": 0, "withdrawn": 0}
    for org_id in Enrolment.objects.filter(lot=lot).values_list("bidder_id", flat=True):
        for bid in Bid.objects.filter(blind_index=bid_index(lot.pk, org_id), lot__isnull=True):
            payload = _payload(bid)
            Bid.objects.filter(pk=bid.pk).update(
                lot=lot, bidder_id=org_id, uploaded_from=payload.get("ip"), client_fingerprint=payload.get("fingerprint", "")
            )
            if bid.status == BidStatus.UPLOADING:
                _withdraw(bid, reason="incomplete at the deadline", actor=None, now=now)
                counts["withdrawn"] += 1
            elif bid.status == BidStatus.SUBMITTED:
                counts["submitted"] += 1
    audit_record(action="bids.unsealed", obj=lot, lot_id=lot.pk, after=counts, now=now)
    push_to_orgs(Enrolment.objects.filter(lot=lot).values_list("bidder_id", flat=True), {"type": "deadline", "lot": lot.pk})
    return counts
