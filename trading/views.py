"""HTTP for the centre's core: thin views, one POST action per transition, each calling one service."""

from django.contrib.auth import authenticate, login, logout
from django.db.models import Prefetch
from django.middleware.csrf import get_token
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from trading import services
from trading.api import DomainError, validated
from trading.models import LotStatus, Organisation, RegionalMessage, RuleSet
from trading.selectors import lots_visible_to, objections_visible_to, projects_visible_to, reviews_visible_to
from trading.serializers import (
    AnswerSerializer,
    ClarificationSerializer,
    ContactSerializer,
    DocumentSerializer,
    DocumentUploadSerializer,
    FilingSerializer,
    LoginSerializer,
    LotCreateSerializer,
    LotSerializer,
    NoteSerializer,
    ObjectionCreateSerializer,
    ObjectionSerializer,
    OrganisationSerializer,
    ProjectCreateSerializer,
    ProjectSerializer,
    PublishSerializer,
    ReasonsSerializer,
    RegionalMessageSerializer,
    ReviewSerializer,
    RuleSetSerializer,
    UserSerializer,
)


class LoginView(APIView):
    """Session login for the web (CSRF applies to later writes); throttled per client address."""

    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(request=LoginSerializer, responses=UserSerializer)
    def post(self, request):
        data = validated(LoginSerializer, request)
        user = authenticate(request, username=data["username"], password=data["password"])
        if user is None:
            raise DomainError(
                "invalid_credentials", "用户名或密码错误", "Wrong username or password", status_code=status.HTTP_401_UNAUTHORIZED
            )
        login(request, user)
        get_token(request)
        return Response(UserSerializer(user).data)


class TokenView(LoginView):
    """Token for programs (bidders' clients): `Authorization: Token <key>`."""

    @extend_schema(request=LoginSerializer, responses={200: dict})
    def post(self, request):
        data = validated(LoginSerializer, request)
        user = authenticate(request, username=data["username"], password=data["password"])
        if user is None:
            raise DomainError(
                "invalid_credentials", "用户名或密码错误", "Wrong username or password", status_code=status.HTTP_401_UNAUTHORIZED
            )
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key, "user": UserSerializer(user).data})


class LogoutView(APIView):
    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        logout(request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema(responses=UserSerializer)
    def get(self, request):
        return Response(UserSerializer(request.user).data)


class RuleSetViewSet(viewsets.ReadOnlyModelViewSet):
    permission_classes = [AllowAny]
    serializer_class = RuleSetSerializer
    queryset = RuleSet.objects.all()
    lookup_field = "code"


class ProjectViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ProjectSerializer

    def get_queryset(self):
        lots = lots_visible_to(self.request.user).only("id", "seq", "name", "status", "project_id").order_by("seq")
        return projects_visible_to(self.request.user).prefetch_related(Prefetch("lots", queryset=lots))

    @extend_schema(request=ProjectCreateSerializer, responses=ProjectSerializer)
    def create(self, request):
        data = validated(ProjectCreateSerializer, request)
        tenderee = None
        if code := data.pop("tenderee_credit_code", None):
            tenderee = Organisation.objects.filter(credit_code=code).first()
        project = services.project_create(actor=request.user, tenderee=tenderee, **data)
        return Response(ProjectSerializer(project).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=LotCreateSerializer, responses=LotSerializer)
    @action(detail=True, methods=["post"])
    def lots(self, request, pk=None):
        lot = services.lot_create(actor=request.user, project=self.get_object(), **validated(LotCreateSerializer, request))
        return Response(LotSerializer(lot).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=NoteSerializer, responses=ReviewSerializer)
    @action(detail=True, methods=["post"], url_path="submit-registration")
    def submit_registration(self, request, pk=None):
        review = services.registration_submit(project=self.get_object(), actor=request.user, **validated(NoteSerializer, request))
        return Response(ReviewSerializer(review).data, status=status.HTTP_201_CREATED)


class ReviewViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ReviewSerializer
    filterset_fields = ["kind", "status", "project", "lot"]

    def get_queryset(self):
        return reviews_visible_to(self.request.user)

    def _decide(self, request, accept: bool, reasons: str = ""):
        review = self.get_object()
        decide = services.registration_decide if review.kind == "registration" else services.filing_decide
        return Response(ReviewSerializer(decide(review=review, actor=request.user, accept=accept, reasons=reasons)).data)

    @extend_schema(request=None, responses=ReviewSerializer)
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        return self._decide(request, True)

    @extend_schema(request=ReasonsSerializer, responses=ReviewSerializer)
    @action(detail=True, methods=["post"], url_path="return")
    def return_(self, request, pk=None):
        return self._decide(request, False, validated(ReasonsSerializer, request)["reasons"])


class LotViewSet(viewsets.ReadOnlyModelViewSet):
    """Lots and their lifecycle. Each transition is its own POST action."""

    serializer_class = LotSerializer
    filterset_fields = ["status", "project"]

    def get_queryset(self):
        return lots_visible_to(self.request.user)

    def _lot_response(self, lot):
        return Response(LotSerializer(lot).data)

    @extend_schema(request=FilingSerializer, responses=ReviewSerializer)
    @action(detail=True, methods=["post"], url_path="submit-filing")
    def submit_filing(self, request, pk=None):
        review = services.filing_submit(lot=self.get_object(), actor=request.user, **validated(FilingSerializer, request))
        return Response(ReviewSerializer(review).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=PublishSerializer, responses=LotSerializer)
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        lot, _ = services.lot_publish(lot=self.get_object(), actor=request.user, **validated(PublishSerializer, request))
        return self._lot_response(lot)

    @extend_schema(request=ClarificationSerializer, responses={201: dict})
    @action(detail=True, methods=["post"])
    def clarifications(self, request, pk=None):
        notice = services.clarification_publish(
            lot=self.get_object(), actor=request.user, **validated(ClarificationSerializer, request)
        )
        return Response({"notice": notice.pk, "bid_deadline": notice.deadline_after}, status=status.HTTP_201_CREATED)

    @extend_schema(request=ReasonsSerializer, responses=LotSerializer)
    @action(detail=True, methods=["post"])
    def suspend(self, request, pk=None):
        return self._lot_response(
            services.lot_suspend(
                lot=self.get_object(), actor=request.user, reason=validated(ReasonsSerializer, request)["reasons"]
            )
        )

    @extend_schema(request=None, responses=LotSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        return self._lot_response(services.lot_resume(lot=self.get_object(), actor=request.user))

    @extend_schema(request=ReasonsSerializer, responses=LotSerializer)
    @action(detail=True, methods=["post"])
    def terminate(self, request, pk=None):
        return self._lot_response(
            services.lot_terminate(
                lot=self.get_object(), actor=request.user, reason=validated(ReasonsSerializer, request)["reasons"]
            )
        )

    @extend_schema(request=ReasonsSerializer, responses=LotSerializer)
    @action(detail=True, methods=["post"])
    def fail(self, request, pk=None):
        reason = validated(ReasonsSerializer, request)["reasons"]
        return self._lot_response(services.lot_fail(lot=self.get_object(), actor=request.user, reason=reason))

    @extend_schema(request=None, responses=LotSerializer)
    @action(detail=True, methods=["post"])
    def retender(self, request, pk=None):
        lot = services.lot_retender(lot=self.get_object(), actor=request.user)
        return Response(LotSerializer(lot).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=LotSerializer)
    @action(detail=True, methods=["post"], url_path="start-evaluation")
    def start_evaluation(self, request, pk=None):
        return self._lot_response(services.lot_start_evaluation(lot=self.get_object(), actor=request.user))

    @extend_schema(request=None, responses=LotSerializer)
    @action(detail=True, methods=["post"], url_path="start-publicity")
    def start_publicity(self, request, pk=None):
        return self._lot_response(services.lot_start_publicity(lot=self.get_object(), actor=request.user))

    @extend_schema(responses={200: dict})
    @action(detail=True, methods=["get"])
    def candidates(self, request, pk=None):
        """The winning candidates, once published (publicity and after): the publicity notice already shows them
        to everyone, while before it the ranking stays with the committee (法37, 法40)."""
        lot = self.get_object()
        published = lot.status in (LotStatus.PUBLICITY, LotStatus.AWARDED, LotStatus.ARCHIVED) or (
            lot.status == LotStatus.SUSPENDED and lot.suspended_from == LotStatus.PUBLICITY
        )
        return Response(services.lot_candidates(lot) if published else [])

    @extend_schema(request=None, responses=LotSerializer)
    @action(detail=True, methods=["post"])
    def archive(self, request, pk=None):
        return self._lot_response(services.lot_archive(lot=self.get_object(), actor=request.user))

    @extend_schema(request=DocumentUploadSerializer, responses=DocumentSerializer)
    @action(detail=True, methods=["get", "post"])
    def documents(self, request, pk=None):
        lot = self.get_object()
        if request.method == "GET":
            return Response(DocumentSerializer(lot.documents.all(), many=True).data)
        upload = validated(DocumentUploadSerializer, request)["file"]
        document = services.document_upload(
            lot=lot, actor=request.user, filename=upload.name, stream=upload, size=upload.size, content_type=upload.content_type
        )
        return Response(DocumentSerializer(document).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ObjectionCreateSerializer, responses=ObjectionSerializer)
    @action(detail=True, methods=["get", "post"])
    def objections(self, request, pk=None):
        lot = self.get_object()
        if request.method == "GET":
            return Response(ObjectionSerializer(objections_visible_to(request.user).filter(lot=lot), many=True).data)
        objection = services.objection_raise(lot=lot, actor=request.user, **validated(ObjectionCreateSerializer, request))
        return Response(ObjectionSerializer(objection).data, status=status.HTTP_201_CREATED)


class ObjectionViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ObjectionSerializer
    filterset_fields = ["lot", "status", "stage"]

    def get_queryset(self):
        return objections_visible_to(self.request.user)

    @extend_schema(request=AnswerSerializer, responses=ObjectionSerializer)
    @action(detail=True, methods=["post"])
    def answer(self, request, pk=None):
        objection = services.objection_answer(
            objection=self.get_object(), actor=request.user, **validated(AnswerSerializer, request)
        )
        return Response(ObjectionSerializer(objection).data)


class OrganisationViewSet(viewsets.ReadOnlyModelViewSet):
    permission_classes = [IsAuthenticated]
    serializer_class = OrganisationSerializer

    def get_queryset(self):
        user = self.request.user
        if not user.is_authenticated:
            return Organisation.objects.none()
        if user.role in ("staff", "supervisor"):
            return Organisation.objects.all()
        return Organisation.objects.filter(pk=user.organisation_id)

    @extend_schema(request=ContactSerializer, responses=OrganisationSerializer)
    @action(detail=True, methods=["post"])
    def contact(self, request, pk=None):
        organisation = services.organisation_update_contact(
            organisation=self.get_object(), actor=request.user, **validated(ContactSerializer, request)
        )
        return Response(OrganisationSerializer(organisation).data)


class RegionalMessageViewSet(viewsets.ReadOnlyModelViewSet):
    """The regional link's pushes (docs/regional-exchange.md): staff and supervisors follow them; staff send one again."""

    serializer_class = RegionalMessageSerializer
    filterset_fields = ["lot", "status", "table"]

    def get_queryset(self):
        if getattr(self.request.user, "role", None) not in ("staff", "supervisor"):
            return RegionalMessage.objects.none()
        return RegionalMessage.objects.select_related("lot").order_by("lot_id", "seq")

    @extend_schema(request=None, responses=RegionalMessageSerializer)
    @action(detail=True, methods=["post"])
    def resend(self, request, pk=None):
        from trading.regional.outbox import resend

        return Response(RegionalMessageSerializer(resend(message=self.get_object(), actor=request.user)).data)
