from django.contrib import admin

from evaluation.models import DrawRequest, Venue


@admin.register(Venue)
class VenueAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "seats", "region_code", "active"]
    list_filter = ["kind", "active"]


@admin.register(DrawRequest)
class DrawRequestAdmin(admin.ModelAdmin):
    """Read-only: requests are made and drawn through the services (audit trail, commitment)."""

    list_display = ["id", "lot", "status", "window_start", "window_end", "created_at"]
    list_filter = ["status"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
