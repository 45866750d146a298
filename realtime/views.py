"""HTTP for realtime: the websocket ticket (realtime/tickets.py)."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from realtime.tickets import TICKET_SECONDS, ticket_issue


class TicketView(APIView):
    """A single-use ticket, valid TICKET_SECONDS, for `/ws/...?ticket=`: how a program holding an API token opens a
    websocket without putting the token in a URL."""

    @extend_schema(request=None, responses={200: dict})
    def post(self, request):
        ticket = ticket_issue(user=request.user)
        return Response({"ticket": ticket, "expires_in": TICKET_SECONDS}, headers={"Cache-Control": "no-store"})
