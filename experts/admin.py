"""Django admin for centre staff: the specialty tree and the pool.

Status is not edited here: the status actions (暂停 / 列入黑名单 / 恢复) go through experts.services so that
each change is audited; the admin shows status read-only and offers a "reinstate" bulk action.
"""

from django.contrib import admin, messages
from django.db.models import Count

from experts import services
from experts.models import Expert, ExpertInterest, ExpertUnavailability, PerformanceRecord, Specialty
from trading.api import DomainError


class ChildSpecialtyInline(admin.TabularInline):
    """Read-only: a child is added on its own page, so that its parent follows its code."""

    model = Specialty
    fk_name = "parent"
    fields = ["code", "name"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


class LevelFilter(admin.SimpleListFilter):
    title = "层级"
    parameter_name = "level"

    def lookups(self, request, model_admin):
        return [("1", "门类"), ("2", "一级"), ("3", "二级"), ("4", "三级")]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(code__regex=rf"^[A-Z](\d{{2}}){{{int(self.value()) - 1}}}$")
        return queryset


@admin.register(Specialty)
class SpecialtyAdmin(admin.ModelAdmin):
    list_display = ["indented", "code", "parent", "expert_count"]
    list_filter = [LevelFilter]
    search_fields = ["code", "name"]
    ordering = ["code"]
    fields = ["code", "name"]
    inlines = [ChildSpecialtyInline]
    list_per_page = 200

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("parent").annotate(n_experts=Count("experts"))

    @admin.display(description="专业名称", ordering="code")
    def indented(self, obj):
        return "\u3000" * ((len(obj.code) - 1) // 2) + obj.name

    @admin.display(description="专家数", ordering="n_experts")
    def expert_count(self, obj):
        return obj.n_experts

    def get_readonly_fields(self, request, obj=None):
        return ["code"] if obj is not None else []

    def save_model(self, request, obj, form, change):
        # The parent always follows the code's prefix.
        services.specialty_save(specialty=obj, actor=request.user)


class UnavailabilityInline(admin.TabularInline):
    model = ExpertUnavailability
    fields = ["start", "end", "reason"]
    extra = 0


class InterestInline(admin.TabularInline):
    model = ExpertInterest
    fields = ["kind", "organisation_credit_code", "person_name", "note"]
    extra = 0


class PerformanceInline(admin.TabularInline):
    model = PerformanceRecord
    fields = ["recorded_at", "lot", "attended", "late_minutes", "score_deviation", "complaints", "note", "recorded_by"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Expert)
class ExpertAdmin(admin.ModelAdmin):
    list_display = ["name", "number", "pool", "title", "employer_name", "region_code", "status", "status_until"]
    list_filter = ["status", "pool", "specialties", "region_code"]
    search_fields = ["name", "number", "employer_name", "employer_credit_code", "phone"]
    filter_horizontal = ["specialties"]
    readonly_fields = ["status", "status_reason", "status_until", "status_changed_at"]
    raw_id_fields = ["user"]
    fieldsets = [
        (None, {"fields": ["number", "name", "pool", "user", "title", "practice_years", "region_code", "specialties"]}),
        ("工作单位", {"fields": ["employer_name", "employer_credit_code"]}),
        ("联系方式", {"fields": ["phone", "email"]}),
        ("状态（通过接口或“恢复”操作变更）", {"fields": readonly_fields}),
    ]
    inlines = [UnavailabilityInline, InterestInline, PerformanceInline]
    actions = ["reinstate"]

    def save_model(self, request, obj, form, change):
        services.expert_save(expert=obj, actor=request.user, changed=[f for f in form.changed_data if f != "specialties"])

    def save_related(self, request, form, formsets, change):
        before = set(form.instance.specialties.values_list("code", flat=True)) if change else set()
        super().save_related(request, form, formsets, change)
        after = set(form.instance.specialties.values_list("code", flat=True))
        if after != before:
            services.expert_specialties_changed(expert=form.instance, actor=request.user, before=before, after=after)

    def save_formset(self, request, form, formset, change):
        """Unavailability and interests edited inline go through the services (checked and audited)."""
        if formset.model not in (ExpertUnavailability, ExpertInterest):
            return super().save_formset(request, form, formset, change)
        expert = form.instance
        unavailability = formset.model is ExpertUnavailability
        fields = ["start", "end", "reason"] if unavailability else ["kind", "organisation_credit_code", "person_name", "note"]
        instances = formset.save(commit=False)
        for item in formset.deleted_objects:
            (services.unavailability_delete if unavailability else services.interest_delete)(item=item, actor=request.user)
        for item in instances:
            values = {f: getattr(item, f) for f in fields}
            if item.pk is None:
                create = services.unavailability_create if unavailability else services.interest_create
                create(expert=expert, actor=request.user, **values)
            else:
                update = services.unavailability_update if unavailability else services.interest_update
                update(item=item, actor=request.user, **values)

    @admin.action(description="恢复所选专家为正常状态 / reinstate")
    def reinstate(self, request, queryset):
        done = 0
        for expert in queryset:
            try:
                services.expert_reinstate(expert=expert, actor=request.user, reason="管理后台恢复")
                done += 1
            except DomainError as error:
                self.message_user(request, f"{expert}: {error.zh}", messages.WARNING)
        self.message_user(request, f"已恢复 {done} 名专家")
