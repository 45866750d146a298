import datetime as dt

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from audit.services import audit_record
from tests.audit.tampering import tamper

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2025, 3, 1, 2, 0, tzinfo=dt.UTC)
DENIED = {
    "code": "permission_denied",
    "detail": "无权执行此操作",
    "message": {"zh-hans": "无权执行此操作", "en": "You do not have permission to perform this action."},
}
ANONYMOUS = {
    "code": "not_authenticated",
    "detail": "未登录或登录已失效",
    "message": {"zh-hans": "未登录或登录已失效", "en": "Authentication credentials were not provided or are invalid."},
}


@pytest.fixture
def trail(make_user):
    staff = make_user("staff")
    bidder = make_user("bidder")
    events = [
        audit_record(action="lot.created", actor=staff, obj=staff, lot_id=7, after={"name": "一标段"}, now=T0),
        audit_record(action="enrolment.created", actor=bidder, lot_id=7, after={"org": 3}, sealed=True, now=T0),
        audit_record(action="lot.published", actor=staff, lot_id=8, before={"status": "filed"}, now=T0),
    ]
    return staff, events


def _client(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def test_supervisor_lists_the_trail_with_sealed_entries_empty(make_user, trail):
    staff, (first, second, third) = trail
    response = _client(make_user("supervisor")).get("/api/audit/events/")
    assert response.status_code == 200
    assert response.json() == {
        "count": 3,
        "next": None,
        "previous": None,
        "results": [
            {
                "seq": 1,
                "at": "2025-03-01T10:00:00+08:00",
                "sealed": False,
                "actor": staff.pk,
                "actor_username": staff.username,
                "actor_role": "staff",
                "ip": None,
                "action": "lot.created",
                "object_type": "trading.user",
                "object_id": str(staff.pk),
                "lot_id": 7,
                "before": {},
                "after": {"name": "一标段"},
                "prev_hash": "0" * 64,
                "hash": first.hash,
            },
            {"seq": 2, "at": "2025-03-01T10:00:00+08:00", "sealed": True, "prev_hash": first.hash, "hash": second.hash},
            {
                "seq": 3,
                "at": "2025-03-01T10:00:00+08:00",
                "sealed": False,
                "actor": staff.pk,
                "actor_username": staff.username,
                "actor_role": "staff",
                "ip": None,
                "action": "lot.published",
                "object_type": "",
                "object_id": "",
                "lot_id": 8,
                "before": {"status": "filed"},
                "after": {},
                "prev_hash": second.hash,
                "hash": third.hash,
            },
        ],
    }


def test_filters_and_ordering(make_user, trail):
    client = _client(make_user("supervisor"))

    def seqs(query: str) -> list[int]:
        response = client.get(f"/api/audit/events/{query}")
        assert response.status_code == 200
        return [row["seq"] for row in response.json()["results"]]

    assert seqs("?lot_id=7") == [1]
    assert seqs("?lot_id=8") == [3]
    assert seqs("?action=lot.published") == [3]
    assert seqs("?action=enrolment.created") == []
    assert seqs("?ordering=-seq") == [3, 2, 1]
    assert seqs("?page_size=2&page=2") == [3]


def test_list_does_not_run_a_query_per_row(make_user, trail, django_assert_num_queries):
    client = _client(make_user("supervisor"))
    with django_assert_num_queries(2):  # count + page
        assert client.get("/api/audit/events/").status_code == 200


def test_supervisor_and_superuser_verify(make_user, trail):
    for user in (make_user("supervisor"), make_user("staff", is_superuser=True, is_staff=True)):
        response = _client(user).get("/api/audit/verify/")
        assert response.status_code == 200
        assert response.json() == {"ok": True, "checked": 3, "problems": []}


def test_verify_reports_problems(make_user, trail):
    tamper("DELETE FROM audit_auditevent WHERE seq = 2")
    response = _client(make_user("supervisor")).get("/api/audit/verify/")
    assert response.status_code == 200
    assert response.json() == {"ok": False, "checked": 2, "problems": ["seq 2: missing (entry deleted)"]}


def test_verify_is_get_only(make_user, trail):
    response = _client(make_user("supervisor")).post("/api/audit/verify/")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


@pytest.mark.parametrize("role", ["staff", "bidder", "tenderee", "agency", "expert"])
def test_everybody_else_is_refused(make_user, trail, role):
    client = _client(make_user(role))
    for url in ("/api/audit/events/", "/api/audit/events/1/", "/api/audit/verify/"):
        response = client.get(url)
        assert (url, response.status_code, response.json()) == (url, 403, DENIED)
    assert AuditEvent.objects.count() == 3


def test_anonymous_is_refused(trail):
    for url in ("/api/audit/events/", "/api/audit/verify/"):
        response = _client().get(url)
        assert (url, response.status_code, response.json()) == (url, 401, ANONYMOUS)
        assert response["WWW-Authenticate"] == "Token"


def test_session_login_is_refused_the_same_way(make_user, trail):
    # Through the real authentication classes rather than force_authenticate.
    client = APIClient()
    client.force_login(make_user("bidder"))
    response = client.get("/api/audit/events/")
    assert (response.status_code, response.json()) == (403, DENIED)


def test_supervisor_retrieves_one_entry(make_user, trail):
    _, (_, second, _) = trail
    client = _client(make_user("supervisor"))
    response = client.get("/api/audit/events/2/")
    assert (response.status_code, response.json()) == (
        200,
        {"seq": 2, "at": "2025-03-01T10:00:00+08:00", "sealed": True, "prev_hash": second.prev_hash, "hash": second.hash},
    )
    assert client.get("/api/audit/events/4/").status_code == 404
