"""Writes of the supervision app: the scan that turns the rules' findings into alerts, and a supervisor resolving one.

Nothing here changes a lot, a bid or anything else the lifecycle owns: the app only watches (DOMAIN.md, 监督人员).
"""

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status

from audit.services import audit_record
from supervision import rules
from supervision.models import LEVEL_RANK, Alert
from trading.access import require_role
from trading.api import DomainError
from trading.models import Role
from trading.rules import LOCAL


def _evidence(alert: Alert) -> dict:
    return {"rule": alert.rule, "level": alert.level, "key": alert.key, "subject": alert.subject, "details": alert.details}


def _record(finding: rules.Finding, *, now: datetime) -> str:
    """Creates the finding's alert, or refreshes the existing one; returns "created", "escalated" or "seen".

    Safe against a second scan at the same time: the unique constraint decides who creates, the other one then
    updates under the row's lock."""
    match = {"rule": finding.rule, "lot_id": finding.lot_id, "key": finding.key}
    alert = Alert.objects.select_for_update().filter(**match).first()
    if alert is None:
        try:
            with transaction.atomic():
                alert = Alert.objects.create(
                    **match,
                    level=finding.level,
                    subject=finding.subject,
                    details=finding.details,
                    message_zh=finding.zh,
                    message_en=finding.en,
                    first_seen=now,
                    last_seen=now,
                )
        except IntegrityError:
            alert = Alert.objects.select_for_update().get(**match)
        else:
            audit_record(action="supervision.alert_raised", obj=alert, lot_id=alert.lot_id, after=_evidence(alert), now=now)
            return "created"
    # The evidence as it stands now (an overrun grows); a level only rises; last_seen never goes back.
    escalated = LEVEL_RANK[finding.level] > LEVEL_RANK[alert.level]
    fields = {
        "subject": finding.subject,
        "details": finding.details,
        "message_zh": finding.zh,
        "message_en": finding.en,
        "last_seen": max(alert.last_seen, now),
    }
    if escalated:
        fields["level"] = finding.level
        if alert.resolved_at is not None:
            # Resolved while yellow and now red: back in front of the supervisors. The resolution stays in the audit
            # trail and in the details.
            fields["details"] = {
                **finding.details,
                "reopened_from": {
                    "resolved_at": alert.resolved_at.astimezone(LOCAL).isoformat(),
                    "resolved_by": alert.resolved_by_id,
                    "note": alert.resolution_note,
                },
            }
            fields.update(resolved_at=None, resolved_by=None, resolution_note="")
    before = {"level": alert.level, "resolved_at": alert.resolved_at}
    Alert.objects.filter(pk=alert.pk).update(**fields)
    if escalated:
        alert.refresh_from_db()
        audit_record(
            action="supervision.alert_escalated",
            obj=alert,
            lot_id=alert.lot_id,
            before=before,
            after={**_evidence(alert), "resolved_at": alert.resolved_at},
            now=now,
        )
        return "escalated"
    return "seen"


def scan(*, now: datetime | None = None) -> dict:
    """Runs every rule and records its findings. Idempotent: a second run creates nothing and only moves `last_seen`.
    An alert whose condition no longer holds is left as it is, for a supervisor to resolve. Each finding is recorded
    in its own transaction, so one failing does not hold back the others."""
    now = now or timezone.now()
    counts = {"found": 0, "created": 0, "escalated": 0, "seen": 0}
    for rule in rules.RULES:
        for finding in rule(now=now):
            counts["found"] += 1
            with transaction.atomic():
                counts[_record(finding, now=now)] += 1
    return counts


@transaction.atomic
def alert_resolve(*, alert: Alert, actor, note: str, now: datetime | None = None) -> Alert:
    """A supervisor closes an alert with a note saying what was done (checked, referred, dismissed and why)."""
    now = now or timezone.now()
    require_role(actor, Role.SUPERVISOR)
    note = (note or "").strip()
    if not note:
        raise DomainError(
            "note_required",
            "请填写处理说明",
            "A note saying how the alert was handled is required",
            status_code=status.HTTP_400_BAD_REQUEST,
        )
    updated = Alert.objects.filter(pk=alert.pk, resolved_at__isnull=True).update(
        resolved_at=now, resolved_by=actor, resolution_note=note
    )
    if updated != 1:
        raise DomainError("alert_resolved", "该预警已处理", "This alert has already been resolved")
    alert.refresh_from_db()
    audit_record(
        action="supervision.alert_resolved",
        actor=actor,
        obj=alert,
        lot_id=alert.lot_id,
        before={"resolved_at": None},
        after={"rule": alert.rule, "level": alert.level, "key": alert.key, "note": note},
        now=now,
    )
    return alert
