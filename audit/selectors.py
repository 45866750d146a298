"""Reads of the audit trail, starting from what the user may see: only supervisors (and superusers) see it."""

from django.db.models import QuerySet

from audit.models import AuditEvent
from trading.models import Role


def can_read_audit(*, user) -> bool:
    if user is None or not user.is_authenticated:
        return False
    return bool(user.is_superuser or user.role == Role.SUPERVISOR)


def events_visible_to(*, user) -> QuerySet[AuditEvent]:
    if not can_read_audit(user=user):
        return AuditEvent.objects.none()
    return AuditEvent.objects.select_related("actor").order_by("seq")
