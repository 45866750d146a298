from django.contrib import admin

from bidding.models import Enrolment

# SealedEnrolment is deliberately not registered: before the deadline nobody may browse enrolments (法22).


@admin.register(Enrolment)
class EnrolmentAdmin(admin.ModelAdmin):
    list_display = ["lot", "bidder", "enrolled_at", "unsealed_at"]
    list_select_related = ["lot", "bidder"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
