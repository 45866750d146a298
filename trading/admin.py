"""Centre staff's back office. Lifecycle fields are read-only here: transitions go through the services."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from trading.api import DomainError
from trading.models import (
    CalendarDay,
    Lot,
    Objection,
    Organisation,
    RegionalMessage,
    Review,
    RuleSet,
    TenderDocument,
    TenderProject,
    User,
)

admin.site.site_header = "公共资源交易中心 管理后台"
admin.site.site_title = "交易中心管理后台"
admin.site.index_title = "管理"


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "credit_code", "kind", "region_code"]
    list_filter = ["kind"]
    search_fields = ["name", "credit_code"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "first_name", "role", "organisation", "is_active"]
    list_filter = ["role", "is_active"]
    list_select_related = ["organisation"]
    fieldsets = [*BaseUserAdmin.fieldsets, ("平台角色", {"fields": ["role", "organisation", "phone"]})]
    add_fieldsets = [*BaseUserAdmin.add_fieldsets, ("平台角色", {"fields": ["role", "organisation"]})]


@admin.register(RuleSet)
class RuleSetAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "doc_to_deadline_days", "doc_sale_min_days", "clarification_min_days", "min_bids"]


@admin.register(CalendarDay)
class CalendarDayAdmin(admin.ModelAdmin):
    list_display = ["date", "is_working_day", "name"]
    list_filter = ["is_working_day"]
    date_hierarchy = "date"


class LotInline(admin.TabularInline):
    model = Lot
    fields = ["seq", "name", "transaction_code", "status"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(TenderProject)
class TenderProjectAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "tenderee", "agency", "registered_at"]
    list_select_related = ["tenderee", "agency"]
    search_fields = ["code", "name"]
    inlines = [LotInline]


@admin.register(Lot)
class LotAdmin(admin.ModelAdmin):
    list_display = ["transaction_code", "name", "project", "status", "bid_deadline"]
    list_filter = ["status"]
    list_select_related = ["project"]
    search_fields = ["transaction_code", "name"]
    readonly_fields = [
        "status",
        "suspended_from",
        "suspension_kind",
        "status_changed_at",
        "docs_issued_at",
        "docs_sale_end",
        "bid_deadline",
        "publicity_start",
        "publicity_end",
        "enrolments_unsealed_at",
        "transaction_code",
        "retender_of",
    ]


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ["kind", "project", "lot", "status", "submitted_at", "reviewed_at"]
    list_filter = ["kind", "status"]
    list_select_related = ["project", "lot"]
    readonly_fields = ["kind", "project", "lot", "status", "submitted_by", "submitted_at", "reviewed_by", "reviewed_at"]


@admin.register(TenderDocument)
class TenderDocumentAdmin(admin.ModelAdmin):
    list_display = ["lot", "version", "filename", "size", "sha256", "uploaded_at"]
    list_select_related = ["lot"]
    readonly_fields = ["lot", "version", "filename", "object_key", "size", "sha256", "content_type", "uploaded_by", "uploaded_at"]


@admin.register(Objection)
class ObjectionAdmin(admin.ModelAdmin):
    list_display = ["lot", "subject", "status", "raised_at", "answer_due"]
    list_filter = ["status"]
    exclude = ["raiser_sealed", "raiser_index"]
    readonly_fields = ["lot", "status", "raised_at", "answer_due", "raised_by", "answered_by", "answered_at"]


@admin.register(RegionalMessage)
class RegionalMessageAdmin(admin.ModelAdmin):
    """The regional link's outbox: what went out, what waits and why (last_error). Rows are never edited here."""

    list_display = ["lot", "seq", "table", "event", "status", "attempts", "next_attempt_at", "delivered_at", "last_error"]
    list_filter = ["status", "table"]
    search_fields = ["lot__transaction_code", "id"]
    list_select_related = ["lot"]
    readonly_fields = [f.name for f in RegionalMessage._meta.fields]
    actions = ["resend"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="重新发送 / Send again")
    def resend(self, request, queryset):
        from trading.regional.outbox import resend

        for message in queryset.order_by("lot_id", "seq"):
            try:
                resend(message=message, actor=request.user)
            except DomainError as error:
                self.message_user(request, f"{error.zh} / {error.en}", level="error")
                return
        self.message_user(request, f"{queryset.count()} 条推送已重新排队 / queued again")
