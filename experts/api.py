"""HTTP for the expert pool. Staff manage it, supervisors read it, experts keep their own availability and interests.

Everyone else (bidders, tenderees, agencies) gets 403 on every route: expert identities are secret from them.
"""

from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from experts import importing, selectors, services
from experts.models import Expert
from experts.serializers import (
    ExpertSerializer,
    ImportSerializer,
    InterestSerializer,
    InterestWriteSerializer,
    PenaltySerializer,
    PerformanceCreateSerializer,
    PerformanceSerializer,
    ReinstateSerializer,
    SpecialtySerializer,
    UnavailabilitySerializer,
    UnavailabilityWriteSerializer,
)
from trading.access import forbidden
from trading.api import DomainError, validated
from trading.models import Lot, Role


class RolePermission(IsAuthenticated):
    """Anonymous: 401 not_authenticated; a signed-in user of another role: 403 permission_denied."""

    roles: tuple = ()

    def has_permission(self, request, view):
        if not super().has_permission(request, view):
            return False
        if request.user.role not in self.roles:
            raise PermissionDenied
        return True


class PoolReaders(RolePermission):
    roles = selectors.POOL_READERS


class PoolReadersAndExperts(RolePermission):
    roles = (*selectors.POOL_READERS, Role.EXPERT)


class ExpertFilter(filters.FilterSet):
    specialty = filters.CharFilter(method="filter_specialty", help_text="专业代码前缀（A08 含 A0801…）")
    status = filters.ChoiceFilter(choices=Expert.Status.choices)
    region = filters.CharFilter(field_name="region_code", lookup_expr="startswith", help_text="行政区划代码前缀")
    eligible_on = filters.DateFilter(method="filter_eligible_on", help_text="该日可被抽取（状态意义上）")
    q = filters.CharFilter(method="filter_q", help_text="姓名、专家编号、工作单位")

    class Meta:
        model = Expert
        fields = ["specialty", "status", "region", "eligible_on", "q"]

    def filter_specialty(self, queryset, name, value):
        return queryset.filter(specialties__code__startswith=value.strip().upper()).distinct()

    def filter_eligible_on(self, queryset, name, value):
        return queryset.eligible_on(value)

    def filter_q(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(
            Q(name__contains=value) | Q(number=value) | Q(employer_name__contains=value) | Q(employer_credit_code=value.upper())
        )


class ExpertViewSet(viewsets.ReadOnlyModelViewSet):
    """评标专家库: list, detail, status actions, 考评, import."""

    permission_classes = [PoolReaders]
    serializer_class = ExpertSerializer
    filterset_class = ExpertFilter

    def get_queryset(self):
        return selectors.experts_visible_to(self.request.user)

    def _status_response(self, expert):
        return Response(ExpertSerializer(Expert.objects.prefetch_related("specialties").get(pk=expert.pk)).data)

    @extend_schema(request=PenaltySerializer, responses=ExpertSerializer)
    @action(detail=True, methods=["post"])
    def suspend(self, request, pk=None):
        return self._status_response(
            services.expert_suspend(expert=self.get_object(), actor=request.user, **validated(PenaltySerializer, request))
        )

    @extend_schema(request=PenaltySerializer, responses=ExpertSerializer)
    @action(detail=True, methods=["post"])
    def blacklist(self, request, pk=None):
        return self._status_response(
            services.expert_blacklist(expert=self.get_object(), actor=request.user, **validated(PenaltySerializer, request))
        )

    @extend_schema(request=ReinstateSerializer, responses=ExpertSerializer)
    @action(detail=True, methods=["post"])
    def reinstate(self, request, pk=None):
        return self._status_response(
            services.expert_reinstate(expert=self.get_object(), actor=request.user, **validated(ReinstateSerializer, request))
        )

    @extend_schema(methods=["get"], responses=PerformanceSerializer(many=True))
    @extend_schema(methods=["post"], request=PerformanceCreateSerializer, responses={201: PerformanceSerializer})
    @action(detail=True, methods=["get", "post"])
    def performance(self, request, pk=None):
        expert = self.get_object()
        if request.method == "GET":
            records = selectors.performance_visible_to(request.user).filter(expert=expert)
            page = self.paginate_queryset(records)
            return self.get_paginated_response(PerformanceSerializer(page, many=True).data)
        data = validated(PerformanceCreateSerializer, request)
        lot_id = data.pop("lot")
        lot = get_object_or_404(Lot, pk=lot_id) if lot_id is not None else None
        record = services.record_performance(expert=expert, actor=request.user, lot=lot, **data)
        return Response(PerformanceSerializer(record).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request={"multipart/form-data": ImportSerializer},
        responses={200: dict, 422: OpenApiResponse(description="导入被拒绝，报告见 report / refused, see report")},
    )
    @action(detail=False, methods=["post"], url_path="import", parser_classes=[MultiPartParser, FormParser])
    def import_(self, request):
        if request.user.role != Role.STAFF:
            raise forbidden("只有交易中心工作人员可以导入专家", "Only centre staff may import experts", code="role_not_allowed")
        data = validated(ImportSerializer, request)
        upload = data["file"]
        report = services.experts_import(
            actor=request.user,
            filename=upload.name,
            data=upload.read(importing.MAX_BYTES + 1),  # one byte more than allowed is enough to refuse it
            dry_run=data["dry_run"],
            partial=data["partial"],
            create_accounts=data["create_accounts"],
        )
        if report["errors"] and not report["imported"]:
            raise DomainError(
                "import_rejected",
                "导入文件有误，未写入任何数据，详见报告",
                "The file has errors; nothing was imported (see the report)",
                status_code=status.HTTP_422_UNPROCESSABLE_ENTITY,
                extra={"report": report},
            )
        return Response(report)

    @extend_schema(responses={(200, "text/csv"): bytes})
    @action(detail=False, methods=["get"], url_path="import-template")
    def import_template(self, request):
        from trading.codes import credit_code_check_char

        first17 = "91450102MA5N00001"
        body = importing.template_csv(first17 + credit_code_check_char(first17))
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            "attachment; filename=\"expert-import-template.csv\"; filename*=UTF-8''%E8%AF%84%E6%A0%87%E4%B8%93%E5%AE%B6%E5%AF%BC%E5%85%A5%E6%A8%A1%E6%9D%BF.csv"
        )
        return response


class SpecialtyViewSet(viewsets.ReadOnlyModelViewSet):
    permission_classes = [PoolReaders]
    serializer_class = SpecialtySerializer
    pagination_class = None
    lookup_field = "code"

    def get_queryset(self):
        return selectors.specialties_visible_to(self.request.user).select_related("parent")


class _OwnedByExpertViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Staff: any expert's items (naming `expert` on create). Supervisors: read. An expert: their own, always."""

    permission_classes = [PoolReadersAndExperts]
    parser_classes = [JSONParser, FormParser, MultiPartParser]
    filterset_fields = ["expert"]
    write_serializer = None
    fields: tuple = ()

    def _expert_for_create(self, expert_id: int | None) -> Expert:
        user = self.request.user
        if user.role == Role.EXPERT:
            own = Expert.objects.filter(user=user).first()
            if own is None:
                raise forbidden(
                    "您的账号未关联专家信息", "Your account is not linked to an expert record", code="no_expert_record"
                )
            if expert_id is not None and expert_id != own.pk:
                raise forbidden(
                    "只能维护本人的专家信息", "Experts may only maintain their own record", code="not_own_expert_record"
                )
            return own
        if user.role != Role.STAFF:
            raise forbidden(
                "只有交易中心工作人员可以维护专家信息", "Only centre staff may change the pool", code="role_not_allowed"
            )
        if expert_id is None:
            raise DomainError("expert_required", "须指定专家", "Name the expert", status_code=status.HTTP_400_BAD_REQUEST)
        return get_object_or_404(selectors.experts_visible_to(user), pk=expert_id)

    def _data(self, request, instance=None) -> dict:
        serializer = self.write_serializer(data=request.data, partial=instance is not None and request.method == "PATCH")
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data.pop("expert", None)
        if instance is not None:
            for name in self.fields:
                data.setdefault(name, getattr(instance, name))
        return data


class UnavailabilityViewSet(_OwnedByExpertViewSet):
    serializer_class = UnavailabilitySerializer
    write_serializer = UnavailabilityWriteSerializer
    fields = ("start", "end", "reason")

    def get_queryset(self):
        return selectors.unavailability_visible_to(self.request.user)

    @extend_schema(request=UnavailabilityWriteSerializer, responses={201: UnavailabilitySerializer})
    def create(self, request):
        data = validated(self.write_serializer, request)
        expert = self._expert_for_create(data.pop("expert", None))
        item = services.unavailability_create(expert=expert, actor=request.user, **data)
        return Response(UnavailabilitySerializer(item).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=UnavailabilityWriteSerializer, responses=UnavailabilitySerializer)
    def update(self, request, pk=None, partial=False):
        item = self.get_object()
        item = services.unavailability_update(item=item, actor=request.user, **self._data(request, item))
        return Response(UnavailabilitySerializer(item).data)

    def destroy(self, request, pk=None):
        services.unavailability_delete(item=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InterestViewSet(_OwnedByExpertViewSet):
    serializer_class = InterestSerializer
    write_serializer = InterestWriteSerializer
    fields = ("kind", "organisation_credit_code", "person_name", "note")

    def get_queryset(self):
        return selectors.interests_visible_to(self.request.user)

    @extend_schema(request=InterestWriteSerializer, responses={201: InterestSerializer})
    def create(self, request):
        data = validated(self.write_serializer, request)
        expert = self._expert_for_create(data.pop("expert", None))
        item = services.interest_create(expert=expert, actor=request.user, **data)
        return Response(InterestSerializer(item).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=InterestWriteSerializer, responses=InterestSerializer)
    def update(self, request, pk=None, partial=False):
        item = self.get_object()
        item = services.interest_update(item=item, actor=request.user, **self._data(request, item))
        return Response(InterestSerializer(item).data)

    def destroy(self, request, pk=None):
        services.interest_delete(item=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
