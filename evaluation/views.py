"""HTTP for the expert draw and the evaluation method: thin views over evaluation/services.py; querysets scoped by
evaluation/selectors.py."""

import ipaddress
from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.context import normalise_ip
from evaluation import bidfiles, services, session_selectors
from evaluation import session as evaluation_session
from evaluation.models import (
    Criterion,
    CriterionStage,
    DrawnExpert,
    DrawRequest,
    EvaluationKind,
    EvaluationMethod,
    EvaluationSession,
    Venue,
)
from evaluation.selectors import WATCHERS, draw_requests_visible_to, members_visible_to, methods_visible_to
from trading.api import validated
from trading.models import Lot, PriceFormula
from trading.selectors import lots_visible_to

# --- Serializers (shapes only; the rules are in the services) -----------------------------------------------------


class LineInSerializer(serializers.Serializer):
    specialty_code = serializers.CharField(max_length=20)
    count = serializers.IntegerField(min_value=1, max_value=50)


class VenueInSerializer(serializers.Serializer):
    venue = serializers.PrimaryKeyRelatedField(queryset=Venue.objects.all())
    seats = serializers.IntegerField(min_value=1, max_value=200)


class DrawRequestCreateSerializer(serializers.Serializer):
    lot = serializers.IntegerField()
    lines = LineInSerializer(many=True)
    venues = VenueInSerializer(many=True)
    window_start = serializers.DateTimeField()
    window_end = serializers.DateTimeField()
    backups_per_line = serializers.IntegerField(min_value=0, max_value=20, default=2)
    tenderee_reps = serializers.IntegerField(min_value=0, max_value=20, default=0)
    response_minutes = serializers.IntegerField(min_value=1, max_value=24 * 60, default=30)
    excluded_employers = serializers.ListField(child=serializers.CharField(max_length=18), default=list)
    excluded_experts = serializers.ListField(child=serializers.IntegerField(), default=list)
    exclusion_note = serializers.CharField(allow_blank=True, default="")
    regional_pool = serializers.BooleanField(default=False)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField()


class OptionalReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True, default="")


class VenueSerializer(serializers.ModelSerializer):
    class Meta:
        model = Venue
        fields = ["id", "name", "kind", "seats", "region_code", "networks", "active", "centre_code"]


class DrawRequestSerializer(serializers.ModelSerializer):
    lines = serializers.SerializerMethodField()
    venues = serializers.SerializerMethodField()
    draw = serializers.SerializerMethodField()

    class Meta:
        model = DrawRequest
        fields = [
            "id",
            "lot",
            "status",
            "lines",
            "backups_per_line",
            "tenderee_reps",
            "venues",
            "window_start",
            "window_end",
            "response_minutes",
            "excluded_employers",
            "excluded_experts",
            "exclusion_note",
            "regional_pool",
            "created_at",
            "fixed_at",
            "draw",
        ]

    def get_lines(self, obj) -> list[dict]:
        return [{"specialty_code": line.specialty_code, "count": line.count} for line in obj.lines.all()]

    def get_venues(self, obj) -> list[dict]:
        return [{"venue": b.venue_id, "name": b.venue.name, "kind": b.venue.kind, "seats": b.seats} for b in obj.venues.all()]

    def get_draw(self, obj) -> dict | None:
        draw = getattr(obj, "draw", None)
        if draw is None:
            return None
        return {
            "id": draw.pk,
            "commitment": draw.commitment,
            "snapshot_sha256": draw.snapshot_sha256,
            "created_at": draw.created_at,
            "seed": draw.seed or None,
            "revealed_at": draw.revealed_at,
        }


class MemberSerializer(serializers.ModelSerializer):
    """What staff and supervisors see."""

    expert_name = serializers.CharField(source="expert.name")
    specialty_code = serializers.CharField(source="line.specialty_code")
    request = serializers.IntegerField(source="draw.request_id")
    lot = serializers.IntegerField(source="draw.request.lot_id")

    class Meta:
        model = DrawnExpert
        fields = [
            "id",
            "request",
            "lot",
            "specialty_code",
            "position",
            "expert",
            "expert_name",
            "status",
            "venue",
            "seat",
            "invited_at",
            "respond_by",
            "responded_at",
            "reason",
        ]


class InvitationSerializer(serializers.ModelSerializer):
    """What the expert sees of their own invitation: when, where, by when to answer. Not the lot, not the others."""

    venue_name = serializers.CharField(source="venue.name", default=None)
    window_start = serializers.DateTimeField(source="draw.request.window_start")
    window_end = serializers.DateTimeField(source="draw.request.window_end")

    class Meta:
        model = DrawnExpert
        fields = [
            "id",
            "status",
            "venue",
            "venue_name",
            "seat",
            "window_start",
            "window_end",
            "invited_at",
            "respond_by",
            "responded_at",
        ]


# --- Views ---------------------------------------------------------------------------------------------------------


class VenueViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = VenueSerializer

    def get_queryset(self):
        user = self.request.user
        return Venue.objects.all() if user.is_authenticated and user.role in WATCHERS else Venue.objects.none()


class DrawRequestViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """专家抽取申请: staff create and run; staff and supervisors read. Nobody else sees that they exist."""

    serializer_class = DrawRequestSerializer
    filterset_fields = ["lot", "status"]

    def get_queryset(self):
        return draw_requests_visible_to(self.request.user)

    @extend_schema(request=DrawRequestCreateSerializer, responses=DrawRequestSerializer)
    def create(self, request):
        data = validated(DrawRequestCreateSerializer, request)
        lot = get_object_or_404(lots_visible_to(request.user), pk=data.pop("lot"))
        draw_request = services.draw_request_create(lot=lot, actor=request.user, **data)
        return Response(DrawRequestSerializer(draw_request).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=DrawRequestSerializer)
    @action(detail=True, methods=["post"])
    def run(self, request, pk=None):
        services.draw_run(request=self.get_object(), actor=request.user)
        return Response(DrawRequestSerializer(self.get_queryset().get(pk=pk)).data)

    @extend_schema(request=ReasonSerializer, responses=DrawRequestSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        reason = validated(ReasonSerializer, request)["reason"]
        return Response(
            DrawRequestSerializer(services.draw_request_cancel(request=self.get_object(), actor=request.user, reason=reason)).data
        )

    @extend_schema(responses=MemberSerializer(many=True))
    @action(detail=True, methods=["get"])
    def members(self, request, pk=None):
        rows = members_visible_to(request.user).filter(draw__request=self.get_object())
        return Response(MemberSerializer(rows, many=True).data)


class CommitteeMemberViewSet(viewsets.ReadOnlyModelViewSet):
    """Drawn experts. Staff and supervisors see every row with names; an expert sees their own invitations only."""

    filterset_fields = ["status"]

    def get_queryset(self):
        return members_visible_to(self.request.user)

    def get_serializer_class(self):
        return MemberSerializer if getattr(self.request.user, "role", None) in WATCHERS else InvitationSerializer

    def _answer(self, request, accept: bool):
        data = validated(OptionalReasonSerializer, request)
        member = services.member_respond(member=self.get_object(), actor=request.user, accept=accept, reason=data["reason"])
        return Response(self.get_serializer_class()(self.get_queryset().get(pk=member.pk)).data)

    @extend_schema(request=OptionalReasonSerializer, responses=InvitationSerializer)
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        return self._answer(request, True)

    @extend_schema(request=ReasonSerializer, responses=InvitationSerializer)
    @action(detail=True, methods=["post"])
    def decline(self, request, pk=None):
        return self._answer(request, False)

    @extend_schema(request=ReasonSerializer, responses=MemberSerializer)
    @action(detail=True, methods=["post"])
    def replace(self, request, pk=None):
        reason = validated(ReasonSerializer, request)["reason"]
        member = services.member_replace(member=self.get_object(), actor=request.user, reason=reason)
        return Response(MemberSerializer(self.get_queryset().get(pk=member.pk)).data)


# --- The evaluation method (评标办法) -------------------------------------------------------------------------------


class CriterionInSerializer(serializers.Serializer):
    stage = serializers.ChoiceField(choices=CriterionStage.choices)
    name = serializers.CharField(max_length=200)
    max_score = serializers.DecimalField(max_digits=5, decimal_places=2, min_value=0, required=False, allow_null=True)
    guidance = serializers.CharField(allow_blank=True, default="")


class MethodInSerializer(serializers.Serializer):
    """The whole method: PUT replaces it all. Parameters left out (or null) take the rule set's value."""

    kind = serializers.ChoiceField(choices=EvaluationKind.choices)
    technical_weight = serializers.DecimalField(max_digits=5, decimal_places=2, min_value=0, max_value=100, default=0)
    commercial_weight = serializers.DecimalField(max_digits=5, decimal_places=2, min_value=0, max_value=100, default=0)
    price_weight = serializers.DecimalField(max_digits=5, decimal_places=2, min_value=0, max_value=100, default=0)
    price_formula = serializers.ChoiceField(choices=PriceFormula.choices, required=False, allow_blank=True, allow_null=True)
    price_drop_extremes = serializers.BooleanField(required=False, allow_null=True, default=None)
    price_drop_min_bids = serializers.IntegerField(min_value=0, max_value=1000, required=False, allow_null=True)
    price_k = serializers.DecimalField(max_digits=5, decimal_places=4, required=False, allow_null=True)
    price_e_above = serializers.DecimalField(max_digits=5, decimal_places=2, required=False, allow_null=True)
    price_e_below = serializers.DecimalField(max_digits=5, decimal_places=2, required=False, allow_null=True)
    score_drop_extremes = serializers.BooleanField(required=False, allow_null=True, default=None)
    score_drop_min_members = serializers.IntegerField(min_value=0, max_value=1000, required=False, allow_null=True)
    note = serializers.CharField(allow_blank=True, default="")
    criteria = CriterionInSerializer(many=True)


class MethodCreateSerializer(MethodInSerializer):
    lot = serializers.IntegerField()


class CriterionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Criterion
        fields = ["id", "stage", "position", "name", "max_score", "guidance"]


class MethodSerializer(serializers.ModelSerializer):
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    criteria = serializers.SerializerMethodField()

    class Meta:
        model = EvaluationMethod
        fields = [
            "id",
            "lot",
            "kind",
            "kind_label",
            "technical_weight",
            "commercial_weight",
            "price_weight",
            "price_formula",
            "price_drop_extremes",
            "price_drop_min_bids",
            "price_k",
            "price_e_above",
            "price_e_below",
            "score_drop_extremes",
            "score_drop_min_members",
            "note",
            "criteria",
            "created_at",
            "updated_at",
        ]

    def get_criteria(self, obj) -> list[dict]:
        order = {stage: i for i, stage in enumerate(CriterionStage.values)}
        rows = sorted(obj.criteria.all(), key=lambda c: (order[c.stage], c.position))
        return CriterionSerializer(rows, many=True).data


class EvaluationMethodViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """评标办法 of a lot. The tenderee side creates and replaces it until the documents are issued; whoever may see the
    lot may read it (bidders once the documents are issued: it is part of them). The lot travels in the body."""

    serializer_class = MethodSerializer
    filterset_fields = ["lot", "kind"]

    def get_queryset(self):
        return methods_visible_to(self.request.user)

    @extend_schema(request=MethodCreateSerializer, responses=MethodSerializer)
    def create(self, request):
        data = validated(MethodCreateSerializer, request)
        lot = get_object_or_404(lots_visible_to(request.user), pk=data.pop("lot"))
        method = services.method_create(lot=lot, actor=request.user, spec=services.MethodInput(**data))
        return Response(MethodSerializer(self.get_queryset().get(pk=method.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=MethodInSerializer, responses=MethodSerializer)
    def update(self, request, pk=None):
        spec = services.MethodInput(**validated(MethodInSerializer, request))
        method = services.method_replace(method=self.get_object(), actor=request.user, spec=spec)
        return Response(MethodSerializer(self.get_queryset().get(pk=method.pk)).data)


# --- The opened bids, for the committee ---------------------------------------------------------------------------


def _lot(request, lot_id) -> Lot:
    return get_object_or_404(Lot, pk=lot_id)


class OpenedBidsView(APIView):
    """The lot's opened bids: confirmed committee members only, during evaluation (anyone else: 404)."""

    @extend_schema(responses={200: dict})
    def get(self, request, lot_id):
        return Response(bidfiles.opened_bids(lot=_lot(request, lot_id), user=request.user))


class OpenedBidFileView(APIView):
    """One opened bid, streamed from the object store through the platform, so that every read is checked and
    audited (no presigned link that could be passed on)."""

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request, lot_id, bid_id):
        bid, stream = bidfiles.opened_bid_read(lot=_lot(request, lot_id), bid_id=bid_id, user=request.user)
        response = StreamingHttpResponse(stream, content_type="application/octet-stream")
        response["Content-Length"] = str(bid.plaintext_size)
        response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(bid.bidder.name)}.zip"
        response["X-Content-SHA256"] = bid.plaintext_sha256
        response["Cache-Control"] = "no-store"
        return response


# --- The evaluation session (评标过程) --------------------------------------------------------------------------------
# Every path starts from session_selectors.session_for: bidders, the tenderee side and experts not sitting get 404
# before any service runs; staff and supervisors then meet the services' own role checks (supervisors only read).


class PhaseInSerializer(serializers.Serializer):
    phase = serializers.ChoiceField(choices=EvaluationSession.Phase.choices)


class SignInSerializer(serializers.Serializer):
    venue = serializers.IntegerField()


class DeclarationSerializer(serializers.Serializer):
    conflict = serializers.BooleanField()
    note = serializers.CharField(allow_blank=True, default="", max_length=500)


class ChairVoteSerializer(serializers.Serializer):
    candidate = serializers.IntegerField()


class VerdictSerializer(serializers.Serializer):
    bid = serializers.UUIDField()
    criterion = serializers.IntegerField()
    passed = serializers.BooleanField()
    reason = serializers.CharField(allow_blank=True, default="", max_length=500)


class ReviewInSerializer(serializers.Serializer):
    phase = serializers.ChoiceField(choices=["qualification", "compliance"])
    verdicts = VerdictSerializer(many=True)


class ScoreInSerializer(serializers.Serializer):
    bid = serializers.UUIDField()
    criterion = serializers.IntegerField()
    score = serializers.CharField(max_length=12)


class ScoresInSerializer(serializers.Serializer):
    scores = ScoreInSerializer(many=True)


class AmendSerializer(serializers.Serializer):
    score = serializers.CharField(max_length=12)


class ExtensionInSerializer(serializers.Serializer):
    minutes = serializers.IntegerField(min_value=1, max_value=24 * 60)
    reason = serializers.CharField(max_length=500)


class BallotSerializer(serializers.Serializer):
    yes = serializers.BooleanField()


def client_address(request) -> str | None:
    """The address a member signs in from (the venue check, member_sign_in): REMOTE_ADDR; when that is one of
    settings.TRUSTED_PROXIES, the X-Forwarded-For hop next to it (the rightmost entry that is not itself a trusted
    proxy): the entries further left were written by the client and prove nothing."""
    try:
        proxies = [ipaddress.ip_network(p, strict=False) for p in settings.TRUSTED_PROXIES]
    except ValueError as error:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: {error}") from None
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    address = normalise_ip(request.META.get("REMOTE_ADDR"))
    while address is not None and hops and any(ipaddress.ip_address(address) in p for p in proxies):
        address = normalise_ip(hops.pop())
    return address


def _session_or_404(request, lot_id):
    lot = _lot(request, lot_id)
    return (lot, *session_selectors.session_for(lot=lot, user=request.user))


class EvaluationSessionView(APIView):
    """GET the lot's session as the user may see it (members, staff, supervisors; anyone else 404)."""

    @extend_schema(responses={200: dict})
    def get(self, request, lot_id):
        _, session, seat = _session_or_404(request, lot_id)
        return Response(session_selectors.session_state(session, seat=seat))


class EvaluationSessionStartView(APIView):
    """Staff open the session (the lot evaluating, its committee fixed)."""

    @extend_schema(request=None, responses={201: dict})
    def post(self, request, lot_id):
        lot = _lot(request, lot_id)
        if getattr(request.user, "role", None) not in WATCHERS:
            raise Http404
        session = evaluation_session.session_start(lot=lot, actor=request.user)
        return Response(session_selectors.session_state(session, seat=None), status=status.HTTP_201_CREATED)


class EvaluationSessionActionView(APIView):
    """POST one action on the session: `action` picks the service; the body is checked by its serializer."""

    action_name = ""

    def _run(self, request, session, seat, **kw):
        data = request.data
        act, user = evaluation_session, request.user
        if self.action_name == "advance":
            return act.session_advance(session=session, actor=user, expected=validated(PhaseInSerializer, request)["phase"])
        if self.action_name == "sign-in":
            venue = validated(SignInSerializer, request)["venue"]
            return act.member_sign_in(session=session, actor=user, venue_id=venue, client_address=client_address(request))
        if self.action_name == "declaration":
            data = validated(DeclarationSerializer, request)
            return act.member_declare(session=session, actor=user, conflict=data["conflict"], note=data["note"])
        if self.action_name == "chair-vote":
            return act.chair_vote(session=session, actor=user, candidate_id=validated(ChairVoteSerializer, request)["candidate"])
        if self.action_name == "reviews":
            data = validated(ReviewInSerializer, request)
            return act.review_submit(session=session, actor=user, phase=data["phase"], verdicts=data["verdicts"])
        if self.action_name == "scores":
            return act.scores_submit(session=session, actor=user, scores=validated(ScoresInSerializer, request)["scores"])
        if self.action_name == "flag-confirm":
            return act.flag_resolve(session=session, actor=user, flag_id=kw["flag_id"])
        if self.action_name == "flag-amend":
            score = validated(AmendSerializer, request)["score"]
            return act.flag_resolve(session=session, actor=user, flag_id=kw["flag_id"], amend_to=score)
        if self.action_name == "extension":
            data = validated(ExtensionInSerializer, request)
            return act.extension_propose(session=session, actor=user, minutes=data["minutes"], reason=data["reason"])
        if self.action_name == "extension-vote":
            yes = validated(BallotSerializer, request)["yes"]
            return act.extension_vote(session=session, actor=user, proposal_id=kw["proposal_id"], yes=yes)
        if self.action_name == "replace":
            member = get_object_or_404(DrawnExpert, pk=kw["member_id"], draw__request=session.request_id)
            reason = validated(ReasonSerializer, request)["reason"]
            return act.session_member_replace(session=session, member=member, actor=user, reason=reason)
        raise Http404

    @extend_schema(request=None, responses={200: dict})
    def post(self, request, lot_id, **kw):
        _, session, seat = _session_or_404(request, lot_id)
        self._run(request, session, seat, **kw)
        session.refresh_from_db()
        if seat is not None:
            seat = bidfiles.committee_seat(lot=session.lot, user=request.user)
        return Response(session_selectors.session_state(session, seat=seat))
