"""Read-only API over the audit trail, for supervisors. Sealed entries show no content here."""

import csv
import json

from django.http import StreamingHttpResponse
from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.filters import OrderingFilter
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.models import AuditEvent
from audit.selectors import can_read_audit, events_visible_to
from audit.services import verify_chain
from trading.api import DomainError
from trading.rules import LOCAL


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
    """Search: exact lot, action or actor (id, or the username the page shows); an action prefix (`lot.`); the object;
    a time range (ISO 8601 with offset)."""

    action_prefix = filters.CharFilter(field_name="action", lookup_expr="startswith")
    actor_username = filters.CharFilter(field_name="actor__username")
    at_after = filters.IsoDateTimeFilter(field_name="at", lookup_expr="gte")
    at_before = filters.IsoDateTimeFilter(field_name="at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = [
            "lot_id",
            "action",
            "action_prefix",
            "actor",
            "actor_username",
            "object_type",
            "object_id",
            "at_after",
            "at_before",
        ]


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


# --- Export -----------------------------------------------------------------------------------------------------------

EXPORT_CHUNK = 1000  # rows fetched per round trip; memory stays constant whatever the trail's length
EXPORT_COLUMNS = list(AuditEventSerializer.Meta.fields)
EXPORT_FORMATS = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}
# A cell starting with one of these is a formula to Excel (CSV injection): it is prefixed with an apostrophe.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class _Line:
    """csv.writer's file: hands back each line instead of keeping it."""

    def write(self, line: str) -> str:
        return line


def _row(event: AuditEvent) -> dict:
    """The entry as the API shows it, its time in Asia/Shanghai with the offset."""
    row = AuditEventSerializer(event).data
    row["at"] = timezone.localtime(event.at, LOCAL).isoformat()
    return row


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def export_csv(queryset):
    writer = csv.writer(_Line())
    yield "\ufeff" + writer.writerow(EXPORT_COLUMNS)  # the BOM tells Excel the file is UTF-8
    for event in queryset.iterator(chunk_size=EXPORT_CHUNK):
        row = _row(event)
        yield writer.writerow([_cell(row.get(column)) for column in EXPORT_COLUMNS])


def export_jsonl(queryset):
    for event in queryset.iterator(chunk_size=EXPORT_CHUNK):
        yield json.dumps(_row(event), ensure_ascii=False) + "\n"


class AuditExportView(APIView):
    """The trail, filtered like the list, streamed in seq order: `format=csv` (UTF-8 with BOM, for Excel) or
    `format=jsonl` (one entry per line). Each row carries prev_hash and hash, so the chain can be checked from it."""

    permission_classes = [SupervisorOnly]

    def perform_content_negotiation(self, request, force=False):
        # `format` names the export's format here, not a DRF renderer: errors are JSON whatever it says.
        return (self.get_renderers()[0], self.get_renderers()[0].media_type)

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=list(EXPORT_FORMATS), default="csv")],
        responses={(200, "text/csv"): bytes, (200, "application/x-ndjson"): bytes},
    )
    def get(self, request):
        kind = request.query_params.get("format", "csv")
        if kind not in EXPORT_FORMATS:
            raise DomainError(
                "invalid_format",
                "导出格式须为 csv 或 jsonl",
                "The export format must be csv or jsonl",
                status_code=status.HTTP_400_BAD_REQUEST,
            )
        queryset = AuditEventFilter(request.query_params, queryset=events_visible_to(user=request.user)).qs.order_by("seq")
        rows = export_csv(queryset) if kind == "csv" else export_jsonl(queryset)
        response = StreamingHttpResponse(rows, content_type=EXPORT_FORMATS[kind])
        stamp = timezone.localtime(timezone.now(), LOCAL).strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="audit-events-{stamp}.{kind}"'
        response["Cache-Control"] = "no-store"
        return response
