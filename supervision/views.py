"""HTTP for supervisors: the alerts (list, resolve) and the live monitor of the lots in progress. Thin views."""

from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from supervision import services
from supervision.models import Alert, AlertLevel, AlertRule
from supervision.selectors import alerts_visible_to, can_watch, monitored_lots
from supervision.serializers import AlertSerializer, MonitoredLotSerializer, ResolveSerializer
from trading.api import validated
from trading.models import LotStatus


class Watchers(IsAuthenticated):
    """Anonymous: 401 not_authenticated; signed in but not a supervisor: 403 permission_denied."""

    def has_permission(self, request, view):
        if not super().has_permission(request, view):
            return False
        if not can_watch(user=request.user):
            raise PermissionDenied
        return True


class AlertFilter(filters.FilterSet):
    level = filters.ChoiceFilter(choices=AlertLevel.choices)
    rule = filters.ChoiceFilter(choices=AlertRule.choices)
    lot = filters.NumberFilter(field_name="lot_id")
    resolved = filters.BooleanFilter(method="filter_resolved")

    class Meta:
        model = Alert
        fields = ["level", "rule", "lot", "resolved"]

    def filter_resolved(self, queryset, name, value):
        return queryset.filter(resolved_at__isnull=not value)


class AlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [Watchers]
    serializer_class = AlertSerializer
    filter_backends = [filters.DjangoFilterBackend]
    filterset_class = AlertFilter

    def get_queryset(self):
        return alerts_visible_to(user=self.request.user)

    @extend_schema(request=ResolveSerializer, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        alert = services.alert_resolve(alert=self.get_object(), actor=request.user, **validated(ResolveSerializer, request))
        return Response(AlertSerializer(alert).data)


class MonitoredLotFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=LotStatus.choices)


class MonitoredLotViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    permission_classes = [Watchers]
    serializer_class = MonitoredLotSerializer
    filter_backends = [filters.DjangoFilterBackend]
    filterset_class = MonitoredLotFilter

    def get_queryset(self):
        return monitored_lots(user=self.request.user)
