"""Reads of the supervision app, starting from what the user may see: supervisors (and superusers) see every alert;
everyone else nothing. Staff are watched by some of these rules (deadlines), so they do not read them: supervisors
take them up, as they do the audit trail."""

from django.db.models import Count, Q, QuerySet

from supervision.models import Alert, AlertLevel
from trading.models import Lot, LotStatus, Role

# The lots a supervisor watches live: from the tender notice until the award is done with (letters, archive).
IN_PROGRESS = (
    LotStatus.PUBLISHED,
    LotStatus.TENDERING,
    LotStatus.OPENING,
    LotStatus.EVALUATING,
    LotStatus.PUBLICITY,
    LotStatus.AWARDED,
    LotStatus.SUSPENDED,
)


def can_watch(*, user) -> bool:
    if user is None or not user.is_authenticated:
        return False
    return bool(user.is_superuser or user.role == Role.SUPERVISOR)


def alerts_visible_to(*, user) -> QuerySet[Alert]:
    if not can_watch(user=user):
        return Alert.objects.none()
    return Alert.objects.select_related("lot", "resolved_by").order_by("-first_seen", "-id")


def monitored_lots(*, user) -> QuerySet[Lot]:
    """The lots in progress with their open alerts counted by level (most red first)."""
    if not can_watch(user=user):
        return Lot.objects.none()
    open_alerts = Q(supervision_alerts__resolved_at__isnull=True)
    return (
        Lot.objects.filter(status__in=IN_PROGRESS)
        .select_related("project", "project__tenderee", "project__agency")
        .annotate(
            red_alerts=Count("supervision_alerts", filter=open_alerts & Q(supervision_alerts__level=AlertLevel.RED)),
            yellow_alerts=Count("supervision_alerts", filter=open_alerts & Q(supervision_alerts__level=AlertLevel.YELLOW)),
        )
        .order_by("-red_alerts", "-yellow_alerts", "-id")
    )
