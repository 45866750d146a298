"""The supervision API: supervisors only (and superusers reading); resolving needs a note and is audited."""

from datetime import timedelta

import pytest
import time_machine

from audit.models import AuditEvent
from supervision import services
from supervision.models import Alert
from tests.supervision import kit
from tests.supervision.kit import NOW
from trading.models import LotStatus

pytestmark = pytest.mark.django_db

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
# Who reads: supervisors, and the superuser (who can read the database anyway). Nobody else, staff included: some
# rules watch the centre's own deadlines, and supervisors take every alert up, as they do the audit trail.
READERS = {"supervisor", "admin"}


@pytest.fixture
def alerts(parties):
    """A red same-address alert on one lot (scanned at NOW) and a yellow deadline alert on another (at NOW + 1 h)."""
    collusion = kit.lot(parties, status=LotStatus.EVALUATING)
    kit.bid(collusion, parties.bidders[0], ip="203.0.113.7")
    kit.bid(collusion, parties.bidders[1], ip="203.0.113.7")
    services.scan(now=NOW)
    late = kit.lot(parties, status=LotStatus.OPENING)
    kit.opening(late, deadline=NOW - timedelta(hours=1))
    services.scan(now=NOW + timedelta(hours=1))
    red = Alert.objects.get(rule="same_upload_address")
    yellow = Alert.objects.get(rule="deadline_missed")
    return red, yellow


def alert_state():
    return list(Alert.objects.order_by("pk").values())


def test_every_role_on_the_list(parties, client_for, alerts):
    for label, user in parties.every_role():
        response = client_for(user).get("/api/supervision/alerts/")
        if label in READERS:
            assert (response.status_code, response.json()["count"]) == (200, 2), label
        elif user is None:
            assert (response.status_code, response.json()) == (401, ANONYMOUS), label
        else:
            assert (response.status_code, response.json()) == (403, DENIED), label


def test_every_role_on_the_monitor_and_the_detail(parties, client_for, alerts):
    red, _ = alerts
    for path in ("/api/supervision/lots/", f"/api/supervision/alerts/{red.pk}/"):
        for label, user in parties.every_role():
            expected = 200 if label in READERS else 401 if user is None else 403
            assert client_for(user).get(path).status_code == expected, (path, label)


def test_only_a_supervisor_resolves(parties, client_for, alerts):
    red, _ = alerts
    path = f"/api/supervision/alerts/{red.pk}/resolve/"
    before, audit_before = alert_state(), AuditEvent.objects.count()
    for label, user in parties.every_role():
        if label == "supervisor":
            continue
        response = client_for(user).post(path, {"note": "已核实"}, format="json")
        if user is None:
            assert (response.status_code, response.json()) == (401, ANONYMOUS), label
        elif label == "admin":
            # The superuser reads but does not resolve: the service wants a supervisor.
            assert (response.status_code, response.json()["code"]) == (403, "role_not_allowed"), label
        else:
            assert (response.status_code, response.json()) == (403, DENIED), label
    assert (alert_state(), AuditEvent.objects.count()) == (before, audit_before)


def test_the_alert_as_listed(parties, client_for, alerts):
    red, yellow = alerts
    response = client_for(parties.supervisor).get("/api/supervision/alerts/")
    body = response.json()
    assert (body["count"], body["next"], body["previous"]) == (2, None, None)
    assert [row["id"] for row in body["results"]] == [yellow.pk, red.pk]  # newest first
    row = body["results"][1]
    assert row == {
        "id": red.pk,
        "rule": "same_upload_address",
        "rule_label": "不同投标人从同一地址上传投标文件（条例40第一项）",
        "level": "red",
        "level_label": "红色预警",
        "lot": red.lot_id,
        "lot_code": red.lot.transaction_code,
        "lot_name": "一标段",
        "key": "ip:203.0.113.7",
        "subject": red.subject,
        "details": red.details,
        "message": {"zh-hans": red.message_zh, "en": red.message_en},
        "first_seen": "2026-12-01T10:00:00+08:00",
        "last_seen": "2026-12-01T11:00:00+08:00",
        "resolved_at": None,
        "resolved_by": None,
        "resolved_by_username": None,
        "resolution_note": "",
    }


def test_filters(parties, client_for, alerts):
    red, yellow = alerts
    client = client_for(parties.supervisor)

    def ids(**query):
        response = client.get("/api/supervision/alerts/", query)
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert ids(level="red") == [red.pk]
    assert ids(level="yellow") == [yellow.pk]
    assert ids(rule="deadline_missed") == [yellow.pk]
    assert ids(lot=red.lot_id) == [red.pk]
    assert ids(resolved="false") == [yellow.pk, red.pk]
    assert ids(resolved="true") == []
    services.alert_resolve(alert=red, actor=parties.supervisor, note="已移交行政监督部门调查", now=NOW + timedelta(hours=2))
    assert ids(resolved="true") == [red.pk]
    assert ids(resolved="false") == [yellow.pk]
    assert ids(page_size=1) == [yellow.pk]
    assert client.get("/api/supervision/alerts/", {"level": "green"}).json()["code"] == "validation_error"


def test_resolve_needs_a_note_and_is_audited(parties, client_for, alerts):
    red, _ = alerts
    client = client_for(parties.supervisor)
    path = f"/api/supervision/alerts/{red.pk}/resolve/"
    before, audit_before = alert_state(), AuditEvent.objects.count()
    for body in ({}, {"note": ""}, {"note": "   "}):
        response = client.post(path, body, format="json")
        assert (response.status_code, response.json()) == (
            400,
            {
                "code": "note_required",
                "detail": "请填写处理说明",
                "message": {"zh-hans": "请填写处理说明", "en": "A note saying how the alert was handled is required"},
            },
        ), body
    assert (alert_state(), AuditEvent.objects.count()) == (before, audit_before)

    with time_machine.travel(NOW + timedelta(hours=3), tick=False):
        response = client.post(path, {"note": " 经核查系同一集团下属公司，已移交调查 "}, format="json")
    assert response.status_code == 200, response.json()
    assert (response.json()["resolved_at"], response.json()["resolved_by_username"], response.json()["resolution_note"]) == (
        "2026-12-01T13:00:00+08:00",
        "supervisor",
        "经核查系同一集团下属公司，已移交调查",
    )
    event = AuditEvent.objects.get(action="supervision.alert_resolved")
    assert (event.actor_id, event.object_id, event.lot_id) == (parties.supervisor.pk, str(red.pk), red.lot_id)
    assert event.after == {
        "rule": "same_upload_address",
        "level": "red",
        "key": "ip:203.0.113.7",
        "note": "经核查系同一集团下属公司，已移交调查",
    }

    resolved = alert_state()
    response = client.post(path, {"note": "再次处理"}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "alert_resolved")
    assert response.json()["message"]["en"] == "This alert has already been resolved"
    assert alert_state() == resolved
    assert AuditEvent.objects.filter(action="supervision.alert_resolved").count() == 1


def test_the_monitor_lists_lots_in_progress_with_open_alerts(parties, client_for, alerts):
    red, yellow = alerts
    quiet = kit.lot(parties, status=LotStatus.TENDERING, bid_deadline=NOW + timedelta(days=3))
    kit.lot(parties, status=LotStatus.DRAFT)
    kit.lot(parties, status=LotStatus.ARCHIVED)
    client = client_for(parties.supervisor)
    rows = client.get("/api/supervision/lots/").json()["results"]
    assert [(r["id"], r["status"], r["open_alerts"]) for r in rows] == [
        (red.lot_id, "evaluating", {"red": 1, "yellow": 0}),
        (yellow.lot_id, "opening", {"red": 0, "yellow": 1}),
        (quiet.pk, "tendering", {"red": 0, "yellow": 0}),
    ]
    first = rows[0]
    assert (first["transaction_code"], first["status_label"], first["tenderee"], first["agency"]) == (
        red.lot.transaction_code,
        "评标中",
        "某县城投公司",
        None,
    )
    services.alert_resolve(alert=red, actor=parties.supervisor, note="已核实", now=NOW + timedelta(hours=2))
    rows = client.get("/api/supervision/lots/", {"status": "evaluating"}).json()["results"]
    assert [(r["id"], r["open_alerts"]) for r in rows] == [(red.lot_id, {"red": 0, "yellow": 0})]
