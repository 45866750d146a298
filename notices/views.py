"""The public notice board: no login, paginated, filterable, and an Atom feed."""

import django_filters
from django.contrib.syndication.views import Feed
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from rest_framework import serializers, viewsets
from rest_framework.permissions import AllowAny

from notices.models import Notice, NoticeKind


class NoticeSerializer(serializers.ModelSerializer):
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    lot_name = serializers.CharField(source="lot.name", read_only=True)
    transaction_code = serializers.CharField(source="lot.transaction_code", read_only=True)
    project_name = serializers.CharField(source="lot.project.name", read_only=True)
    tenderee = serializers.CharField(source="lot.project.tenderee.name", read_only=True)

    class Meta:
        model = Notice
        fields = [
            "id",
            "kind",
            "kind_label",
            "title",
            "body",
            "lot",
            "lot_name",
            "transaction_code",
            "project_name",
            "tenderee",
            "region_code",
            "published_at",
            "affects_bids",
            "deadline_before",
            "deadline_after",
            "document",
        ]


class NoticeFilter(django_filters.FilterSet):
    kind = django_filters.MultipleChoiceFilter(choices=NoticeKind.choices)
    region = django_filters.CharFilter(field_name="region_code", lookup_expr="startswith")
    published_after = django_filters.IsoDateTimeFilter(field_name="published_at", lookup_expr="gte")
    published_before = django_filters.IsoDateTimeFilter(field_name="published_at", lookup_expr="lt")
    q = django_filters.CharFilter(field_name="title", lookup_expr="icontains")

    class Meta:
        model = Notice
        fields = ["kind", "region", "lot", "published_after", "published_before", "q"]


def public_notices():
    return Notice.objects.select_related("lot", "lot__project", "lot__project__tenderee")


class NoticeViewSet(viewsets.ReadOnlyModelViewSet):
    permission_classes = [AllowAny]
    serializer_class = NoticeSerializer
    filterset_class = NoticeFilter

    def get_queryset(self):
        return public_notices()


class NoticeFeed(Feed):
    feed_type = Atom1Feed
    title = "公共资源交易中心 公告"
    subtitle = "招标公告、澄清修改、中标候选人公示、中标结果与终止公告"

    def link(self):
        return reverse("notice-list")

    def items(self):
        return public_notices()[:50]

    def item_title(self, item):
        return f"[{item.get_kind_display()}] {item.title}"

    def item_description(self, item):
        return item.body

    def item_link(self, item):
        return reverse("notice-detail", args=[item.pk])

    def item_pubdate(self, item):
        return item.published_at

    def item_updateddate(self, item):
        return item.published_at

    def item_categories(self, item):
        return [item.kind]
