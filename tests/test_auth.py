"""Signing in and what guards the API: Argon2, session and token login, throttling, CSRF, languages, roles, docs, admin."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from rest_framework.test import APIClient

from tests import factories
from trading.models import Role, TenderProject, User

INVALID_CREDENTIALS = {
    "code": "invalid_credentials",
    "detail": "用户名或密码错误",
    "message": {"zh-hans": "用户名或密码错误", "en": "Wrong username or password"},
}
NOT_AUTHENTICATED = {
    "code": "not_authenticated",
    "detail": "未登录或登录已失效",
    "message": {"zh-hans": "未登录或登录已失效", "en": "Authentication credentials were not provided or are invalid."},
}
THROTTLED = {
    "code": "throttled",
    "detail": "请求过于频繁，请稍后再试",
    "message": {"zh-hans": "请求过于频繁，请稍后再试", "en": "Too many requests; try again later."},
}


@pytest.fixture
def bidder(db):
    """Made with create_user, the real hashing path (factories share one cached hash between users)."""
    return User.objects.create_user(
        username="zhangsan", password=factories.PASSWORD, role=Role.BIDDER, organisation=factories.org("bidder", "投标公司甲")
    )


def _login(client, username, password=factories.PASSWORD, **extra):
    return client.post("/api/auth/login/", {"username": username, "password": password}, format="json", **extra)


def _user_json(user) -> dict:
    org = user.organisation
    return {
        "id": user.pk,
        "username": user.username,
        "first_name": "",
        "last_name": "",
        "role": user.role,
        "organisation": {
            "id": org.pk,
            "name": org.name,
            "credit_code": org.credit_code,
            "kind": org.kind,
            "region_code": org.region_code,
            "contact_name": org.contact_name,
            "contact_phone": org.contact_phone,
        },
    }


@pytest.mark.django_db
def test_passwords_are_hashed_with_argon2(bidder):
    bidder.refresh_from_db()
    assert bidder.password.startswith("argon2$argon2id$")
    assert factories.PASSWORD not in bidder.password
    assert bidder.check_password(factories.PASSWORD)
    assert not bidder.check_password("wrong-horse-battery-9")

    bidder.set_password("another-horse-battery-7")
    bidder.save(update_fields=["password"])
    bidder.refresh_from_db()
    assert bidder.password.startswith("argon2$argon2id$")
    assert bidder.check_password("another-horse-battery-7")


# --- Session login -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_session_login_returns_the_user_and_signs_in(bidder):
    client = APIClient()

    r = _login(client, "zhangsan")

    assert r.status_code == 200
    assert r.json() == _user_json(bidder)
    assert client.session["_auth_user_id"] == str(bidder.pk)
    assert r.cookies["sessionid"]["httponly"] is True
    assert r.cookies["csrftoken"].value
    me = client.get("/api/auth/me/")
    assert me.status_code == 200
    assert me.json() == _user_json(bidder)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("username", "password"), [("zhangsan", "wrong-horse-battery-9"), ("nobody", factories.PASSWORD), ("zhangsan", "")]
)
def test_wrong_credentials_are_401_and_sign_nobody_in(bidder, username, password):
    client = APIClient()

    r = _login(client, username, password)

    if password:
        assert r.status_code == 401
        assert r.json() == INVALID_CREDENTIALS
    else:
        assert r.status_code == 400
        assert r.json()["code"] == "validation_error"
        assert list(r.json()["errors"]) == ["password"]
    assert "_auth_user_id" not in client.session
    assert "sessionid" not in r.cookies
    assert client.get("/api/auth/me/").json() == NOT_AUTHENTICATED


@pytest.mark.django_db
def test_inactive_user_cannot_sign_in(bidder):
    bidder.is_active = False
    bidder.save(update_fields=["is_active"])

    r = _login(APIClient(), "zhangsan")

    assert r.status_code == 401
    assert r.json() == INVALID_CREDENTIALS


@pytest.mark.django_db
def test_login_is_throttled_after_ten_attempts_a_minute(bidder):
    client = APIClient()
    start = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as traveller:
        for _ in range(10):
            r = _login(client, "zhangsan", "wrong-horse-battery-9")
            assert r.status_code == 401
            assert r.json() == INVALID_CREDENTIALS

        # The eleventh attempt is refused before the password is even checked: right or wrong.
        traveller.shift(timedelta(seconds=59))
        r = _login(client, "zhangsan")
        assert r.status_code == 429
        assert r.json() == THROTTLED
        assert r["Retry-After"] == "1"
        assert "_auth_user_id" not in client.session
        # The token endpoint shares the same budget.
        r = client.post("/api/auth/token/", {"username": "zhangsan", "password": factories.PASSWORD}, format="json")
        assert r.status_code == 429
        assert r.json() == THROTTLED

        traveller.shift(timedelta(seconds=2))
        r = _login(client, "zhangsan")
        assert r.status_code == 200
        assert client.session["_auth_user_id"] == str(bidder.pk)


@pytest.mark.django_db
def test_throttle_rate_comes_from_settings():
    from django.conf import settings

    assert settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["login"] == "10/min"


# --- Tokens --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_token_then_authorization_header(bidder):
    r = APIClient().post("/api/auth/token/", {"username": "zhangsan", "password": factories.PASSWORD}, format="json")
    assert r.status_code == 200
    body = r.json()
    assert body["user"] == _user_json(bidder)
    key = body["token"]
    assert len(key) == 40

    program = APIClient()
    program.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    me = program.get("/api/auth/me/")
    assert me.status_code == 200
    assert me.json() == _user_json(bidder)
    assert "sessionid" not in me.cookies

    # Asking again hands back the same token.
    again = APIClient().post("/api/auth/token/", {"username": "zhangsan", "password": factories.PASSWORD}, format="json")
    assert again.json()["token"] == key


@pytest.mark.django_db
def test_token_with_wrong_password_and_bad_token_are_refused(bidder):
    r = APIClient().post("/api/auth/token/", {"username": "zhangsan", "password": "wrong-horse-battery-9"}, format="json")
    assert r.status_code == 401
    assert r.json() == INVALID_CREDENTIALS

    program = APIClient()
    program.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    r = program.get("/api/auth/me/")
    assert r.status_code in (401, 403)
    assert r.json() == {
        "code": "authentication_failed",
        "detail": "身份认证失败",
        "message": {"zh-hans": "身份认证失败", "en": "Authentication failed."},
    }


@pytest.mark.django_db
def test_anonymous_me_is_not_authenticated():
    r = APIClient().get("/api/auth/me/")
    assert r.status_code in (401, 403)
    assert r.json() == NOT_AUTHENTICATED


# --- CSRF ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_session_writes_need_the_csrf_token(bidder):
    client = APIClient(enforce_csrf_checks=True)
    assert _login(client, "zhangsan").status_code == 200

    refused = client.post("/api/auth/logout/")
    assert refused.status_code == 403
    assert refused.json()["code"] == "csrf_failed"
    assert refused.json()["message"] == {
        "zh-hans": "CSRF 校验失败，请刷新页面后重试",
        "en": "CSRF check failed; reload the page and try again.",
    }
    # Nothing changed: still signed in.
    assert client.session["_auth_user_id"] == str(bidder.pk)
    assert client.get("/api/auth/me/").status_code == 200

    wrong = client.post("/api/auth/logout/", HTTP_X_CSRFTOKEN="x" * 32)
    assert wrong.status_code == 403
    assert wrong.json()["code"] == "csrf_failed"
    assert client.session["_auth_user_id"] == str(bidder.pk)

    allowed = client.post("/api/auth/logout/", HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    assert allowed.status_code == 204
    assert "_auth_user_id" not in client.session
    assert client.get("/api/auth/me/").json() == NOT_AUTHENTICATED


@pytest.mark.django_db
def test_token_clients_need_no_csrf_token(bidder):
    key = (
        APIClient()
        .post("/api/auth/token/", {"username": "zhangsan", "password": factories.PASSWORD}, format="json")
        .json()["token"]
    )
    program = APIClient(enforce_csrf_checks=True)
    program.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert program.post("/api/auth/logout/").status_code == 204


# --- Languages -----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("accept_language", "detail"),
    [
        (None, "用户名或密码错误"),
        ("zh-CN,zh;q=0.9", "用户名或密码错误"),
        ("en", "Wrong username or password"),
        ("en-US,en;q=0.9", "Wrong username or password"),
    ],
)
def test_accept_language_picks_the_detail(bidder, accept_language, detail):
    extra = {"HTTP_ACCEPT_LANGUAGE": accept_language} if accept_language else {}
    r = _login(APIClient(), "zhangsan", "wrong-horse-battery-9", **extra)
    assert r.status_code == 401
    assert r.json() == {**INVALID_CREDENTIALS, "detail": detail}


@pytest.mark.django_db
def test_accept_language_applies_to_framework_errors():
    r = APIClient().get("/api/auth/me/", HTTP_ACCEPT_LANGUAGE="en")
    assert r.json() == {**NOT_AUTHENTICATED, "detail": "Authentication credentials were not provided or are invalid."}


# --- Roles ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_staff_cannot_create_a_project(parties, client_for):
    factories.rule_set()
    r = client_for(parties.staff).post(
        "/api/projects/",
        {"code": "GX-2026-009", "name": "某县二级公路改扩建工程", "rule_set": "construction", "region_code": "450102"},
        format="json",
    )
    assert r.status_code == 403
    assert r.json() == {
        "code": "role_not_allowed",
        "detail": "只有招标人、招标代理可以执行此操作",
        "message": {"zh-hans": "只有招标人、招标代理可以执行此操作", "en": "Only tenderee, agency may do this"},
    }
    assert TenderProject.objects.count() == 0


# --- Docs and admin ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_swagger_ui_and_openapi_schema(client):
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content

    r = client.get("/api/schema/", {"format": "json"})
    assert r.status_code == 200
    schema = r.json()
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "公共资源交易中心 电子招投标与远程评标平台 API"
    assert "/api/lots/{id}/publish/" in schema["paths"]
    assert list(schema["paths"]["/api/lots/{id}/publish/"]) == ["post"]
    assert "/api/notices/" in schema["paths"]
    assert "/api/auth/login/" in schema["paths"]


@pytest.mark.django_db
def test_admin_login_page_is_in_chinese(client):
    r = client.get("/admin/login/")
    assert r.status_code == 200
    page = r.content.decode()
    assert "公共资源交易中心 管理后台" in page
    assert "登录" in page
    assert r["Content-Language"] == "zh-hans"


@pytest.mark.django_db
def test_admin_needs_a_staff_superuser(parties, client):
    r = client.get("/admin/")
    assert r.status_code == 302
    assert r["Location"] == "/admin/login/?next=/admin/"
    client.force_login(parties.staff)  # a centre staff role, but not Django's is_staff
    assert client.get("/admin/").status_code == 302
    client.force_login(parties.admin)
    assert client.get("/admin/").status_code == 200
