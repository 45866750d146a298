from django.contrib import admin

from evaluation.models import DrawRequest, EvaluationMethod, Venue


@admin.register(Venue)
class VenueAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "seats", "region_code", "centre_code", "networks", "active"]
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


@admin.register(EvaluationMethod)
class EvaluationMethodAdmin(admin.ModelAdmin):
    """Read-only: the method is written through evaluation.services (checks, freezing at issue, audit trail)."""

    list_display = ["id", "lot", "kind", "technical_weight", "commercial_weight", "price_weight", "price_formula", "updated_at"]
    list_filter = ["kind", "price_formula"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
