"""法22: before the bid deadline nobody learns who enrolled or downloaded the documents, nor how many.

Proved three ways: every role on every endpoint sees exactly the same bytes before and after two
bidders enrol and download; no database row names them; and at the deadline the list opens.
"""

import re
from datetime import datetime, timedelta

import pytest
import time_machine
from django.apps import apps
from django.db import models

from bidding import services as bidding
from tests import factories
from trading import services
from trading.models import Organisation, User
from trading.rules import LOCAL

SECRET_CONTACT = "保密联系人甲"
CSRF_TOKEN = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]*"')


def local(*args):
    return datetime(*args, tzinfo=LOCAL)


def endpoints(lot, document):
    return [
        "/api/lots/",
        f"/api/lots/{lot.pk}/",
        "/api/projects/",
        f"/api/projects/{lot.project_id}/",
        f"/api/lots/{lot.pk}/enrolments/",
        "/api/enrolments/mine/",
        f"/api/lots/{lot.pk}/documents/",
        f"/api/lots/{lot.pk}/objections/",
        "/api/objections/",
        "/api/reviews/",
        "/api/organisations/",
        "/api/notices/",
        "/api/notices/feed.atom",
        "/api/audit/events/",
        "/admin/bidding/enrolment/",
        "/admin/bidding/",
        "/admin/audit/auditevent/",
    ]


def snapshot(client_for, parties, lot, document):
    seen = {}
    for label, user in parties.every_role():
        client = client_for(user)
        if user is not None and user.is_staff:
            client.force_login(user)  # the admin site needs a session
        for url in endpoints(lot, document):
            response = client.get(url)
            # The admin's per-request CSRF token is the only thing allowed to differ.
            seen[label, url] = (response.status_code, CSRF_TOKEN.sub(b"", response.content))
    return seen


@pytest.mark.django_db
def test_no_role_sees_any_trace_of_enrolment_before_the_deadline(parties, client_for):
    lot = factories.lot(parties, stage="published", issued=local(2026, 11, 2, 9, 0))
    document = lot.documents.get()
    enrolling = parties.bidders[:2]

    with time_machine.travel(local(2026, 11, 4, 10, 0), tick=False):
        before = snapshot(client_for, parties, lot, document)
        for bidder in enrolling:
            bidding.enrolment_create(lot=lot, actor=bidder, contact_name=SECRET_CONTACT, contact_phone="13800000000")
            bidding.document_link(document=document, actor=bidder)
        after = snapshot(client_for, parties, lot, document)

    secrets = [s.encode() for b in enrolling for s in (b.organisation.name, b.organisation.credit_code, b.username)]
    secrets.append(SECRET_CONTACT.encode())
    for (label, url), (status, body) in after.items():
        if label in ("bidder1", "bidder2") and url == "/api/enrolments/mine/":
            assert f'"lot":{lot.pk},'.encode() in body  # a bidder sees its own enrolment
            continue
        if url in ("/api/audit/events/", "/admin/audit/auditevent/") and label in ("supervisor", "admin"):
            # Sealed entries exist, but they name nobody and no lot.
            for secret in secrets:
                assert secret not in body, (label, url, secret.decode())
            continue
        assert before[label, url] == (status, body), (label, url)

    # The enrolment list is refused to every signed-in role; parties of other projects do not see the lot.
    for label, user in parties.every_role():
        response = client_for(user).get(f"/api/lots/{lot.pk}/enrolments/")
        expected = {"anonymous": (401, "not_authenticated"), "agency": (404, "not_found"), "other_tenderee": (404, "not_found")}
        assert (response.status_code, response.json()["code"]) == expected.get(label, (403, "enrolment_sealed")), label


@pytest.mark.django_db
def test_no_database_row_names_an_enrolled_bidder_before_the_deadline(parties):
    lot = factories.lot(parties, stage="published", issued=local(2026, 11, 2, 9, 0))
    document = lot.documents.get()
    bidder = parties.bidders[0]
    with time_machine.travel(local(2026, 11, 4, 10, 0), tick=False):
        bidding.enrolment_create(lot=lot, actor=bidder, contact_name=SECRET_CONTACT, contact_phone="13912345678")
        bidding.document_link(document=document, actor=bidder)

    org_id, user_id = bidder.organisation_id, bidder.pk
    text_markers = [SECRET_CONTACT, "13912345678", bidder.organisation.name, bidder.organisation.credit_code]
    for model in apps.get_models():
        if model in (Organisation, User):
            continue
        for row in model.objects.all().values():
            blob = repr(row)
            for marker in text_markers:
                assert marker not in blob, (model.__name__, marker)
        for field in model._meta.concrete_fields:
            if isinstance(field, models.ForeignKey) and field.related_model in (Organisation, User):
                target = org_id if field.related_model is Organisation else user_id
                assert not model.objects.filter(**{field.attname: target}).exists(), (model.__name__, field.name)


@pytest.mark.django_db
def test_the_list_opens_at_the_deadline_with_downloads(parties, client_for):
    lot = factories.lot(parties, stage="published", issued=local(2026, 11, 2, 9, 0))
    document = lot.documents.get()
    with time_machine.travel(local(2026, 11, 4, 10, 0), tick=False):
        for bidder in parties.bidders[:3]:
            bidding.enrolment_create(lot=lot, actor=bidder, contact_name="联系人", contact_phone="13800000000")
        bidding.document_link(document=document, actor=parties.bidders[0])
        bidding.document_link(document=document, actor=parties.bidders[0])

    lot.refresh_from_db()
    with time_machine.travel(lot.bid_deadline - timedelta(microseconds=1), tick=False):
        services.sweep_deadlines()
        assert client_for(parties.staff).get(f"/api/lots/{lot.pk}/enrolments/").status_code == 403
    with time_machine.travel(lot.bid_deadline, tick=False):
        assert services.sweep_deadlines()["unsealed"] == 1
        assert services.sweep_deadlines()["unsealed"] == 0

    expected = sorted((b.organisation.name, 2 if b == parties.bidders[0] else 0) for b in parties.bidders[:3])
    for user in (parties.staff, parties.supervisor, parties.tenderee):
        rows = client_for(user).get(f"/api/lots/{lot.pk}/enrolments/").json()
        assert sorted((r["bidder"], len(r["downloads"])) for r in rows) == expected
    # The other tenderee does not see this lot at all; a bidder sees only itself; experts see nothing.
    assert client_for(parties.other_tenderee).get(f"/api/lots/{lot.pk}/enrolments/").status_code == 404
    assert [r["bidder"] for r in client_for(parties.bidders[1]).get(f"/api/lots/{lot.pk}/enrolments/").json()] == [
        parties.bidders[1].organisation.name
    ]
    assert client_for(parties.expert).get(f"/api/lots/{lot.pk}/enrolments/").json() == []
    assert client_for(parties.bidders[3]).get(f"/api/lots/{lot.pk}/enrolments/").json() == []


@pytest.mark.django_db
def test_enrolment_refusals_change_nothing(parties):
    from bidding.models import SealedEnrolment
    from trading.api import DomainError

    lot = factories.lot(parties, stage="published", issued=local(2026, 11, 2, 9, 0))
    with time_machine.travel(local(2026, 11, 4, 10, 0), tick=False):
        bidding.enrolment_create(lot=lot, actor=parties.bidders[0], contact_name="甲", contact_phone="1")
        rows = list(SealedEnrolment.objects.values_list("blind_index", "blob"))
        for actor, code in [
            (parties.bidders[0], "already_enrolled"),
            (parties.tenderee, "role_not_allowed"),
            (parties.staff, "role_not_allowed"),
        ]:
            with pytest.raises(DomainError) as refused:
                bidding.enrolment_create(lot=lot, actor=actor, contact_name="甲", contact_phone="1")
            assert refused.value.code == code
        with pytest.raises(DomainError) as refused:
            bidding.document_link(document=lot.documents.get(), actor=parties.bidders[1])
        assert refused.value.code == "not_enrolled"
        assert list(SealedEnrolment.objects.values_list("blind_index", "blob")) == rows
