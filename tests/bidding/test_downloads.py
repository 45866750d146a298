"""Signed download links: checked by the platform itself (the S3 test server accepts anything)."""

import base64
from datetime import datetime, timedelta

import pytest
import time_machine

from bidding import services as bidding
from tests import factories
from trading.rules import LOCAL


@pytest.mark.django_db
def test_links_expire_cannot_be_forged_and_name_no_document(parties, client_for, settings):
    lot = factories.lot(parties, stage="published", issued=datetime(2026, 11, 2, 9, tzinfo=LOCAL))
    document = lot.documents.get()
    issued = datetime(2026, 11, 4, 10, tzinfo=LOCAL)
    with time_machine.travel(issued, tick=False):
        bidding.enrolment_create(lot=lot, actor=parties.bidders[0], contact_name="甲", contact_phone="1")
        url = bidding.document_link(document=document, actor=parties.bidders[0])["url"]
    token = url.split("/")[-2]
    sealed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert b'"d"' not in sealed  # ciphertext, not a readable payload

    anonymous = client_for(None)
    with time_machine.travel(issued + timedelta(seconds=settings.SIGNED_LINK_SECONDS), tick=False):
        assert anonymous.get(url).status_code == 302
    with time_machine.travel(issued + timedelta(seconds=settings.SIGNED_LINK_SECONDS + 1), tick=False):
        response = anonymous.get(url)
        assert (response.status_code, response.json()["code"]) == (410, "link_expired")
        forged = token[:-4] + ("AAAA" if token[-4:] != "AAAA" else "BBBB")
        response = anonymous.get(f"/api/downloads/{forged}/")
        assert (response.status_code, response.json()["code"]) == (403, "link_invalid")


@pytest.mark.django_db
def test_a_bidder_that_did_not_enrol_gets_no_link(parties, client_for):
    lot = factories.lot(parties, stage="published", issued=datetime(2026, 11, 2, 9, tzinfo=LOCAL))
    with time_machine.travel(datetime(2026, 11, 4, 10, tzinfo=LOCAL), tick=False):
        response = client_for(parties.bidders[1]).post(
            "/api/document-links/", {"document": lot.documents.get().pk}, format="json"
        )
    assert (response.status_code, response.json()["code"]) == (403, "not_enrolled")
