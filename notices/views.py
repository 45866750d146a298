"""The public notice board: no login, paginated, filterable, and an Atom feed; the award and result letters and
their public verification."""

from urllib.parse import quote

import django_filters
from django.contrib.syndication.views import Feed
from django.core.exceptions import RequestDataTooBig
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from django.utils.feedgenerator import Atom1Feed
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from notices import letters as letter_services
from notices import ocds
from notices.models import Letter, Notice, NoticeKind
from trading.api import DomainError, store_unavailable, validated
from trading.objectstore import ObjectMissing, StoreUnavailable, get_store
from trading.selectors import lots_visible_to


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


# --- Award and result letters -------------------------------------------------------------------------------------


class AwardSerializer(serializers.Serializer):
    # Empty: the first candidate. Another candidate needs the reason (条例55).
    winner_bid = serializers.UUIDField(required=False, allow_null=True, default=None)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)


class LetterSerializer(serializers.ModelSerializer):
    kind_label = serializers.CharField(source="get_kind_display")
    recipient_name = serializers.CharField(source="recipient.name")

    class Meta:
        model = Letter
        fields = ["id", "lot", "kind", "kind_label", "recipient", "recipient_name", "code", "size", "sha256", "issued_at"]


class AwardLettersView(APIView):
    """Staff issue the letters of an awarded lot; everyone entitled lists them."""

    @extend_schema(responses={200: LetterSerializer(many=True)})
    def get(self, request, lot_id):
        shown = letter_services.letters_visible_to(request.user).filter(lot_id=lot_id)
        return Response(LetterSerializer(shown, many=True).data)

    @extend_schema(request=AwardSerializer, responses={201: LetterSerializer(many=True)})
    def post(self, request, lot_id):
        data = validated(AwardSerializer, request)
        lot = get_object_or_404(lots_visible_to(request.user), pk=lot_id)
        issued = letter_services.award_letters_issue(
            lot=lot, winner_bid=data["winner_bid"], reason=data["reason"], actor=request.user
        )
        return Response(LetterSerializer(issued, many=True).data, status=status.HTTP_201_CREATED)


class LetterListView(APIView):
    @extend_schema(responses={200: LetterSerializer(many=True)})
    def get(self, request):
        return Response(LetterSerializer(letter_services.letters_visible_to(request.user), many=True).data)


class LetterFileView(APIView):
    @extend_schema(responses={(200, "application/pdf"): bytes})
    def get(self, request, pk):
        letter = get_object_or_404(letter_services.letters_visible_to(request.user), pk=pk)
        try:
            stream = get_store().iter_chunks(letter.object_key)
        except (StoreUnavailable, ObjectMissing):
            raise store_unavailable() from None
        response = StreamingHttpResponse(stream, content_type="application/pdf")
        response["Content-Length"] = str(letter.size)
        response["Content-Disposition"] = (
            f"attachment; filename*=UTF-8''{quote(letter.get_kind_display() + '-' + letter.code)}.pdf"
        )
        response["X-Content-SHA256"] = letter.sha256
        return response


class LetterVerifyView(APIView):
    """The public verification page of a letter: GET shows what the code stands for and the file's SHA-256; POST
    the PDF itself (the request body) to have it compared."""

    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(responses={200: dict})
    def get(self, request, code):
        return Response(letter_services.letter_public_view(letter_services.letter_by_code(code)))

    @extend_schema(request={"application/pdf": bytes}, responses={200: dict})
    def post(self, request, code):
        try:
            content = request.body
        except RequestDataTooBig:
            raise DomainError("file_too_large", "文件过大", "The file is too large", status_code=413) from None
        return Response(letter_services.letter_check(code, content))


# --- Open data: OCDS 1.1 release packages (docs/open-data.md) ---------------------------------------------------------


class ReleaseCursor(CursorPagination):
    """Pages in commit order (Release.seq): a release committed after a page was read has a higher seq, so following
    `links.next` never skips nor repeats one."""

    ordering = "seq"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500


def _updated_since(request):
    raw = request.query_params.get("updated_since")
    if raw is None:
        return None
    try:
        moment = parse_datetime(raw.strip().replace(" ", "+"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise DomainError(
            "invalid_updated_since",
            "updated_since 须为带时区的 ISO 8601 时间，如 2026-11-23T01:30:00Z",
            "updated_since must be an ISO 8601 time with an offset, e.g. 2026-11-23T01:30:00Z",
            status_code=status.HTTP_400_BAD_REQUEST,
        )
    return moment


_PACKAGE = {"type": "object", "description": "An OCDS 1.1 release package"}


class OcdsReleasesView(APIView):
    """Every lot's releases, oldest first, as OCDS release packages; `links.next` is the next page."""

    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[
            OpenApiParameter("updated_since", str, description="ISO 8601 with offset: releases recorded at or after it"),
            OpenApiParameter("ocid", str, description="only this contracting process"),
            OpenApiParameter("cursor", str, description="from links.next"),
            OpenApiParameter("page_size", int, description="at most 500 (default 100)"),
        ],
        responses={200: _PACKAGE},
    )
    def get(self, request):
        queryset = ocds.releases(updated_since=_updated_since(request), ocid=request.query_params.get("ocid"))
        paginator = ReleaseCursor()
        page = paginator.paginate_queryset(queryset, request, view=self)
        links = {
            name: link for name, link in (("next", paginator.get_next_link()), ("prev", paginator.get_previous_link())) if link
        }
        return Response(ocds.release_package(page, uri=request.build_absolute_uri(), links=links))


class OcdsLotView(APIView):
    """All releases of one lot (by id, or by ocid), oldest first, as one package. 404 before its first release."""

    permission_classes = [AllowAny]

    @extend_schema(responses={200: _PACKAGE})
    def get(self, request, lot_id=None, ocid=None):
        queryset = ocds.releases(ocid=ocid) if ocid else ocds.releases().filter(lot_id=lot_id)
        page = list(queryset)
        if not page:
            raise DomainError("not_found", "没有该标段的公开数据", "No open data for this lot", status_code=404)
        return Response(ocds.release_package(page, uri=request.build_absolute_uri()))
