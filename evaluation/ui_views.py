"""Reads for the web UI's expert pages (frontend/web/src/areas/expert).

`GET /api/expert-rooms/`: the evaluation rooms the signed-in expert may enter — each lot on whose fixed committee
they hold a confirmed seat, once that lot is being evaluated (or its session exists). The invitation itself never
names the lot (docs/experts.md, "Secrecy"); a member learns it here only when the same rule that opens the room, the
opened bids and the session to them (`committee_of`, `bidfiles.committee_seat`) already lets them see it. Anyone
else, in any role, gets an empty list.
"""

from django.db.models import Q
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from evaluation.models import DrawnExpert, DrawRequest, MemberStatus
from trading.models import LotStatus, Role


def expert_rooms(user) -> list[dict]:
    if not user.is_authenticated or user.role != Role.EXPERT:
        return []
    seats = (
        DrawnExpert.objects.filter(
            expert__user=user, status=MemberStatus.CONFIRMED, draw__request__status=DrawRequest.Status.FIXED
        )
        .filter(Q(draw__request__lot__status=LotStatus.EVALUATING) | Q(draw__request__lot__evaluation_session__isnull=False))
        .select_related("venue", "draw__request__lot__project", "draw__request__lot__evaluation_session")
        .order_by("-draw__request__window_start", "pk")
    )
    rows = []
    for seat in seats:
        request = seat.draw.request
        lot = request.lot
        session = getattr(lot, "evaluation_session", None)
        rows.append(
            {
                "member": seat.pk,
                "lot": lot.pk,
                "lot_name": lot.name,
                "project_name": lot.project.name,
                "transaction_code": lot.transaction_code,
                "venue": seat.venue_id,
                "venue_name": seat.venue.name if seat.venue else None,
                "seat": seat.seat,
                "window_start": request.window_start,
                "window_end": request.window_end,
                "phase": session.phase if session else None,
            }
        )
    return rows


class ExpertRoomsView(APIView):
    """The evaluation rooms the signed-in expert sits in (empty for everyone else)."""

    @extend_schema(responses={200: dict})
    def get(self, request):
        return Response(expert_rooms(request.user))
