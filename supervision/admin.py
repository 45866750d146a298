from django.contrib import admin

from supervision.models import Alert


class ResolvedFilter(admin.SimpleListFilter):
    title = "是否已处理"
    parameter_name = "resolved"

    def lookups(self, request, model_admin):
        return [("no", "未处理"), ("yes", "已处理")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(resolved_at__isnull=self.value() == "no")
        return queryset


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    """Read only: alerts are written by the scan and resolved by a supervisor through the API (audited)."""

    list_display = ("id", "level", "rule", "lot", "key", "first_seen", "last_seen", "resolved_at", "resolved_by")
    list_filter = ("rule", "level", ResolvedFilter)
    list_select_related = ("lot", "resolved_by")
    search_fields = ("key", "message_zh", "lot__transaction_code")
    ordering = ("-first_seen", "-id")
    fields = (
        "rule",
        "level",
        "lot",
        "key",
        "message_zh",
        "message_en",
        "subject",
        "details",
        "first_seen",
        "last_seen",
        "resolved_at",
        "resolved_by",
        "resolution_note",
    )
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
