"""The transactional outbox of the regional link (docs/regional-exchange.md).

Writing: `on_audit_event` runs inside `audit_record`, so a push is stored in the same transaction as the lifecycle
change it reports (a rolled-back change leaves no push); every published notice is audited too (notice_create).
Each push gets the lot's next `seq` and is signed with the centre's Ed25519 key. No lock of its own: audit_record
holds the AuditHead row lock until the transaction ends, so pushes are numbered one transaction at a time and in
commit order. (Locking the lot here, after the head, would invert the services' lot-then-head order: deadlock.)

Delivering: `deliver_lot` sends a lot's pending pushes strictly in `seq` order, one HTTP POST each, and stops at the
first failure, which is retried with exponential backoff (`retry_delay`) for as long as it takes: nothing is dropped.
The receiver deduplicates on the delivery id, so a push whose answer was lost is simply sent again. After commit a
Celery task is queued; if the broker is down the periodic `deliver_due` (beat) finds the pushes later anyway."""

import base64
import http.client
import json
import logging
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from bidding.receipts import canonical, platform_private_key, public_key_id
from trading.regional import payloads

log = logging.getLogger(__name__)

PATH = "/api/v1/deliveries"


def retry_delay(attempts: int) -> timedelta:
    """10 s, 20 s, 40 s ... capped at REGIONAL_RETRY_MAX_SECONDS (10 min by default)."""
    return timedelta(seconds=min(10 * 2 ** max(attempts - 1, 0), settings.REGIONAL_RETRY_MAX_SECONDS))


def _enqueue(lot, table: str, event: str, data: dict, at: datetime) -> None:
    """Only ever called under audit_record's AuditHead lock (see above): that lock makes seq gap-free."""
    from trading.models import RegionalMessage

    last = RegionalMessage.objects.filter(lot=lot).order_by("-seq").values_list("seq", flat=True).first() or 0
    delivery = uuid.uuid4()
    envelope = {
        "spec": payloads.SPEC_VERSION,
        "delivery_id": str(delivery),
        "centre": settings.CENTRE_CODE,
        "lot": lot.transaction_code,
        "seq": last + 1,
        "table": table,
        "event": event,
        "occurred_at": payloads.iso(at),
        "data": data,
    }
    body = canonical(envelope)
    key = platform_private_key()
    RegionalMessage.objects.create(
        id=delivery,
        lot=lot,
        seq=last + 1,
        table=table,
        event=event,
        body=body.decode(),
        signature=base64.b64encode(key.sign(body)).decode(),
        next_attempt_at=at,
        created_at=at,
    )
    transaction.on_commit(lambda: _kick(lot.pk))


def on_audit_event(event) -> None:
    """audit_record's hook: the tables its action pushes (payloads.ACTION_TABLES), built from the state right now;
    a published notice (action notice.<kind>.published) pushes itself."""
    if event.action.startswith("notice.") and event.action.endswith(".published"):
        from notices.models import Notice

        notice = Notice.objects.select_related("lot").get(pk=event.object_id)
        _enqueue(notice.lot, "notice", event.action, payloads.notice(notice), event.at)
        return
    tables = payloads.ACTION_TABLES.get(event.action)
    if not tables or event.lot_id is None:
        return
    from trading.models import Lot

    lot = (
        Lot.objects.select_related("project__tenderee", "project__agency", "project__rule_set", "retender_of")
        .filter(pk=event.lot_id)
        .first()
    )
    if lot is None:  # an entry about a lot that is not (or no longer) here: nothing to report
        return
    for table in tables:
        data = payloads.build(table, lot, event)
        if data is not None:
            _enqueue(lot, table, event.action, data, event.at)


def _kick(lot_id: int) -> None:
    from trading.tasks import deliver_regional_lot

    if not settings.REGIONAL_URL:
        return
    try:
        deliver_regional_lot.delay(lot_id)
    except Exception:  # the broker is down: deliver_due (beat) picks the pushes up later
        log.warning("regional: could not queue delivery of lot %s; the periodic sweep will", lot_id, exc_info=True)


class Rejected(Exception):
    """The receiver answered, but not with success: kept for the retry, with its answer."""


def _post(message) -> None:
    request = urllib.request.Request(  # noqa: S310 (REGIONAL_URL is checked to be http(s) in settings)
        settings.REGIONAL_URL.rstrip("/") + PATH,
        data=message.body.encode(),
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "X-Regional-Signature": message.signature,
            "X-Regional-Key": public_key_id(platform_private_key().public_key()),
            "X-Regional-Delivery": str(message.id),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.REGIONAL_TIMEOUT) as response:  # noqa: S310
            answer = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        raise Rejected(f"HTTP {error.code}: {error.read()[:300].decode(errors='replace')}") from None
    except http.client.HTTPException as error:  # a cut or garbled answer (IncompleteRead, BadStatusLine): not an OSError
        raise Rejected(f"broken answer: {error!r}"[:300]) from None
    if not isinstance(answer, dict) or answer.get("delivery_id") != str(message.id):
        raise Rejected(f"unexpected answer: {str(answer)[:300]}")


def deliver_lot(lot_id: int, *, now: datetime | None = None) -> int:
    """Send the lot's due pushes in order; returns how many were acknowledged. Only one worker sends a lot at a time
    (the first pending row is locked, others skip); the row stays locked while its POST is under way."""
    from trading.models import RegionalMessage

    if not settings.REGIONAL_URL:
        return 0
    sent = 0
    while True:
        moment = now or timezone.now()
        with transaction.atomic():
            message = (
                RegionalMessage.objects.select_for_update(skip_locked=True)
                .filter(lot_id=lot_id, status=RegionalMessage.Status.PENDING)
                .order_by("seq")
                .first()
            )
            if message is None or message.next_attempt_at > moment:
                return sent
            # Never overtake: an earlier push still locked by another worker is not yet delivered.
            if RegionalMessage.objects.filter(lot_id=lot_id, seq__lt=message.seq, status="pending").exists():
                return sent
            message.attempts += 1
            try:
                _post(message)
            except (Rejected, OSError, ValueError) as error:
                message.last_error = str(error)[:1000] or error.__class__.__name__
                message.next_attempt_at = moment + retry_delay(message.attempts)
                message.save(update_fields=["attempts", "last_error", "next_attempt_at"])
                log.info("regional: lot %s seq %s not delivered: %s", lot_id, message.seq, message.last_error)
                return sent
            message.status = RegionalMessage.Status.DELIVERED
            message.delivered_at = moment
            message.last_error = ""
            message.save(update_fields=["attempts", "status", "delivered_at", "last_error"])
            sent += 1


def deliver_due(*, now: datetime | None = None, batch: int = 200) -> int:
    """The periodic sweep: every lot whose first pending push is due."""
    from trading.models import RegionalMessage

    if not settings.REGIONAL_URL:
        return 0
    moment = now or timezone.now()
    lots = (
        RegionalMessage.objects.filter(status=RegionalMessage.Status.PENDING, next_attempt_at__lte=moment)
        .order_by("lot_id")
        .values_list("lot_id", flat=True)
        .distinct()[:batch]
    )
    sent = 0
    for lot_id in list(lots):
        try:
            sent += deliver_lot(lot_id, now=now)
        except Exception:  # one lot's fault (say, a row that cannot be read) must not hold back the others
            log.exception("regional: delivering lot %s failed", lot_id)
    return sent


@transaction.atomic
def resend(*, message, actor, now: datetime | None = None):
    """Staff send a push again (the receiver answers a known delivery id as a duplicate), or hurry a pending one."""
    from audit.services import audit_record
    from trading.access import require_role
    from trading.models import RegionalMessage, Role

    require_role(actor, Role.STAFF)
    moment = now or timezone.now()
    # Locked: waits for a delivery of this row under way, so `before` is the status it really had.
    before = RegionalMessage.objects.select_for_update().values_list("status", flat=True).get(pk=message.pk)
    RegionalMessage.objects.filter(pk=message.pk).update(
        status=RegionalMessage.Status.PENDING, next_attempt_at=moment, delivered_at=None
    )
    audit_record(
        action="regional.resent",
        actor=actor,
        obj=message,
        lot_id=message.lot_id,
        before={"status": before},
        after={"seq": message.seq, "table": message.table},
        now=moment,
    )
    transaction.on_commit(lambda: _kick(message.lot_id))
    message.refresh_from_db()
    return message
