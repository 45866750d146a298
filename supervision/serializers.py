from rest_framework import serializers

from supervision.models import Alert
from trading.models import Lot


class AlertSerializer(serializers.ModelSerializer):
    rule_label = serializers.CharField(source="get_rule_display", read_only=True)
    level_label = serializers.CharField(source="get_level_display", read_only=True)
    lot_code = serializers.CharField(source="lot.transaction_code", default=None, read_only=True)
    lot_name = serializers.CharField(source="lot.name", default=None, read_only=True)
    message = serializers.SerializerMethodField()
    resolved_by_username = serializers.CharField(source="resolved_by.username", default=None, read_only=True)

    class Meta:
        model = Alert
        fields = [
            "id",
            "rule",
            "rule_label",
            "level",
            "level_label",
            "lot",
            "lot_code",
            "lot_name",
            "key",
            "subject",
            "details",
            "message",
            "first_seen",
            "last_seen",
            "resolved_at",
            "resolved_by",
            "resolved_by_username",
            "resolution_note",
        ]
        read_only_fields = fields

    def get_message(self, alert) -> dict:
        return {"zh-hans": alert.message_zh, "en": alert.message_en}


class ResolveSerializer(serializers.Serializer):
    # Blank is let through so that the service answers with its own error (note_required).
    note = serializers.CharField(allow_blank=True, required=False, default="", max_length=2000, trim_whitespace=True)


class MonitoredLotSerializer(serializers.ModelSerializer):
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    project_code = serializers.CharField(source="project.code", read_only=True)
    project_name = serializers.CharField(source="project.name", read_only=True)
    tenderee = serializers.CharField(source="project.tenderee.name", read_only=True)
    agency = serializers.CharField(source="project.agency.name", default=None, read_only=True)
    open_alerts = serializers.SerializerMethodField()

    class Meta:
        model = Lot
        fields = [
            "id",
            "transaction_code",
            "name",
            "project_code",
            "project_name",
            "tenderee",
            "agency",
            "status",
            "status_label",
            "suspended_from",
            "status_changed_at",
            "bid_deadline",
            "publicity_start",
            "publicity_end",
            "open_alerts",
        ]
        read_only_fields = fields

    def get_open_alerts(self, lot) -> dict:
        return {"red": lot.red_alerts, "yellow": lot.yellow_alerts}
