from django.contrib import admin

from notices.models import Notice


@admin.register(Notice)
class NoticeAdmin(admin.ModelAdmin):
    list_display = ["title", "kind", "lot", "published_at"]
    list_filter = ["kind"]
    list_select_related = ["lot"]
    search_fields = ["title"]
    readonly_fields = ["kind", "lot", "published_at", "published_by", "deadline_before", "deadline_after"]
