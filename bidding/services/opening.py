"""开标: the remote opening at the bid deadline (法34, 电子办法). docs/architecture.md, "Opening".

At the deadline the sweep starts the opening (opening_start) or fails the lot (条例44). Bidders sign in, unwrap
their data key with their own private key on their own machine (`python -m bidding.client submit-key`) and hand
it in. The server checks the key's commitment, then streams the stored ciphertext through the decryption into a
new object (decrypt_object: constant memory, whatever the bid's size). A bid that fails to decrypt is decided by
who is at fault: if the stored ciphertext still has the SHA-256 on the bidder's receipt, the bidder sealed a bad
file and the bid is revoked (撤销); otherwise the platform damaged it and the bid counts as withdrawn (撤回). The
others continue either way. When the window closes, bids still sealed are revoked, the rescue key is destroyed,
and the opening record is read from each opened ZIP's `opening.json`; staff publish it (PDF), and bidders
confirm it or object on the spot.

The rescue key (补救方案) lives in bidding/services/rescue.py; its decryption path is the one here.
"""

import base64
import contextlib
import hashlib
import io
import json
import logging
import queue
import threading
import uuid
import zipfile
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from rest_framework import status

from audit.context import current_ip
from audit.services import audit_record
from bidding import envelope, pdf
from bidding.models import Bid, BidStatus, Opening, OpeningResponse, OpeningSignIn
from bidding.services import rescue
from bidding.services.bids import PURPOSE as BID_PURPOSE
from notices.ocds import release_opening_record
from realtime import rooms
from realtime.selectors import opening_state, record_path
from realtime.services import push_to_orgs
from trading import rules
from trading.access import is_tenderee_side, require_role
from trading.api import DomainError, store_unavailable
from trading.models import Lot, LotStatus, Role
from trading.objectstore import STREAM_READ, MiB, ObjectMissing, ObjectStore, Raised, StoreUnavailable, get_store, prefetched
from trading.sealing import seal, unseal

logger = logging.getLogger(__name__)

PLAINTEXT_PART_SIZE = 5 * MiB  # S3's minimum part size
READ_SIZE = STREAM_READ  # ciphertext read from the store per request when writing the opened file
VERIFY_BUFFER = MiB  # at the opening: whole sealed chunks per buffer, about this much
VERIFY_DEPTH = 2  # buffers filled ahead of the verification
OPENED_PREFIX = "opened/"
SUMMARY_NAME = "opening.json"  # 开标一览表 inside the bid file (a ZIP)
SUMMARY_MAX = 64 * 1024
EXTENSION_MAX = timedelta(days=7)
IN_FLIGHT = timedelta(minutes=10)  # a decryption whose key was accepted this recently is still running
STORE_RETRY = timedelta(minutes=10)  # an opened file not stored this long after the last attempt is tried again
OPENED_KEY_PURPOSE = "bid-opened-key"
OBJECTION_MAX = 2000
WATCHERS = (Role.STAFF, Role.SUPERVISOR)


def _local(moment: datetime | None) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


# --- Refusals ---------------------------------------------------------------------------------------------------


def _not_found() -> DomainError:
    return DomainError("not_found", "开标不存在或无权查看", "No such opening", status_code=status.HTTP_404_NOT_FOUND)


def _bid_not_found() -> DomainError:
    return DomainError("not_found", "投标文件不存在", "No such bid", status_code=status.HTTP_404_NOT_FOUND)


def _not_opening() -> DomainError:
    return DomainError("not_opening", "该标段当前不在开标阶段", "The lot is not being opened now")


def _decryption_closed(opening: Opening) -> DomainError:
    return DomainError(
        "decryption_closed",
        "解密时间已结束",
        "The decryption window has closed",
        extra={"decryption_deadline": timezone.localtime(opening.decryption_deadline).isoformat()},
    )


def _not_a_bidder() -> DomainError:
    return DomainError(
        "not_a_bidder",
        "贵单位在本标段没有递交投标文件",
        "Your organisation submitted no bid for this lot",
        status_code=status.HTTP_403_FORBIDDEN,
    )


def _not_decryptable(bid: Bid) -> DomainError:
    if bid.status == BidStatus.DECRYPTED:
        return DomainError("already_decrypted", "该投标文件已解密", "This bid has already been decrypted")
    return DomainError(
        "not_decryptable",
        f"该投标文件状态为“{BidStatus(bid.status).label}”，不能解密",
        f"This bid is {bid.status} and cannot be decrypted",
        extra={"bid_status": bid.status},
    )


# --- Start ------------------------------------------------------------------------------------------------------


@transaction.atomic
def opening_start(*, lot: Lot, now: datetime) -> Opening | None:
    """Called when the lot reaches its deadline: fewer valid bids than the rule set's minimum means
    no opening and a failed tender (条例44); otherwise the decryption window starts for the submitted bids."""
    from trading.services import lot_fail

    rule_set = lot.project.rule_set
    submitted = Bid.objects.filter(lot=lot, status=BidStatus.SUBMITTED).count()
    if not rules.enough_bids(rule_set, submitted):
        lot_fail(lot=lot, reason=f"递交投标文件的投标人少于{rule_set.min_bids}个（{submitted}个），不予开标（条例44）", now=now)
        return None
    opening, created = Opening.objects.get_or_create(
        lot=lot,
        defaults={"started_at": now, "decryption_deadline": now + timedelta(minutes=rule_set.decryption_window_minutes)},
    )
    if not created:
        return opening
    Bid.objects.filter(lot=lot, status=BidStatus.SUBMITTED).update(opening=opening)
    audit_record(
        action="opening.started",
        obj=opening,
        lot_id=lot.pk,
        after={"bids": submitted, "decryption_deadline": opening.decryption_deadline},
        now=now,
    )
    _publish(lot.pk, "opening_started", opening_state(lot.pk), now=now)
    push_to_orgs(
        _bidder_ids(opening),
        {
            "type": "opening_started",
            "lot": lot.pk,
            "decryption_deadline": timezone.localtime(opening.decryption_deadline).isoformat(),
        },
    )
    return opening


# --- Who takes part ---------------------------------------------------------------------------------------------


def _bidder_ids(opening: Opening) -> list[int]:
    return sorted(set(Bid.objects.filter(opening=opening).values_list("bidder_id", flat=True)))


def _is_bidder(opening: Opening, user) -> bool:
    return (
        user.role == Role.BIDDER
        and user.organisation_id is not None
        and Bid.objects.filter(opening=opening, bidder_id=user.organisation_id).exists()
    )


def opening_party(opening: Opening, user) -> str | None:
    """Who `user` is at this opening: watcher (staff, supervisors), tenderee (the project's tenderee or agency),
    bidder (a bid in this opening); None for anyone else, who may not see it (the API and the opening hall)."""
    if not getattr(user, "is_authenticated", False):
        return None
    if user.role in WATCHERS:
        return "watcher"
    if is_tenderee_side(user, opening.lot.project):
        return "tenderee"
    if _is_bidder(opening, user):
        return "bidder"
    return None


_party = opening_party


# --- The opening hall (realtime) --------------------------------------------------------------------------------


def _publish(lot_id: int, kind: str, payload: dict, *, audience: rooms.Target = rooms.EVERYONE, now: datetime | None) -> None:
    """One event in the opening hall, in the caller's transaction (sent after commit). The hall shows a party no more
    than opening_view does: everyone the times, counts and the published record; who is who (sign-ins, each bid's
    outcome) only staff and supervisors, and a bidder its own; the responses the staff side (STAFF_SIDE)."""
    rooms.publish(rooms.opening_room(lot_id), kind, payload, audience=audience, now=now)


def _publish_counts(lot_id: int, now: datetime | None) -> None:
    state = opening_state(lot_id)
    counts = ("bids", "signed_in", "sealed", "decrypted", "revoked", "withdrawn")
    _publish(lot_id, "counts", {name: state[name] for name in counts}, now=now)


def _publish_outcome(bid: Bid, *, status: str, actor, via: str, fault: str | None, now: datetime | None) -> None:
    """A bid decided: to the bidder who handed in the key (and the watchers), else to the watchers; then the counts."""
    payload = {
        "bid": str(bid.pk),
        "bidder": bid.bidder.name,
        "status": status,
        "status_label": BidStatus(status).label,
        "via": via,
        "fault": fault,
    }
    to_bidder = actor is not None and actor.role == Role.BIDDER
    _publish(bid.lot_id, "bid_decided", payload, audience=rooms.only(actor) if to_bidder else rooms.WATCHERS, now=now)
    _publish_counts(bid.lot_id, now)


def _opening_of(lot: Lot, *, lock: bool = False) -> Opening:
    qs = Opening.objects.select_related("lot", "lot__project", "lot__project__tenderee")
    if lock:
        qs = qs.select_for_update(of=("self",))
    opening = qs.filter(lot_id=lot.pk).first()
    if opening is None:
        raise _not_found()
    return opening


def _require_lot_opening(opening: Opening) -> None:
    if Lot.objects.filter(pk=opening.lot_id).values_list("status", flat=True).get() != LotStatus.OPENING:
        raise _not_opening()


def _require_window(opening: Opening, now: datetime) -> None:
    _require_lot_opening(opening)
    if opening.decryption_closed_at is not None or now >= opening.decryption_deadline:
        raise _decryption_closed(opening)


# --- Sign-in ----------------------------------------------------------------------------------------------------


@transaction.atomic
def opening_sign_in(*, lot: Lot, actor, now: datetime | None = None) -> tuple[OpeningSignIn, bool]:
    """签到: a bidder with a bid in this opening, while the lot is being opened. Again: the first sign-in stands."""
    now = now or timezone.now()
    require_role(actor, Role.BIDDER)
    opening = _opening_of(lot)
    if not _is_bidder(opening, actor):
        raise _not_a_bidder()
    _require_lot_opening(opening)
    if opening.decryption_closed_at is not None:
        raise _decryption_closed(opening)
    existing = OpeningSignIn.objects.filter(opening=opening, bidder_id=actor.organisation_id).first()
    if existing is not None:
        return existing, False
    ip = current_ip()
    try:
        with transaction.atomic():
            sign_in = OpeningSignIn.objects.create(
                opening=opening, bidder_id=actor.organisation_id, user=actor, signed_in_at=now, ip=ip
            )
    except IntegrityError:  # a second request of the same bidder won the race
        return OpeningSignIn.objects.get(opening=opening, bidder_id=actor.organisation_id), False
    audit_record(
        action="opening.signed_in",
        actor=actor,
        obj=sign_in,
        lot_id=lot.pk,
        after={"bidder": actor.organisation_id, "ip": ip},
        now=now,
    )
    bidder = {"bidder": actor.organisation.name, "signed_in_at": _iso(now)}
    _publish(lot.pk, "bidder_signed_in", bidder, audience=rooms.WATCHERS, now=now)
    _publish_counts(lot.pk, now)
    return sign_in, True


# --- Streaming decryption ---------------------------------------------------------------------------------------


class _PlainReader:
    """read(n) over the plaintext chunks, for store.put: holds at most one chunk."""

    def __init__(self, chunks: Iterable[bytes]):
        self._chunks: Iterator[bytes] = iter(chunks)
        self._pending = memoryview(b"")

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            rest = [bytes(self._pending), *self._chunks]  # the stores always ask for a size
            self._pending = memoryview(b"")
            return b"".join(rest)
        parts = []
        got = 0
        while got < n:
            if not len(self._pending):
                chunk = next(self._chunks, None)
                if chunk is None:
                    break
                self._pending = memoryview(chunk)
                continue
            take = self._pending[: n - got]
            parts.append(take)
            got += len(take)
            self._pending = self._pending[len(take) :]
        return bytes(parts[0]) if len(parts) == 1 else b"".join(parts)

    def finish(self) -> None:
        """The plaintext must end exactly where the header's size says: draining it runs the last checks."""
        if len(self._pending) or any(len(chunk) for chunk in self._chunks):
            raise envelope.EnvelopeError("truncated", "more plaintext than the header's size")


def _delete_quietly(store: ObjectStore, key: str) -> None:
    with contextlib.suppress(StoreUnavailable, ObjectMissing):
        store.delete(key)


def _ciphertext(store: ObjectStore, key: str, read_size: int) -> tuple[Iterator[bytes], Callable[[], None]]:
    """The stored ciphertext, prefetched; and how to release it (the reading thread first, then the connection)."""
    pieces = store.iter_chunks(key, chunk_size=read_size)
    feed = prefetched(pieces)

    def release() -> None:
        feed.close()
        close = getattr(pieces, "close", None)
        if close is not None:
            close()

    return feed, release


_SHORT, _TRAILING, _DONE = object(), object(), object()


class SealedStream:
    """One read of a stored bid: its header first, then, once the key is known, every chunk verified.

    The body is read on a second thread into a few reused buffers that each hold whole sealed chunks, straight
    from the store's socket (store.open_reader), while this thread authenticates each chunk into one reused
    buffer (envelope.chunk_verifier): reading and decrypting overlap, nothing is allocated per read, nothing is
    kept, and memory is a few VERIFY_BUFFER buffers whatever the bid's size."""

    def __init__(self, store: ObjectStore, key: str):
        self._reader = store.open_reader(key)  # ObjectMissing, StoreUnavailable
        self._header: envelope.Header | None = None

    def close(self) -> None:
        self._reader.close()

    def _fill(self, buffer: memoryview) -> int:
        got = 0
        while got < len(buffer):
            n = self._reader.readinto(buffer[got:])
            if not n:
                break
            got += n
        return got

    def _read(self, n: int) -> bytes:
        buffer = bytearray(n)
        return bytes(buffer[: self._fill(memoryview(buffer))])

    def header(self) -> envelope.Header:
        self._header = envelope.read_header(self._read)
        return self._header

    def verify(self, data_key: bytes) -> int:
        """The plaintext size, every chunk authenticated (EnvelopeError: wrong_key, tampered, truncated)."""
        header = self._header
        verify = envelope.chunk_verifier(header, data_key)
        unit = header.chunk_size + envelope.TAG_SIZE
        count = header.chunk_count
        per_buffer = max(1, VERIFY_BUFFER // unit)
        free: queue.Queue = queue.Queue()
        for _ in range(VERIFY_DEPTH + 2):
            free.put(bytearray(per_buffer * unit))
        filled: queue.Queue = queue.Queue()
        stop = threading.Event()

        def pump() -> None:
            left = envelope.body_length(header)
            try:
                while left > 0:
                    while True:
                        if stop.is_set():
                            return
                        try:
                            buffer = free.get(timeout=0.05)
                            break
                        except queue.Empty:
                            continue
                    want = min(len(buffer), left)
                    got = self._fill(memoryview(buffer)[:want])
                    filled.put((buffer, got))
                    left -= got
                    if got < want:
                        filled.put(_SHORT)
                        return
                filled.put(_TRAILING if self._fill(memoryview(bytearray(1))) else _DONE)
            except BaseException as error:  # handed to the verifying thread
                filled.put(Raised(error))

        thread = threading.Thread(target=pump, name="bid-verify-read", daemon=True)
        thread.start()
        index = size = 0
        try:
            while True:
                item = filled.get()
                if item is _DONE:
                    break
                if item is _SHORT:
                    raise envelope.EnvelopeError("truncated", f"the body ends after {index} of {count} chunks")
                if item is _TRAILING:
                    raise envelope.EnvelopeError("truncated", "trailing bytes after the last chunk")
                if isinstance(item, Raised):
                    raise item.error
                buffer, got = item
                view, at = memoryview(buffer), 0
                while at < got:
                    want = unit if index < count - 1 else header.size - (count - 1) * header.chunk_size + envelope.TAG_SIZE
                    if got - at < want:
                        break  # a partial chunk: the body ended early, _SHORT follows
                    size += verify(index, view[at : at + want])
                    at += want
                    index += 1
                free.put(buffer)
        finally:
            stop.set()
            thread.join()
        return size


def verify_stream(stream: SealedStream, data_key: bytes) -> int:
    """What decides a bid at the opening: every chunk of the stream's body authenticated (SealedStream.verify)."""
    return stream.verify(data_key)


def verify_object(store: ObjectStore, source_key: str, data_key: bytes) -> tuple[envelope.Header, int]:
    """(header, plaintext size) of the sealed bid at `source_key`, every chunk authenticated, nothing kept."""
    stream = SealedStream(store, source_key)
    try:
        return stream.header(), verify_stream(stream, data_key)
    finally:
        stream.close()


def decrypt_object(store: ObjectStore, source_key: str, target_key: str, data_key: bytes) -> tuple[envelope.Header, int, str]:
    """Decrypts the sealed bid at `source_key` into `target_key` as a stream, in constant memory.

    Ciphertext is read READ_SIZE at a time (store.iter_chunks, prefetched), decrypted chunk by chunk
    (envelope.open_envelope, which checks the key's commitment before anything) and written by store.put from a
    file-like reader with length = the header's size; the store hashes what it writes. Returns (header, plaintext
    size, SHA-256 hex). Any failure (EnvelopeError: wrong_key, tampered, truncated, not_sealed; the store's errors)
    propagates and leaves nothing at `target_key`.
    """
    feed, release = _ciphertext(store, source_key, READ_SIZE)
    try:
        header, plain = envelope.open_envelope(feed, data_key)
        reader = _PlainReader(plain)
        # Small parts: what decryption holds in memory is about two of them.
        stored = store.put(target_key, reader, length=header.size, part_size=PLAINTEXT_PART_SIZE)
        reader.finish()
    except BaseException:
        _delete_quietly(store, target_key)
        raise
    finally:
        release()
    return header, stored.size, stored.sha256


def _receipt(bid: Bid) -> dict:
    """What the platform's signed receipt said about the stored ciphertext (size, SHA-256)."""
    receipt = unseal(BID_PURPOSE, "", bid.sealed).get("receipt") or {}
    return {"size": receipt.get("size", bid.size), "sha256": receipt.get("sha256", bid.sha256)}


def ciphertext_intact(store: ObjectStore, bid: Bid) -> bool:
    """Whether the stored ciphertext still is what the receipt says: recomputed from the store, never trusted."""
    receipt = _receipt(bid)
    digest = hashlib.sha256()
    total = 0
    try:
        for piece in store.iter_chunks(bid.object_key, chunk_size=READ_SIZE):
            digest.update(piece)
            total += len(piece)
    except ObjectMissing:
        return False
    return total == receipt["size"] and digest.hexdigest() == receipt["sha256"]


class _Failure(Exception):
    """The stored bid cannot be opened: decided by who is at fault (电子办法)."""

    def __init__(self, code: str, zh: str, en: str):
        super().__init__(code)
        self.code, self.zh, self.en = code, zh, en

    @classmethod
    def of(cls, error: envelope.EnvelopeError) -> "_Failure":
        return cls(error.code, error.zh, error.en)


def _decide_failure(store: ObjectStore, bid: Bid, failure: _Failure, *, actor, via: str, now: datetime | None) -> DomainError:
    """Revoked if the stored ciphertext matches the receipt (the bidder sealed a bad file), withdrawn if not
    (the platform damaged it). Returns the error to answer with."""
    try:
        intact = ciphertext_intact(store, bid)
    except StoreUnavailable:
        return store_unavailable()
    now = now or timezone.now()
    if intact:
        decided, fault = BidStatus.REVOKED, "bidder"
        zh = f"投标文件解密失败（{failure.zh}）；存储的密文与回执一致，属投标人原因，投标文件被撤销"
        en = f"Decryption failed ({failure.en}); the stored ciphertext matches the receipt, so the bidder is at fault: the bid is revoked"
    else:
        decided, fault = BidStatus.WITHDRAWN, "platform"
        zh = f"投标文件解密失败（{failure.zh}）；存储的密文与回执不一致，非投标人原因，视为撤回投标文件，开标继续"
        en = (
            f"Decryption failed ({failure.en}); the stored ciphertext no longer matches the receipt, so the bidder is not"
            " at fault: the bid counts as withdrawn and the opening continues"
        )
    with transaction.atomic():
        updated = Bid.objects.filter(pk=bid.pk, status=BidStatus.SUBMITTED).update(status=decided, status_reason=zh)
        if updated == 1:
            audit_record(
                action="bid.decryption_failed",
                actor=actor,
                object_type="bidding.bid",
                object_id=str(bid.pk),
                lot_id=bid.lot_id,
                after={"bidder": bid.bidder_id, "code": failure.code, "via": via, "status": decided, "fault": fault},
                now=now,
            )
            push_to_orgs(
                [bid.bidder_id], {"type": "bid_decryption_failed", "lot": bid.lot_id, "bid": str(bid.pk), "status": decided}
            )
            _publish_outcome(bid, status=decided, actor=actor, via=via, fault=fault, now=now)
    if updated != 1:
        bid.refresh_from_db()
        return _not_decryptable(bid)
    return DomainError(failure.code, zh, en, status_code=422, extra={"bid_status": decided, "fault": fault})


def _open_bid(bid: Bid, *, key_for: Callable[[envelope.Header], bytes], actor, via: str, now: datetime | None) -> Bid:
    """The one decryption path, for the bidder's data key and for the rescue key. `key_for(header)` gives the data
    key or raises DomainError (nothing changes). Failures of the stored bid are decided by fault.

    One read of the stored bid: its header is checked, then every chunk verified (SealedStream), which decides the
    bid; the opened file is written afterwards by a worker (store_opened_file), so the opening goes as fast as
    reading the bid, whatever its size."""
    store = get_store()
    try:
        try:
            stream = SealedStream(store, bid.object_key)
        except ObjectMissing:
            raise _Failure("missing", "存储中找不到投标文件", "the stored bid is missing") from None
        with contextlib.closing(stream):
            try:
                header = stream.header()
            except envelope.EnvelopeError as error:
                raise _Failure.of(error) from None
            if header.digest.hex() != bid.header_sha256:
                raise _Failure("tampered", "信封头与递交时不一致", "the envelope header differs from the one submitted")
            data_key = key_for(header)
            try:  # the header names neither lot nor bidder: with the data key, prove it was sealed for these
                envelope.check_binding(header, data_key, bid.lot.transaction_code, bid.bidder.credit_code)
            except envelope.EnvelopeError as error:
                raise _Failure.of(error) from None
            _accept_key(bid, now)
            try:
                size = verify_stream(stream, data_key)
            except envelope.EnvelopeError as error:
                raise _Failure.of(error) from None
    except _Failure as failure:
        raise _decide_failure(store, bid, failure, actor=actor, via=via, now=now) from None
    except StoreUnavailable:
        raise store_unavailable() from None
    at = now or timezone.now()
    # After its opening the bid is the platform's to read (法36): its key waits, sealed, for the worker.
    opened_key = seal(OPENED_KEY_PURPOSE, str(bid.pk), {"key": base64.b64encode(data_key).decode()})
    with transaction.atomic():
        updated = Bid.objects.filter(pk=bid.pk, status=BidStatus.SUBMITTED).update(
            status=BidStatus.DECRYPTED,
            plaintext_size=size,
            decrypted_at=at,
            decrypted_via=via,
            opened_key_sealed=opened_key,
        )
        if updated == 1:
            audit_record(
                action="bid.decrypted",
                actor=actor,
                object_type="bidding.bid",
                object_id=str(bid.pk),
                lot_id=bid.lot_id,
                after={"bidder": bid.bidder_id, "via": via, "size": size},
                now=at,
            )
            push_to_orgs([bid.bidder_id], {"type": "bid_decrypted", "lot": bid.lot_id, "bid": str(bid.pk)})
            _publish_outcome(bid, status=BidStatus.DECRYPTED, actor=actor, via=via, fault=None, now=at)
    if updated == 1:
        _store_soon(bid.pk)
    bid.refresh_from_db()
    if updated != 1:  # decided meanwhile (the window closed, or another request opened it first)
        raise _not_decryptable(bid)
    return bid


def _store_soon(bid_id) -> None:
    """Hands the opened bid to a worker. A broker that is down, or (eager) a store that fails, leaves the bid
    decrypted with its file pending: opened_files_sweep tries again."""
    from bidding import tasks

    try:
        tasks.store_opened_file.delay(str(bid_id))
    except Exception:
        logger.exception("bid %s: the opened file could not be stored now; the sweep will retry", bid_id)


def store_opened_file(*, bid_id, now: datetime | None = None) -> bool:
    """Writes a decrypted bid's plaintext to `opened/…` for evaluation (run by a worker). Idempotent: returns False
    if there is nothing to do (already stored, or not decrypted). Two runs at once both write; the first to finish
    is kept and the other's object removed. StoreUnavailable propagates (the task retries)."""
    now = now or timezone.now()
    pending = Bid.objects.filter(pk=bid_id, status=BidStatus.DECRYPTED, plaintext_key="", opened_key_sealed__isnull=False)
    if pending.update(store_attempted_at=now) != 1:
        return False
    bid = Bid.objects.get(pk=bid_id)
    data_key = base64.b64decode(unseal(OPENED_KEY_PURPOSE, str(bid.pk), bytes(bid.opened_key_sealed))["key"])
    store = get_store()
    target = f"{OPENED_PREFIX}{uuid.uuid4().hex}"
    try:
        _, size, sha256 = decrypt_object(store, bid.object_key, target, data_key)
    except (envelope.EnvelopeError, ObjectMissing):
        # Verified at the opening, so the stored ciphertext changed since: left pending and loud for the operators.
        logger.error("bid %s: the stored ciphertext no longer decrypts; the opened file cannot be written", bid_id)
        raise
    with transaction.atomic():
        updated = Bid.objects.filter(pk=bid.pk, status=BidStatus.DECRYPTED, plaintext_key="").update(
            plaintext_key=target, plaintext_sha256=sha256, plaintext_size=size, opened_key_sealed=None
        )
        if updated == 1:
            audit_record(
                action="bid.opened_file_stored",
                actor=None,
                object_type="bidding.bid",
                object_id=str(bid.pk),
                lot_id=bid.lot_id,
                after={"bidder": bid.bidder_id, "size": size, "sha256": sha256},
                now=now,
            )
    if updated != 1:
        _delete_quietly(store, target)
    return updated == 1


def opened_files_sweep(*, now: datetime | None = None, batch: int = 50) -> int:
    """Deadline sweep step: hands again to a worker every decrypted bid whose opened file is still not stored
    STORE_RETRY after its decryption or its last attempt (a lost task, a store that was down). Returns how many."""
    now = now or timezone.now()
    stale = now - STORE_RETRY
    due = (
        Bid.objects.filter(status=BidStatus.DECRYPTED, plaintext_key="", opened_key_sealed__isnull=False)
        .filter(models.Q(store_attempted_at__lte=stale) | models.Q(store_attempted_at__isnull=True, decrypted_at__lte=stale))
        .values_list("pk", flat=True)[:batch]
    )
    ids = list(due)
    for bid_id in ids:
        _store_soon(bid_id)
    return len(ids)


def _accept_key(bid: Bid, now: datetime | None) -> None:
    """A correct key handed in while decryption is open: from now on the close waits for this decryption (and counts
    the bid as withdrawn, the platform's fault, if it never finishes). Refused if decryption has closed meanwhile."""
    accepted = Bid.objects.filter(pk=bid.pk, status=BidStatus.SUBMITTED, opening__decryption_closed_at__isnull=True).update(
        key_accepted_at=now or timezone.now()
    )
    if accepted != 1:
        bid.refresh_from_db()
        if bid.status == BidStatus.SUBMITTED:
            raise _decryption_closed(Opening.objects.get(pk=bid.opening_id))
        raise _not_decryptable(bid)


def _owner_org(bid: Bid) -> int | None:
    return unseal(BID_PURPOSE, "", bid.sealed).get("org")


def _decryptable(bid: Bid, now: datetime) -> Opening:
    """The opening that may decrypt this bid now, or the refusal."""
    if bid.opening_id is None:
        lot = Lot.objects.filter(pk=bid.lot_id).first() if bid.lot_id else None
        if lot is None or lot.bid_deadline is None or now < lot.bid_deadline:
            raise DomainError("too_early", "开标尚未开始", "The opening has not started", extra={"bid_status": bid.status})
        raise _not_decryptable(bid)
    opening = Opening.objects.select_related("lot").get(pk=bid.opening_id)
    _require_window(opening, now)
    if bid.status != BidStatus.SUBMITTED:
        raise _not_decryptable(bid)
    return opening


def bid_decrypt(*, bid: Bid, actor, data_key: bytes, now: datetime | None = None) -> Bid:
    """The bidder hands in its data key (unwrapped on its own machine); only its own bid, signed in, in the window.
    A wrong key changes nothing and may be retried."""
    start = now or timezone.now()
    if actor.role != Role.BIDDER or actor.organisation_id is None or _owner_org(bid) != actor.organisation_id:
        raise _bid_not_found()
    if len(data_key) != envelope.KEY_SIZE:
        raise DomainError(
            "invalid_data_key",
            "数据密钥须为32字节（base64 编码）",
            "The data key must be 32 bytes, base64-encoded",
            status_code=400,
        )
    opening = _decryptable(bid, start)
    if not OpeningSignIn.objects.filter(opening=opening, bidder_id=actor.organisation_id).exists():
        raise DomainError(
            "not_signed_in", "请先签到再解密", "Sign in to the opening before decrypting", status_code=status.HTTP_403_FORBIDDEN
        )

    def given(header: envelope.Header) -> bytes:
        try:
            envelope.check_key(header, data_key)
        except envelope.EnvelopeError:
            raise DomainError(
                "wrong_key",
                "密钥与该投标文件不符，请核对私钥后重试",
                "The data key does not match this bid; check the private key and try again",
                status_code=status.HTTP_400_BAD_REQUEST,
            ) from None
        return data_key

    return _open_bid(bid, key_for=given, actor=actor, via="bidder", now=now)


def bid_rescue_decrypt(*, bid: Bid, actor, now: datetime | None = None) -> Bid:
    """Staff open a bid through its rescue recipient once k officers have handed in their shares (补救方案)."""
    start = now or timezone.now()
    if actor.role != Role.STAFF:
        if actor.role == Role.BIDDER and actor.organisation_id is not None and _owner_org(bid) == actor.organisation_id:
            require_role(actor, Role.STAFF)
        raise _bid_not_found()
    opening = _decryptable(bid, start)
    private_key = rescue.rescue_private_key(lot=opening.lot)

    def unwrapped(header: envelope.Header) -> bytes:
        try:
            return envelope.unwrap_key(header, private_key, lot=bid.lot.transaction_code, bidder=bid.bidder.credit_code)
        except envelope.EnvelopeError as error:
            if error.code == "no_recipient":
                raise DomainError(
                    "no_rescue_recipient",
                    "该投标文件未加密给本标段的补救密钥",
                    "This bid was not sealed to the lot's rescue key",
                ) from None
            if error.code == "wrong_envelope":
                raise _Failure.of(error) from None  # the bidder sealed it for another lot or bidder: decided by fault
            raise DomainError(
                "wrong_key",
                "补救密钥无法解开该投标文件的数据密钥",
                "The rescue key does not unwrap this bid's data key",
                status_code=422,
            ) from None

    return _open_bid(bid, key_for=unwrapped, actor=actor, via="rescue", now=now)


# --- The window -------------------------------------------------------------------------------------------------


@transaction.atomic
def opening_extend(*, lot: Lot, actor, until: datetime, reasons: str, now: datetime | None = None) -> Opening:
    """Staff extend the decryption window for a platform fault, with reasons. Allowed until decryption closes."""
    now = now or timezone.now()
    require_role(actor, Role.STAFF)
    if not reasons.strip():
        raise DomainError("reasons_required", "延长解密时限须说明理由", "Extending the window needs reasons", status_code=400)
    if timezone.is_naive(until):
        raise DomainError("invalid_extension", "截止时间须带时区", "The new deadline needs a time zone", status_code=400)
    opening = _opening_of(lot, lock=True)
    _require_lot_opening(opening)
    if opening.decryption_closed_at is not None:
        raise _decryption_closed(opening)
    previous = opening.decryption_deadline
    if until <= now or until <= previous:
        raise DomainError(
            "invalid_extension",
            "延长后的解密截止时间须晚于现在和当前截止时间",
            "The new deadline must be later than now and than the current one",
            status_code=400,
        )
    if until > now + EXTENSION_MAX:
        raise DomainError(
            "invalid_extension", "一次延长不得超过7天", "An extension may not reach more than 7 days ahead", status_code=400
        )
    entry = {"from": previous.isoformat(), "until": until.isoformat(), "reasons": reasons, "by": actor.pk, "at": now.isoformat()}
    Opening.objects.filter(pk=opening.pk).update(decryption_deadline=until, extensions=[*opening.extensions, entry])
    opening.refresh_from_db()
    audit_record(
        action="opening.extended",
        actor=actor,
        obj=opening,
        lot_id=lot.pk,
        before={"decryption_deadline": previous},
        after={"decryption_deadline": until, "reasons": reasons},
        now=now,
    )
    push_to_orgs(
        _bidder_ids(opening),
        {"type": "decryption_extended", "lot": lot.pk, "decryption_deadline": timezone.localtime(until).isoformat()},
    )
    _publish(lot.pk, "decryption_extended", {"decryption_deadline": _iso(until), "reasons": reasons}, now=now)
    return opening


class _InFlight(Exception):
    """A decryption whose key was accepted in the window is still running: the close waits for it."""


def _close(opening_id: int, *, actor, now: datetime, due_only: bool) -> Opening | None:
    """Ends decryption: bids whose bidder handed in no key are revoked, bids whose accepted key never led to a
    finished decryption (a crashed worker) are withdrawn, the rescue key is destroyed, and the record is read
    from the opened bids. One transaction, claimed with a conditional update (safe to run twice, or beside an
    extension). Raises _InFlight, changing nothing, while a decryption started in the window is still running."""
    store = get_store()
    with transaction.atomic():
        claim = Opening.objects.filter(pk=opening_id, decryption_closed_at__isnull=True)
        if due_only:
            claim = claim.filter(decryption_deadline__lte=now)
        if claim.update(decryption_closed_at=now) != 1:
            return None
        opening = Opening.objects.select_related("lot").get(pk=opening_id)
        sealed = list(
            Bid.objects.select_for_update()
            .filter(opening=opening, status=BidStatus.SUBMITTED)
            .values_list("pk", "key_accepted_at")
        )
        if any(accepted is not None and accepted > now - IN_FLIGHT for _, accepted in sealed):
            raise _InFlight
        if Bid.objects.filter(opening=opening, status=BidStatus.DECRYPTED, plaintext_key="").exists():
            raise _InFlight  # the record is read from the opened files: wait until the workers have stored them
        pending = [pk for pk, accepted in sealed if accepted is None]
        lost = [pk for pk, accepted in sealed if accepted is not None]
        Bid.objects.filter(pk__in=pending, status=BidStatus.SUBMITTED).update(
            status=BidStatus.REVOKED, status_reason="解密时限内未解密，属投标人原因，投标文件被撤销"
        )
        Bid.objects.filter(pk__in=lost, status=BidStatus.SUBMITTED).update(
            status=BidStatus.WITHDRAWN, status_reason="数据密钥已按时提交，平台未能完成解密，非投标人原因，视为撤回投标文件"
        )
        destroyed = rescue.rescue_key_destroy(lot=opening.lot, now=now)
        rows = _record_rows(opening, store)
        Opening.objects.filter(pk=opening.pk).update(record=rows)
        opening.refresh_from_db()
        audit_record(
            action="opening.decryption_closed",
            actor=actor,
            obj=opening,
            lot_id=opening.lot_id,
            after={
                "revoked": sorted(str(pk) for pk in pending),
                "withdrawn": sorted(str(pk) for pk in lost),
                "decrypted": sum(1 for row in rows if row["status"] == BidStatus.DECRYPTED),
                "bids": len(rows),
                "rescue_key_destroyed": destroyed,
            },
            now=now,
        )
        push_to_orgs(_bidder_ids(opening), {"type": "decryption_closed", "lot": opening.lot_id})
        decided = [(pk, BidStatus.REVOKED, "bidder") for pk in pending] + [(pk, BidStatus.WITHDRAWN, "platform") for pk in lost]
        named = Bid.objects.select_related("bidder").in_bulk([pk for pk, _, _ in decided])
        for pk, status, fault in decided:
            _publish_outcome(named[pk], status=status, actor=actor, via="close", fault=fault, now=now)
        _publish(opening.lot_id, "decryption_closed", opening_state(opening.lot_id), now=now)
    return opening


@transaction.atomic
def opening_close_decryption(*, lot: Lot, actor, now: datetime | None = None) -> Opening:
    """Staff end decryption: at or after the deadline, or earlier once no bid is still sealed."""
    now = now or timezone.now()
    require_role(actor, Role.STAFF)
    opening = _opening_of(lot)
    _require_lot_opening(opening)
    if opening.decryption_closed_at is not None:
        raise _decryption_closed(opening)
    if now < opening.decryption_deadline and Bid.objects.filter(opening=opening, status=BidStatus.SUBMITTED).exists():
        raise DomainError(
            "bids_pending",
            "仍有投标文件未解密，解密时限届满前不能结束解密",
            "Some bids are still sealed: decryption can end before the deadline only when none is left",
        )
    try:
        closed = _close(opening.pk, actor=actor, now=now, due_only=False)
    except StoreUnavailable:
        raise store_unavailable() from None
    except _InFlight:
        raise DomainError(
            "decryption_in_progress",
            "仍有投标文件正在解密或保存，请稍后再结束解密",
            "A bid is still being decrypted or stored; try again shortly",
        ) from None
    if closed is None:
        raise _decryption_closed(opening)
    return closed


def openings_sweep(*, now: datetime | None = None, batch: int = 200) -> int:
    """Deadline sweep step: closes every decryption window that has ended. Idempotent; returns how many closed.
    An opening whose store is down stays open and is retried by the next sweep."""
    now = now or timezone.now()
    opened_files_sweep(now=now)
    due = Opening.objects.filter(
        decryption_closed_at__isnull=True, decryption_deadline__lte=now, lot__status=LotStatus.OPENING
    ).values_list("pk", flat=True)[:batch]
    closed = 0
    for opening_id in list(due):
        try:
            closed += _close(opening_id, actor=None, now=now, due_only=True) is not None
        except StoreUnavailable:
            logger.warning("opening %s: store unavailable, decryption closes at the next sweep", opening_id)
        except _InFlight:
            logger.info("opening %s: a bid is still being decrypted or stored, decryption closes at the next sweep", opening_id)
    return closed


# --- The record ---------------------------------------------------------------------------------------------------


class StoreFile(io.RawIOBase):
    """A read-only seekable file over a stored object: every read is one ranged read (store.iter_chunks with
    offset and length), so zipfile finds a member without the object ever being fetched whole."""

    def __init__(self, store: ObjectStore, key: str, size: int):
        super().__init__()
        self._store, self._key, self._size, self._pos = store, key, size, 0
        self.requests = 0
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise OSError("negative seek position")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        n = min(len(view), self._size - self._pos)
        if n <= 0:
            return 0
        got = 0
        pieces = self._store.iter_chunks(self._key, chunk_size=n, offset=self._pos, length=n)
        try:
            for piece in pieces:
                view[got : got + len(piece)] = piece
                got += len(piece)
        finally:
            pieces.close()
        self._pos += got
        self.requests += 1
        self.bytes_read += got
        return got


def read_opening_summary(store: ObjectStore, key: str, size: int) -> dict:
    """{"price", "duration_days", "quality"} from `opening.json` in the opened bid (a ZIP), read through ranged
    reads; {"error": ...} when the bid file has no readable summary (shown in the record, decided by no one here)."""
    raw = StoreFile(store, key, size)
    try:
        with zipfile.ZipFile(io.BufferedReader(raw, buffer_size=64 * 1024)) as archive:
            info = archive.getinfo(SUMMARY_NAME)
            if info.file_size > SUMMARY_MAX:
                return {"error": "开标一览表过大"}
            with archive.open(info) as member:
                data = member.read(SUMMARY_MAX + 1)
        fields = json.loads(data.decode("utf-8"))
    except KeyError:
        return {"error": "投标文件中没有开标一览表（opening.json）"}
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        EOFError,
        NotImplementedError,
        RuntimeError,
        UnicodeDecodeError,
        ValueError,
    ):
        return {"error": "开标一览表无法读取"}
    if not isinstance(fields, dict):
        return {"error": "开标一览表格式不符"}
    price, duration, quality = fields.get("price"), fields.get("duration_days"), fields.get("quality")
    if isinstance(price, bool) or not isinstance(price, str | int | float) or str(price).strip() == "":
        return {"error": "开标一览表缺少投标报价"}
    return {
        "price": str(price).strip()[:40],
        "duration_days": duration if type(duration) is int else None,
        "quality": quality.strip()[:100] if isinstance(quality, str) else None,
    }


def _submitted_at(bid: Bid) -> str:
    return unseal(BID_PURPOSE, "", bid.sealed).get("submitted_at", "")


def _record_rows(opening: Opening, store: ObjectStore) -> list[dict]:
    """One row per bid of the opening, in the order the bids were received (then by credit code); the summary read
    from each opened bid."""
    bids = sorted(
        Bid.objects.filter(opening=opening).select_related("bidder"), key=lambda b: (_submitted_at(b), b.bidder.credit_code)
    )
    rows = []
    for number, bid in enumerate(bids, start=1):
        summary = {}
        if bid.status == BidStatus.DECRYPTED:
            summary = read_opening_summary(store, bid.plaintext_key, bid.plaintext_size or 0)
            Bid.objects.filter(pk=bid.pk).update(opening_summary=summary)
        note = summary.get("error", "") if bid.status == BidStatus.DECRYPTED else bid.status_reason
        if bid.decrypted_via == "rescue":
            note = "经补救密钥解密" + (f"；{note}" if note else "")
        rows.append(
            {
                "no": number,
                "bid": str(bid.pk),
                "bidder": bid.bidder.name,
                "credit_code": bid.bidder.credit_code,
                "status": bid.status,
                "status_label": BidStatus(bid.status).label,
                "price": summary.get("price"),
                "duration_days": summary.get("duration_days"),
                "quality": summary.get("quality"),
                "note": note,
            }
        )
    return rows


def _record_pdf(opening: Opening, published_at: datetime) -> bytes:
    lot = opening.lot
    project = lot.project
    heading = pdf.RecordHeading(
        title=f"{lot.name} 开标记录",
        lines=[
            ("项目名称", project.name),
            ("项目编号", project.code),
            ("标段名称", lot.name),
            ("统一交易标识码", lot.transaction_code),
            ("招标人", project.tenderee.name),
            ("开标时间", _local(opening.started_at)),
            ("解密截止时间", _local(opening.decryption_deadline)),
            ("解密结束时间", _local(opening.decryption_closed_at)),
            ("签到投标人", f"{opening.sign_ins.count()} 家"),
        ],
    )

    def cell(value) -> str:
        return "—" if value in (None, "") else str(value)

    rows = [
        [str(r["no"]), r["bidder"], r["status_label"], cell(r["price"]), cell(r["duration_days"]), cell(r["quality"]), r["note"]]
        for r in opening.record
    ]
    footer = [
        f"公布时间：{_local(published_at)}",
        "本记录由电子招标投标交易平台在解密结束后自动生成，投标人可在线确认或当场提出异议。",
    ]
    return pdf.opening_record_pdf(heading, rows, footer, font_path=settings.PDF_CJK_FONT)


def opening_publish_record(*, lot: Lot, actor, now: datetime | None = None) -> Opening:
    """Staff publish the record to every bidder of the opening: a PDF in the store, its SHA-256 on the opening and in
    the audit trail, a push after commit. A PDF that cannot be made (no CJK font) changes nothing."""
    now = now or timezone.now()
    require_role(actor, Role.STAFF)
    opening = _opening_of(lot)
    _require_lot_opening(opening)
    if opening.decryption_closed_at is None:
        raise DomainError("decryption_open", "解密尚未结束，不能公布开标记录", "Decryption has not ended yet")
    if opening.record_published_at is not None:
        raise DomainError("record_published", "开标记录已公布", "The opening record has already been published")
    document = _record_pdf(opening, now)
    sha256 = hashlib.sha256(document).hexdigest()
    key = f"openings/{lot.pk}/record-{uuid.uuid4().hex}.pdf"
    store = get_store()
    try:
        store.put(key, io.BytesIO(document), length=len(document), content_type="application/pdf")
    except StoreUnavailable:
        raise store_unavailable() from None
    with transaction.atomic():
        updated = Opening.objects.filter(
            pk=opening.pk, record_published_at__isnull=True, decryption_closed_at__isnull=False
        ).update(record_published_at=now, record_object_key=key, record_sha256=sha256)
        if updated == 1:
            audit_record(
                action="opening.record_published",
                actor=actor,
                obj=opening,
                lot_id=lot.pk,
                after={"sha256": sha256, "object_key": key, "size": len(document), "rows": opening.record},
                now=now,
            )
            release_opening_record(opening_id=opening.pk)  # the lot's OCDS release (notices/ocds.py)
            push_to_orgs(_bidder_ids(opening), {"type": "opening_record", "lot": lot.pk, "sha256": sha256})
            published = {"published_at": _iso(now), "sha256": sha256, "path": record_path(lot.pk)}
            _publish(lot.pk, "record_published", published, now=now)
    if updated != 1:
        _delete_quietly(store, key)
        raise DomainError("record_published", "开标记录已公布", "The opening record has already been published")
    opening.refresh_from_db()
    return opening


def opening_record_file(*, lot: Lot, user) -> Opening:
    """The opening whose published record PDF `user` may fetch."""
    opening = _opening_of(lot)
    if _party(opening, user) is None:
        raise _not_found()
    if not opening.record_object_key:
        raise DomainError("record_not_published", "开标记录尚未公布", "The opening record is not published yet", status_code=404)
    return opening


@transaction.atomic
def opening_respond(
    *, lot: Lot, actor, confirm: bool = False, objection: str = "", now: datetime | None = None
) -> OpeningResponse:
    """A bidder confirms the published record or objects on the spot; once."""
    now = now or timezone.now()
    require_role(actor, Role.BIDDER)
    opening = _opening_of(lot)
    if not _is_bidder(opening, actor):
        raise _not_a_bidder()
    _require_lot_opening(opening)
    if opening.record_published_at is None:
        raise DomainError("record_not_published", "开标记录尚未公布", "The opening record is not published yet")
    objection = (objection or "").strip()
    if bool(confirm) == bool(objection):
        raise DomainError(
            "invalid_response",
            "须确认开标记录或提出异议（二者选一）",
            "Either confirm the record or object to it",
            status_code=400,
        )
    if len(objection) > OBJECTION_MAX:
        raise DomainError(
            "objection_too_long", f"异议不得超过{OBJECTION_MAX}字", f"At most {OBJECTION_MAX} characters", status_code=400
        )
    kind = OpeningResponse.Kind.OBJECTION if objection else OpeningResponse.Kind.CONFIRM
    try:
        with transaction.atomic():
            response = OpeningResponse.objects.create(
                opening=opening, bidder_id=actor.organisation_id, user=actor, kind=kind, objection=objection, responded_at=now
            )
    except IntegrityError:
        raise DomainError(
            "already_responded", "贵单位已对开标记录作出确认或异议", "Your organisation has already responded"
        ) from None
    audit_record(
        action="opening.responded",
        actor=actor,
        obj=response,
        lot_id=lot.pk,
        after={"bidder": actor.organisation_id, "kind": kind, "objection": objection},
        now=now,
    )
    _publish(lot.pk, "opening_response", _response_view(response), audience=rooms.STAFF_SIDE, now=now)
    return response


@transaction.atomic
def opening_answer_objection(*, response: OpeningResponse, actor, answer: str, now: datetime | None = None) -> OpeningResponse:
    """Staff answer an objection to the opening record on the spot."""
    now = now or timezone.now()
    require_role(actor, Role.STAFF)
    if response.kind != OpeningResponse.Kind.OBJECTION:
        raise DomainError(
            "not_objection", "这是确认，不是异议", "That response is a confirmation, not an objection", status_code=400
        )
    if not answer.strip():
        raise DomainError("answer_required", "答复内容不能为空", "The answer cannot be empty", status_code=400)
    updated = OpeningResponse.objects.filter(pk=response.pk, answered_at__isnull=True).update(
        answer=answer, answered_by=actor, answered_at=now
    )
    if updated != 1:
        raise DomainError("objection_answered", "该异议已答复", "This objection has already been answered")
    response.refresh_from_db()
    lot_id = response.opening.lot_id
    audit_record(action="opening.objection_answered", actor=actor, obj=response, lot_id=lot_id, after={"answer": answer}, now=now)
    push_to_orgs([response.bidder_id], {"type": "opening_objection_answered", "lot": lot_id, "response": response.pk})
    _publish(lot_id, "objection_answered", _response_view(response), audience=rooms.STAFF_SIDE, now=now)
    return response


# --- Reads ------------------------------------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return timezone.localtime(moment).isoformat() if moment else None


def _response_view(response: OpeningResponse) -> dict:
    return {
        "id": response.pk,
        "bidder": response.bidder.name,
        "kind": response.kind,
        "objection": response.objection,
        "responded_at": _iso(response.responded_at),
        "answer": response.answer,
        "answered_at": _iso(response.answered_at),
    }


def opening_view(*, lot: Lot, user) -> dict:
    """The opening as `user` may see it: staff and supervisors everything; the tenderee side the times, counts and the
    published record; a bidder of this opening its own sign-in, bid and response, and the published record.
    Anyone else: 404, as if there were no opening."""
    opening = Opening.objects.select_related("lot", "lot__project").filter(lot_id=lot.pk).first()
    if opening is None:
        raise _not_found()
    party = _party(opening, user)
    if party is None:
        raise _not_found()
    bids = list(Bid.objects.filter(opening=opening).select_related("bidder").order_by("bidder__name"))
    sign_ins = list(opening.sign_ins.select_related("bidder"))
    responses = list(opening.responses.select_related("bidder"))
    published = opening.record_published_at is not None
    view = {
        "lot": lot.pk,
        "lot_name": lot.name,
        "transaction_code": lot.transaction_code,
        "started_at": _iso(opening.started_at),
        "decryption_deadline": _iso(opening.decryption_deadline),
        "decryption_closed_at": _iso(opening.decryption_closed_at),
        "extensions": [
            {
                "until": _iso(datetime.fromisoformat(e["until"])),
                "reasons": e["reasons"],
                "at": _iso(datetime.fromisoformat(e["at"])),
            }
            for e in opening.extensions
        ],
        "bid_count": len(bids),
        "signed_in_count": len(sign_ins),
        "record_published_at": _iso(opening.record_published_at),
        "record_sha256": opening.record_sha256 or None,
        "record": opening.record if published or (party == "watcher" and opening.decryption_closed_at) else None,
    }

    def bid_row(bid: Bid) -> dict:
        return {
            "id": str(bid.pk),
            "bidder": bid.bidder.name,
            "status": bid.status,
            "status_label": BidStatus(bid.status).label,
            "status_reason": bid.status_reason,
            "decrypted_at": _iso(bid.decrypted_at),
            "decrypted_via": bid.decrypted_via,
        }

    if party == "watcher":
        view["bids"] = [bid_row(b) for b in bids]
        view["sign_ins"] = [
            {"bidder": s.bidder.name, "signed_in_at": _iso(s.signed_in_at), "ip": s.ip, "user": s.user_id} for s in sign_ins
        ]
        view["responses"] = [_response_view(r) for r in responses]
    elif party == "tenderee":
        view["responses"] = [_response_view(r) for r in responses] if published else []
    else:
        org = user.organisation_id
        view["bids"] = [bid_row(b) for b in bids if b.bidder_id == org]
        mine = next((s for s in sign_ins if s.bidder_id == org), None)
        view["signed_in_at"] = _iso(mine.signed_in_at) if mine else None
        view["responses"] = [_response_view(r) for r in responses if r.bidder_id == org]
    return view
