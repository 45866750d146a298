"""Read-only API over the audit trail, for supervisors. Sealed entries show no content here."""

from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.filters import OrderingFilter
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.models import AuditEvent
from audit.selectors import can_read_audit, events_visible_to
from audit.services import verify_chain


class SupervisorOnly(IsAuthenticated):
    """Anonymous: 401/403 not_authenticated (from IsAuthenticated); signed in but not a supervisor: 403 permission_denied."""

    def has_permission(self, request, view):
        if not super().has_permission(request, view):
            return False
        if not can_read_audit(user=request.user):
            raise PermissionDenied
        return True


class AuditEventSerializer(serializers.ModelSerializer):
    actor_username = serializers.CharField(source="actor.username", default=None, read_only=True)
    sealed = serializers.SerializerMethodField()

    class Meta:
        model = AuditEvent
        fields = [
            "seq",
            "at",
            "sealed",
            "actor",
            "actor_username",
            "actor_role",
            "ip",
            "action",
            "object_type",
            "object_id",
            "lot_id",
            "before",
            "after",
            "prev_hash",
            "hash",
        ]
        read_only_fields = fields

    def get_sealed(self, event) -> bool:
        return event.sealed is not None

    def to_representation(self, event):
        if event.sealed is not None:
            return {
                "seq": event.seq,
                "at": serializers.DateTimeField().to_representation(event.at),
                "sealed": True,
                "prev_hash": event.prev_hash,
                "hash": event.hash,
            }
        return super().to_representation(event)


class AuditEventFilter(filters.FilterSet):
    class Meta:
        model = AuditEvent
        fields = ["lot_id", "action"]


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    permission_classes = [SupervisorOnly]
    serializer_class = AuditEventSerializer
    filter_backends = [filters.DjangoFilterBackend, OrderingFilter]
    filterset_class = AuditEventFilter
    ordering_fields = ["seq"]
    ordering = ["seq"]
    lookup_field = "seq"
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        return events_visible_to(user=self.request.user)


class AuditVerifyView(APIView):
    permission_classes = [SupervisorOnly]

    @extend_schema(
        responses=inline_serializer(
            "AuditVerifyResult",
            {
                "ok": serializers.BooleanField(),
                "checked": serializers.IntegerField(),
                "problems": serializers.ListField(child=serializers.CharField()),
            },
        )
    )
    def get(self, request):
        result = verify_chain()
        return Response({"ok": result.ok, "checked": result.checked, "problems": result.problems})
