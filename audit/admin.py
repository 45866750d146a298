from django.contrib import admin

from audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read only: the trail is written by services and never changed."""

    list_display = ("seq", "at", "actor", "actor_role", "action", "object_label", "lot_id")
    list_select_related = ("actor",)
    ordering = ("-seq",)
    show_full_result_count = False
    fields = (
        "seq",
        "at",
        "actor",
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
    )
    readonly_fields = fields

    @admin.display(description="对象")
    def object_label(self, event):
        if event.sealed is not None:
            return "（密封）"
        return f"{event.object_type}#{event.object_id}" if event.object_type else ""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
