from django.contrib import admin

from experts.models import Expert, Specialty


@admin.register(Specialty)
class SpecialtyAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "parent"]


@admin.register(Expert)
class ExpertAdmin(admin.ModelAdmin):
    list_display = ["name", "title", "employer", "region_code"]
    list_select_related = ["employer"]
    filter_horizontal = ["specialties"]
