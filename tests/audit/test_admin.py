import datetime as dt

import pytest
from django.contrib import admin
from django.test import RequestFactory

from audit.models import AuditEvent
from audit.services import audit_record


@pytest.mark.django_db
def test_admin_is_read_only(make_user):
    superuser = make_user("staff", is_superuser=True, is_staff=True)
    event = audit_record(action="lot.published", now=dt.datetime(2025, 3, 1, 2, 0, tzinfo=dt.UTC))
    model_admin = admin.site._registry[AuditEvent]
    request = RequestFactory().get("/admin/audit/auditevent/")
    request.user = superuser
    assert model_admin.has_view_permission(request, event) is True
    assert (model_admin.has_add_permission(request), model_admin.has_change_permission(request, event)) == (False, False)
    assert model_admin.has_delete_permission(request, event) is False
    assert "delete_selected" not in model_admin.get_actions(request)
    assert model_admin.list_display == ("seq", "at", "actor", "actor_role", "action", "object_label", "lot_id")


@pytest.mark.django_db
def test_admin_pages_render(client, make_user):
    client.force_login(make_user("staff", is_superuser=True, is_staff=True))
    audit_record(action="lot.published", lot_id=3, after={"名称": "一标段"}, now=dt.datetime(2025, 3, 1, 2, 0, tzinfo=dt.UTC))
    audit_record(action="enrolment.created", lot_id=3, sealed=True, now=dt.datetime(2025, 3, 1, 2, 0, tzinfo=dt.UTC))
    listing = client.get("/admin/audit/auditevent/")
    assert listing.status_code == 200
    assert "lot.published" in listing.content.decode()
    assert "（密封）" in listing.content.decode()
    assert client.get("/admin/audit/auditevent/1/change/").status_code == 200
    assert client.get("/admin/audit/auditevent/add/").status_code == 403
    assert client.post("/admin/audit/auditevent/1/delete/").status_code == 403
    assert AuditEvent.objects.count() == 2
