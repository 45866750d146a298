"""Single-use, 30-second tickets that let a program holding an API token open a websocket.

Browsers authenticate websockets with their session cookie. A program holding an API token cannot put it in a
header of the browser's WebSocket API, and a token in the URL would sit in every proxy's access log for as long
as the token lives. Instead it asks `POST /api/realtime/ticket/` (authenticated by its token or session like any
API call) for a ticket and connects to `/ws/...?ticket=<ticket>` within TICKET_SECONDS. The ticket is 32 random
bytes; the cache (Redis when REDIS_URL is set) keeps only its SHA-256 with the user and the expiry, and the first
connection that presents it deletes it, so a ticket copied from a log is already spent or about to expire.
"""

import hashlib
import secrets
from datetime import datetime, timedelta
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.utils import timezone

TICKET_SECONDS = 30


def _key(ticket: str) -> str:
    return "rt:ticket:" + hashlib.sha256(ticket.encode()).hexdigest()


def ticket_issue(*, user, now: datetime | None = None) -> str:
    now = now or timezone.now()
    ticket = secrets.token_urlsafe(32)
    expires = now + timedelta(seconds=TICKET_SECONDS)
    cache.set(_key(ticket), {"user": user.pk, "expires": expires.timestamp()}, TICKET_SECONDS + 5)
    return ticket


def ticket_redeem(ticket: str, *, now: datetime | None = None):
    """The ticket's active user, once; AnonymousUser for an unknown, spent or expired ticket."""
    now = now or timezone.now()
    key = _key(ticket)
    entry = cache.get(key)
    # delete() is true for one caller only: two connections racing with the same ticket get one user between them.
    if entry is None or not cache.delete(key) or now.timestamp() >= entry["expires"]:
        return AnonymousUser()
    user = get_user_model().objects.filter(pk=entry["user"], is_active=True).first()
    return user or AnonymousUser()


class TicketAuthMiddleware:
    """Inside AuthMiddlewareStack: a `ticket` query parameter, when present, decides who the user is (a bad one
    makes the connection anonymous, even with a session cookie)."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        tickets = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("ticket")
        if tickets:
            user = await database_sync_to_async(ticket_redeem)(tickets[0])
            scope = dict(scope, user=user)
        return await self.inner(scope, receive, send)
