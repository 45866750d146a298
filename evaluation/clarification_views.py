"""HTTP for clarifications (条例52) and price adjustments: thin views over evaluation/clarifications.py.

`GET /api/clarifications/` is scoped by `clarifications_visible_to`: a bidder's users see the questions to their own
bids without the member who asked; committee members, staff and supervisors see the lot's, with the asker.
"""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.views import APIView

from evaluation import clarifications, session_selectors
from evaluation.bidfiles import committee_seat
from evaluation.models import Clarification
from evaluation.views import _session_or_404
from trading.api import validated
from trading.models import Role


class AskSerializer(serializers.Serializer):
    bid = serializers.UUIDField()
    question = serializers.CharField(max_length=clarifications.QUESTION_MAX)
    minutes = serializers.IntegerField(min_value=clarifications.MIN_MINUTES, max_value=clarifications.MAX_MINUTES)


class AnswerSerializer(serializers.Serializer):
    answer = serializers.CharField(max_length=clarifications.ANSWER_MAX)


class AdjustmentSerializer(serializers.Serializer):
    bid = serializers.UUIDField()
    factor = serializers.CharField(max_length=200)
    amount = serializers.CharField(max_length=20)
    reason = serializers.CharField(max_length=500)


class ClarificationSerializer(serializers.ModelSerializer):
    """What a bidder sees: the question, the time limit and its own answer; never who asked."""

    lot = serializers.IntegerField(source="session.lot_id")
    bid = serializers.UUIDField(source="bid_id")

    class Meta:
        model = Clarification
        fields = ["id", "lot", "bid", "question", "asked_at", "due_at", "answer", "answered_at"]


class CommitteeClarificationSerializer(ClarificationSerializer):
    """What the committee, staff and supervisors see: also the bidder, the phase and the member who asked."""

    bidder = serializers.CharField(source="bid.bidder.name")

    class Meta(ClarificationSerializer.Meta):
        fields = [*ClarificationSerializer.Meta.fields, "bidder", "phase", "asked_by", "answered_by"]


class ClarificationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """澄清、说明: bidders read and answer the questions to their bids; the committee and watchers read the lot's."""

    def get_queryset(self):
        rows = clarifications.clarifications_visible_to(self.request.user).order_by("asked_at", "id")
        lot = self.request.query_params.get("lot")
        return rows.filter(session__lot_id=lot) if lot and lot.isdigit() else rows

    def get_serializer_class(self):
        bidder = getattr(self.request.user, "role", None) == Role.BIDDER
        return ClarificationSerializer if bidder else CommitteeClarificationSerializer

    @extend_schema(request=AnswerSerializer, responses=ClarificationSerializer)
    @action(detail=True, methods=["post"])
    def answer(self, request, pk=None):
        text = validated(AnswerSerializer, request)["answer"]
        answered = clarifications.clarification_answer(clarification=self.get_object(), actor=request.user, answer=text)
        return Response(self.get_serializer_class()(answered).data)


class ClarificationAskView(APIView):
    """POST …/evaluation-session/clarifications/: the chair asks a bidder (201, the question as the committee sees it)."""

    @extend_schema(request=AskSerializer, responses={201: CommitteeClarificationSerializer})
    def post(self, request, lot_id):
        _, session, _ = _session_or_404(request, lot_id)
        data = validated(AskSerializer, request)
        asked = clarifications.clarification_ask(
            session=session, actor=request.user, bid_id=data["bid"], question=data["question"], minutes=data["minutes"]
        )
        return Response(CommitteeClarificationSerializer(asked).data, status=status.HTTP_201_CREATED)


class PriceAdjustmentView(APIView):
    """POST …/evaluation-session/price-adjustments/: the chair adjusts a bid's price (lowest evaluated price)."""

    @extend_schema(request=AdjustmentSerializer, responses={201: dict})
    def post(self, request, lot_id):
        lot, session, _ = _session_or_404(request, lot_id)
        data = validated(AdjustmentSerializer, request)
        clarifications.price_adjust(
            session=session,
            actor=request.user,
            bid_id=data["bid"],
            factor=data["factor"],
            amount=data["amount"],
            reason=data["reason"],
        )
        session.refresh_from_db()
        seat = committee_seat(lot=lot, user=request.user)
        return Response(session_selectors.session_state(session, seat=seat), status=status.HTTP_201_CREATED)


_router = SimpleRouter()
_router.register("clarifications", ClarificationViewSet, basename="clarification")

# Included by evaluation/urls.py.
urlpatterns = [
    path(
        "lots/<int:lot_id>/evaluation-session/clarifications/",
        ClarificationAskView.as_view(),
        name="evaluation-clarification-ask",
    ),
    path(
        "lots/<int:lot_id>/evaluation-session/price-adjustments/",
        PriceAdjustmentView.as_view(),
        name="evaluation-price-adjustment",
    ),
    *_router.urls,
]
