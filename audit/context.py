"""Who is on the other end of the current request: client IP and user agent, for the audit trail.

RequestContextMiddleware sets it per request (sync or async); request_context() sets it in tests and
Celery tasks. X-Forwarded-For is read only with settings.TRUST_X_FORWARDED_FOR = True, and then only its
rightmost entry: the one our own reverse proxy appended (anything left of it came from the client).
"""

import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.decorators import sync_and_async_middleware
from django.utils.ipv6 import clean_ipv6_address

USER_AGENT_MAX = 500


@dataclass(frozen=True)
class RequestContext:
    ip: str | None = None
    user_agent: str = ""


_NOBODY = RequestContext()
_current: ContextVar[RequestContext] = ContextVar("audit_request_context", default=_NOBODY)


def normalise_ip(value: str | None) -> str | None:
    """The address as GenericIPAddressField stores it, or None when it is not an IP address."""
    if not value:
        return None
    value = value.strip()
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if address.version == 4:
        return str(address)
    try:
        return clean_ipv6_address(value)
    except ValidationError:
        return None


def current() -> RequestContext:
    return _current.get()


def current_ip() -> str | None:
    return _current.get().ip


def current_user_agent() -> str:
    return _current.get().user_agent


@contextmanager
def request_context(*, ip: str | None = None, user_agent: str = "") -> Iterator[RequestContext]:
    context = RequestContext(ip=normalise_ip(ip), user_agent=(user_agent or "")[:USER_AGENT_MAX])
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


def client_ip(request) -> str | None:
    if getattr(settings, "TRUST_X_FORWARDED_FOR", False):
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if forwarded:
            return normalise_ip(forwarded[-1])
    return normalise_ip(request.META.get("REMOTE_ADDR"))


@sync_and_async_middleware
class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        with request_context(ip=client_ip(request), user_agent=request.META.get("HTTP_USER_AGENT", "")):
            return self.get_response(request)

    async def __acall__(self, request):
        with request_context(ip=client_ip(request), user_agent=request.META.get("HTTP_USER_AGENT", "")):
            return await self.get_response(request)
