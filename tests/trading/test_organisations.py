"""单位信息: an organisation's own users keep its contact person and phone; name, credit code and kind are the
centre's. Every other role is refused, and a refusal changes nothing."""

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from trading.models import Organisation


def api(user):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def snapshot():
    return list(Organisation.objects.order_by("pk").values()), AuditEvent.objects.count()


@pytest.mark.django_db
def test_a_bidder_keeps_its_organisations_contact(parties):
    bidder = parties.bidders[0]
    org = bidder.organisation
    url = f"/api/organisations/{org.pk}/contact/"
    response = api(bidder).post(url, {"contact_name": " 王经理 ", "contact_phone": "0771-5551234"}, format="json")
    assert response.status_code == 200, response.json()
    assert {k: response.json()[k] for k in ("name", "credit_code", "contact_name", "contact_phone")} == {
        "name": org.name,
        "credit_code": org.credit_code,
        "contact_name": "王经理",
        "contact_phone": "0771-5551234",
    }
    event = AuditEvent.objects.get(action="organisation.contact_updated")
    assert (event.actor_id, event.object_id, event.after) == (
        bidder.pk,
        str(org.pk),
        {"contact_name": "王经理", "contact_phone": "0771-5551234"},
    )
    # The same again: nothing to record.
    api(bidder).post(url, {"contact_name": "王经理", "contact_phone": "0771-5551234"}, format="json")
    assert AuditEvent.objects.filter(action="organisation.contact_updated").count() == 1
    # Name and credit code are not the bidder's to change, whatever the body says.
    api(bidder).post(url, {"contact_name": "王经理", "contact_phone": "13800000000", "name": "别的名字"}, format="json")
    org.refresh_from_db()
    assert (org.name, org.contact_phone) == (parties.bidders[0].organisation.name, "13800000000")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"contact_name": "", "contact_phone": "13800000000"}, "validation_error", "contact_name"),
        ({"contact_name": "   ", "contact_phone": "13800000000"}, "validation_error", "contact_name"),
        ({"contact_name": "王" * 51, "contact_phone": "13800000000"}, "validation_error", "contact_name"),
        ({"contact_name": "王经理", "contact_phone": "call me"}, "invalid_contact_phone", None),
        ({"contact_name": "王经理", "contact_phone": "12"}, "invalid_contact_phone", None),
    ],
)
def test_a_bad_contact_is_refused_and_changes_nothing(parties, body, code, field):
    bidder = parties.bidders[0]
    before = snapshot()
    response = api(bidder).post(f"/api/organisations/{bidder.organisation_id}/contact/", body, format="json")
    payload = response.json()
    assert (response.status_code, payload["code"], list(payload.get("errors", {}))) == (400, code, [field] if field else [])
    assert snapshot() == before


@pytest.mark.django_db
def test_nobody_else_changes_an_organisations_contact(parties):
    org = parties.bidders[0].organisation
    url = f"/api/organisations/{org.pk}/contact/"
    before = snapshot()
    for label, user in parties.every_role():
        if user is not None and user.organisation_id == org.pk:
            continue
        response = api(user).post(url, {"contact_name": "冒名", "contact_phone": "13800000000"}, format="json")
        # Others' organisations are not even visible (404); staff and supervisors see them but may not change them.
        expected = 401 if user is None else 403 if user.role in ("staff", "supervisor") else 404
        assert response.status_code == expected, (label, response.status_code)
    assert snapshot() == before
