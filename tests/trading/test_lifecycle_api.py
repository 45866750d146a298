"""The first third of the lifecycle through the HTTP API, as the parties would drive it."""

import urllib.request
from datetime import datetime

import pytest
import time_machine

from audit.services import verify_chain
from tests import factories
from tests.factories import Parties
from trading.models import Lot
from trading.rules import LOCAL


def local(*args):
    return datetime(*args, tzinfo=LOCAL)


@pytest.mark.django_db
def test_registration_to_download_over_http(client_for):
    parties = Parties.create()
    tenderee, staff, bidder = client_for(parties.tenderee), client_for(parties.staff), client_for(parties.bidders[0])

    with time_machine.travel(local(2026, 10, 29, 10, 0), tick=False):
        r = tenderee.post(
            "/api/projects/",
            {"code": "GX-2026-001", "name": "某县二级公路改扩建工程", "rule_set": "construction", "region_code": "450102"},
            format="json",
        )
        assert r.status_code == 201, r.json()
        project_id = r.json()["id"]
        r = tenderee.post(
            f"/api/projects/{project_id}/lots/",
            {"name": "施工一标段", "estimated_price": "38000000.00", "max_price": "37500000.00", "bond_amount": "760000.00"},
            format="json",
        )
        assert r.status_code == 201, r.json()
        lot = r.json()
        assert lot["status"] == "draft"
        assert lot["transaction_code"].startswith(parties.tenderee.organisation.credit_code + "20261029001")
        lot_id = lot["id"]

        # 入场登记: submitted by the tenderee, accepted by the centre.
        r = tenderee.post(f"/api/projects/{project_id}/submit-registration/", {"note": "请予登记"}, format="json")
        assert r.status_code == 201
        r = staff.post(f"/api/reviews/{r.json()['id']}/accept/")
        assert r.status_code == 200 and r.json()["status"] == "accepted"
        assert tenderee.get(f"/api/lots/{lot_id}/").json()["status"] == "registered"

        # Tender documents, then 招标备案.
        from django.core.files.uploadedfile import SimpleUploadedFile

        content = "招标文件正文 v1".encode() * 1000
        r = tenderee.post(
            f"/api/lots/{lot_id}/documents/", {"file": SimpleUploadedFile("招标文件.pdf", content, "application/pdf")}
        )
        assert r.status_code == 201, r.json()
        document = r.json()
        r = tenderee.post(
            f"/api/lots/{lot_id}/submit-filing/",
            {"docs_sale_end": "2026-11-09T17:00:00+08:00", "bid_deadline": "2026-11-23T09:30:00+08:00"},
            format="json",
        )
        assert r.status_code == 201, r.json()
        r = staff.post(f"/api/reviews/{r.json()['id']}/accept/")
        assert r.status_code == 200

    # The tender notice, published on Monday 2 November: 21 days before the deadline (法24).
    with time_machine.travel(local(2026, 11, 2, 9, 0), tick=False):
        r = tenderee.post(
            f"/api/lots/{lot_id}/publish/", {"title": "某县二级公路改扩建工程招标公告", "body": "欢迎投标"}, format="json"
        )
        assert r.status_code == 200, r.json()
        assert r.json()["status"] == "published"
        notices = client_for(None).get("/api/notices/").json()
        assert [n["title"] for n in notices["results"]] == ["某县二级公路改扩建工程招标公告"]

    # A bidder enrols and fetches the documents through a short-lived signed link.
    with time_machine.travel(local(2026, 11, 3, 10, 0), tick=False):
        r = bidder.post(
            "/api/enrolments/", {"lot": lot_id, "contact_name": "张三", "contact_phone": "13800000000"}, format="json"
        )
        assert r.status_code == 201, r.json()
        r = bidder.post("/api/document-links/", {"document": document["id"]}, format="json")
        assert r.status_code == 200, r.json()
        link = r.json()
        r = client_for(None).get(link["url"])
        assert r.status_code == 302
        with urllib.request.urlopen(r["Location"], timeout=10) as response:
            assert response.read() == content

    # Three other bidders enrol and submit sealed bids, so the lot opens at its deadline (条例44).
    factories.enough_bids(parties, Lot.objects.get(pk=lot_id), when=local(2026, 11, 5, 10, 0))

    # A clarification 11 days before the deadline that may affect bids: the deadline moves to leave 15 days (条例21).
    with time_machine.travel(local(2026, 11, 12, 15, 0), tick=False):
        r = tenderee.post(
            f"/api/lots/{lot_id}/clarifications/",
            {"title": "澄清公告（一）", "body": "工程量清单更正", "affects_bids": True},
            format="json",
        )
        assert r.status_code == 201, r.json()
        assert r.json()["bid_deadline"] == "2026-11-27T09:30:00+08:00"
        [mine] = bidder.get("/api/enrolments/mine/").json()
        assert (mine["lot"], mine["unacknowledged"]) == (lot_id, [r.json()["notice"]])
        assert bidder.post("/api/acknowledgements/", {"notice": r.json()["notice"]}, format="json").status_code == 204
        assert bidder.get("/api/enrolments/mine/").json()[0]["unacknowledged"] == []
        # Still sealed for the centre.
        r = staff.get(f"/api/lots/{lot_id}/enrolments/")
        assert r.status_code == 403 and r.json()["code"] == "enrolment_sealed"

    # At the deadline the sweep opens the lot and unseals the enrolment list.
    with time_machine.travel(local(2026, 11, 27, 9, 30), tick=False):
        from trading.tasks import sweep_deadlines

        assert sweep_deadlines.apply().get()["opening"] == 1
    assert Lot.objects.get(pk=lot_id).status == "opening"
    rows = staff.get(f"/api/lots/{lot_id}/enrolments/").json()
    assert sorted((row["bidder"], len(row["downloads"])) for row in rows) == sorted(
        [(parties.bidders[0].organisation.name, 1)] + [(b.organisation.name, 0) for b in parties.bidders[1:]]
    )

    result = verify_chain()
    assert result.ok, result.problems
    assert result.checked > 15
