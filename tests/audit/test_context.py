import pytest
from asgiref.sync import iscoroutinefunction
from django.http import HttpResponse
from django.test import RequestFactory

from audit.context import RequestContextMiddleware, current, current_ip, request_context


def _request(**meta):
    return RequestFactory().get("/", REMOTE_ADDR="192.0.2.10", HTTP_USER_AGENT="Mozilla/5.0 test", **meta)


def test_middleware_sets_the_client_and_resets_it_after_the_response():
    seen = []

    def view(request):
        seen.append(current())
        return HttpResponse("ok")

    middleware = RequestContextMiddleware(view)
    assert not iscoroutinefunction(middleware)
    response = middleware(_request(HTTP_X_FORWARDED_FOR="198.51.100.1"))
    assert response.status_code == 200
    assert [(c.ip, c.user_agent) for c in seen] == [("192.0.2.10", "Mozilla/5.0 test")]
    assert current_ip() is None


def test_forwarded_for_is_trusted_only_when_configured(settings):
    seen = []

    def view(request):
        seen.append(current_ip())
        return HttpResponse("ok")

    middleware = RequestContextMiddleware(view)
    settings.TRUST_X_FORWARDED_FOR = True
    middleware(_request(HTTP_X_FORWARDED_FOR="10.9.9.9, 198.51.100.1"))
    middleware(_request(HTTP_X_FORWARDED_FOR="not-an-ip"))
    middleware(_request())
    settings.TRUST_X_FORWARDED_FOR = False
    middleware(_request(HTTP_X_FORWARDED_FOR="198.51.100.1"))
    assert seen == ["198.51.100.1", None, "192.0.2.10", "192.0.2.10"]


@pytest.mark.asyncio
async def test_async_middleware_sets_and_resets_the_client():
    seen = []

    async def view(request):
        seen.append(current_ip())
        return HttpResponse("ok")

    middleware = RequestContextMiddleware(view)
    assert iscoroutinefunction(middleware)
    response = await middleware(_request())
    assert response.status_code == 200
    assert seen == ["192.0.2.10"]
    assert current_ip() is None


def test_request_context_normalises_and_nests():
    with request_context(ip=" 2001:DB8::0:1 ", user_agent="x" * 600) as outer:
        assert (outer.ip, len(outer.user_agent)) == ("2001:db8::1", 500)
        with request_context(ip="garbage"):
            assert current_ip() is None
        assert current_ip() == "2001:db8::1"
    assert current_ip() is None
