"""Following and resending pushes: /api/regional-messages/ for staff and supervisors only, `resend` for staff only
(audited, answered as a duplicate by the receiver), the back office's list and action."""

from datetime import date, timedelta

import pytest
import time_machine

from audit.models import AuditEvent
from tests import factories
from tests.trading.regional.kit import deliveries, pushes
from trading.models import RegionalMessage, Role
from trading.regional.outbox import deliver_due

pytestmark = pytest.mark.django_db

T = factories.at(date(2026, 12, 1))


def everything() -> tuple:
    return list(RegionalMessage.objects.order_by("seq", "lot_id").values()), AuditEvent.objects.count()


@pytest.fixture
def delivered(parties, receiver):
    """Two lots whose pushes (two and three) have all reached the receiver."""
    one = factories.lot(parties, stage="registered")
    two = factories.lot(parties, stage="filed")
    assert deliver_due(now=T) == 5
    return one, two


def test_only_staff_and_supervisors_see_the_pushes(parties, client_for, delivered):
    one, two = delivered
    ids = [str(m.id) for m in [*pushes(one), *pushes(two)]]
    for label, user in parties.every_role():
        response = client_for(user).get("/api/regional-messages/")
        detail = client_for(user).get(f"/api/regional-messages/{ids[0]}/")
        if label in ("staff", "supervisor", "admin"):
            assert response.status_code == 200, label
            assert [r["id"] for r in response.json()["results"]] == [
                str(m.id) for m in RegionalMessage.objects.order_by("lot_id", "seq")
            ]
            assert detail.status_code == 200 and detail.json()["lot_code"] == one.transaction_code
        elif label == "anonymous":
            assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")
            assert detail.status_code == 401
        else:
            assert (response.status_code, response.json()["results"]) == (200, []), label
            assert (detail.status_code, detail.json()["code"]) == (404, "not_found"), label
    row = client_for(parties.staff).get(f"/api/regional-messages/?lot={two.pk}&table=lot").json()["results"]
    assert [(r["seq"], r["table"], r["event"], r["status"], r["attempts"]) for r in row] == [
        (2, "lot", "lot.registered", "delivered", 1),
        (3, "lot", "lot.filed", "delivered", 1),
    ]
    assert "body" not in row[0] and "signature" not in row[0]


def test_staff_resend_a_push_and_the_receiver_keeps_one_copy(parties, client_for, delivered, receiver):
    one, _ = delivered
    first = pushes(one)[0]
    with time_machine.travel(T + timedelta(hours=1), tick=False):
        response = client_for(parties.staff).post(f"/api/regional-messages/{first.id}/resend/")
    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["next_attempt_at"]) == ("pending", "2026-12-01T10:30:00+08:00")
    first.refresh_from_db()
    assert (first.status, first.delivered_at, first.next_attempt_at) == ("pending", None, T + timedelta(hours=1))
    event = AuditEvent.objects.get(action="regional.resent")
    assert (event.actor_id, event.lot_id, event.object_id, event.before, event.after) == (
        parties.staff.pk,
        one.pk,
        str(first.id),
        {"status": "delivered"},
        {"seq": 1, "table": "project"},
    )
    assert deliver_due(now=T + timedelta(hours=1)) == 1
    first.refresh_from_db()
    assert (first.status, first.attempts) == ("delivered", 2)
    copies = [d for d in deliveries(receiver.url, one.transaction_code) if d["delivery_id"] == str(first.id)]
    assert len(copies) == 1 and len(deliveries(receiver.url, one.transaction_code)) == 2


def test_nobody_else_resends(parties, client_for, delivered):
    one, _ = delivered
    first = pushes(one)[0]
    before = everything()
    refused = client_for(parties.supervisor).post(f"/api/regional-messages/{first.id}/resend/")
    assert (refused.status_code, refused.json()) == (
        403,
        {
            "code": "role_not_allowed",
            "detail": "只有交易中心工作人员可以执行此操作",
            "message": {"zh-hans": "只有交易中心工作人员可以执行此操作", "en": "Only staff may do this"},
        },
    )
    for user in [parties.tenderee, parties.agency, parties.expert, parties.bidders[0]]:
        response = client_for(user).post(f"/api/regional-messages/{first.id}/resend/")
        assert (response.status_code, response.json()["code"]) == (404, "not_found"), user.username
    assert client_for(None).post(f"/api/regional-messages/{first.id}/resend/").status_code == 401
    assert everything() == before


def test_the_back_office_lists_the_pushes_and_resends_them(client, parties, delivered):
    one, two = delivered
    client.force_login(parties.admin)
    page = client.get("/admin/trading/regionalmessage/")
    assert page.status_code == 200
    text = page.content.decode()
    assert one.transaction_code in text and two.transaction_code in text and "已送达" in text
    assert text.count('name="_selected_action"') == 5
    assert client.get("/admin/trading/regionalmessage/add/").status_code == 403
    first = pushes(two)[0]
    assert client.post(f"/admin/trading/regionalmessage/{first.pk}/delete/").status_code == 403

    chosen = [str(m.id) for m in pushes(two)[:2]]
    response = client.post("/admin/trading/regionalmessage/", {"action": "resend", "_selected_action": chosen}, follow=True)
    assert "2 条推送已重新排队 / queued again" in response.content.decode()
    assert [m.status for m in pushes(two)] == ["pending", "pending", "delivered"]
    waiting = client.get("/admin/trading/regionalmessage/?status__exact=pending").content.decode()
    assert waiting.count('name="_selected_action"') == 2 and all(f'value="{x}"' in waiting for x in chosen)
    assert [(e.actor_id, e.after["seq"]) for e in AuditEvent.objects.filter(action="regional.resent").order_by("seq")] == [
        (parties.admin.pk, 1),
        (parties.admin.pk, 2),
    ]


def test_the_back_office_refuses_a_resend_by_someone_not_staff(client, parties, delivered):
    _, two = delivered
    superuser = factories.user(
        Role.SUPERVISOR, parties.supervisor.organisation, "root-supervisor", is_staff=True, is_superuser=True
    )
    client.force_login(superuser)
    before = everything()
    chosen = [str(m.id) for m in pushes(two)]
    response = client.post("/admin/trading/regionalmessage/", {"action": "resend", "_selected_action": chosen}, follow=True)
    assert "只有交易中心工作人员可以执行此操作 / Only staff may do this" in response.content.decode()
    assert everything() == before
