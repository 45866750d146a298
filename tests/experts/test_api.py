import csv
import io
from datetime import date, timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from experts.models import Expert, ExpertInterest, ExpertUnavailability, PerformanceRecord
from tests import factories
from tests.experts.conftest import make_expert

pytestmark = pytest.mark.django_db

OUTSIDERS = ["tenderee", "agency", "other_tenderee", "bidder1", "bidder2"]


@pytest.fixture
def pool(parties, tree, own_expert):
    return {
        "own": own_expert,
        "a": make_expert("GX-A", tree["A0801"], name="甲", region_code="450102", employer_name="桂城设计院"),
        "b": make_expert(
            "GX-B", tree["A0901"], name="乙", region_code="450203", status=Expert.Status.SUSPENDED, status_until=date(2099, 1, 1)
        ),
        "c": make_expert("GX-C", tree["A080101"], tree["B01"], name="丙", region_code="450103", status=Expert.Status.BLACKLISTED),
    }


def _people(parties):
    return dict(parties.every_role())


def _csv_bytes(rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["专家编号", "姓名", "专业代码", "手机", "工作单位", "单位统一社会信用代码"])
    writer.writerows(rows)
    return buffer.getvalue().encode()


def _routes(pool):
    a = pool["a"]
    item = ExpertUnavailability.objects.create(expert=a, start=timezone.now(), end=timezone.now() + timedelta(days=1))
    interest = ExpertInterest.objects.create(expert=a, kind="other", person_name="某人")
    return [
        ("get", "/api/experts/", None),
        ("get", f"/api/experts/{a.pk}/", None),
        ("get", f"/api/experts/{a.pk}/performance/", None),
        ("post", f"/api/experts/{a.pk}/performance/", {"attended": True}),
        ("post", f"/api/experts/{a.pk}/suspend/", {"reason": "x"}),
        ("post", f"/api/experts/{a.pk}/blacklist/", {"reason": "x"}),
        ("post", f"/api/experts/{pool['b'].pk}/reinstate/", {}),
        ("get", "/api/experts/import-template/", None),
        ("get", "/api/specialties/", None),
        ("get", "/api/expert-unavailability/", None),
        ("get", f"/api/expert-unavailability/{item.pk}/", None),
        ("delete", f"/api/expert-unavailability/{item.pk}/", None),
        ("get", "/api/expert-interests/", None),
        ("patch", f"/api/expert-interests/{interest.pk}/", {"note": "x"}),
        ("post", "/api/expert-interests/", {"expert": a.pk, "kind": "other", "person_name": "x"}),
    ]


def _state():
    return (
        list(Expert.objects.order_by("pk").values()),
        ExpertUnavailability.objects.count(),
        list(ExpertInterest.objects.order_by("pk").values()),
        PerformanceRecord.objects.count(),
        AuditEvent.objects.count(),
    )


@pytest.mark.parametrize("who", [*OUTSIDERS, "anonymous"])
def test_outsiders_get_nothing_from_the_pool(parties, pool, client_for, who):
    client = client_for(_people(parties)[who])
    routes = _routes(pool)
    before = _state()
    for method, url, body in routes:
        response = getattr(client, method)(url, body, format="json")
        expected = 401 if who == "anonymous" else 403
        assert response.status_code == expected, (method, url, response.status_code)
        assert "甲" not in response.content.decode()
    upload = client.post("/api/experts/import/", {"file": io.BytesIO(_csv_bytes([]))}, format="multipart")
    assert upload.status_code == (401 if who == "anonymous" else 403)
    assert _state() == before


def test_supervisor_reads_but_cannot_write(parties, pool, client_for):
    client = client_for(parties.supervisor)
    listing = client.get("/api/experts/")
    assert listing.status_code == 200
    assert [e["number"] for e in listing.json()["results"]] == ["OWN-1", "GX-A", "GX-B", "GX-C"]
    assert client.get(f"/api/experts/{pool['a'].pk}/").json()["employer_name"] == "桂城设计院"
    assert client.get("/api/expert-unavailability/").status_code == 200
    before = _state()
    for method, url, body in _routes(pool):
        if method == "get":
            continue
        response = getattr(client, method)(url, body, format="json")
        assert response.status_code == 403, (method, url)
        assert response.json()["code"] == "role_not_allowed"
    upload = client.post("/api/experts/import/", {"file": io.BytesIO(_csv_bytes([]))}, format="multipart")
    assert upload.status_code == 403
    # _routes adds one unavailability and one interest itself per call; compare with what was there after it.
    after = _state()
    assert (after[0], after[3], after[4]) == (before[0], before[3], before[4])


def test_filters(parties, pool, client_for):
    client = client_for(parties.staff)

    def numbers(query):
        response = client.get(f"/api/experts/?{query}")
        assert response.status_code == 200, response.json()
        return [e["number"] for e in response.json()["results"]]

    assert numbers("specialty=A08") == ["OWN-1", "GX-A", "GX-C"]
    assert numbers("specialty=a0801") == ["OWN-1", "GX-A", "GX-C"]
    assert numbers("specialty=A080101") == ["GX-C"]
    assert numbers("specialty=B") == ["GX-C"]
    assert numbers("status=suspended") == ["GX-B"]
    assert numbers("region=4501") == ["GX-A", "GX-C"]
    assert numbers("eligible_on=2030-06-01") == ["OWN-1", "GX-A"]
    assert numbers("q=桂城") == ["GX-A"]
    assert numbers("q=GX-B") == ["GX-B"]
    detail = client.get(f"/api/experts/{pool['c'].pk}/").json()
    assert [s["code"] for s in detail["specialties"]] == ["A080101", "B01"]
    assert (detail["status"], detail["status_label"]) == ("blacklisted", "禁入（黑名单）")


def test_staff_status_actions_and_refusals(parties, pool, client_for):
    client = client_for(parties.staff)
    a = pool["a"]
    response = client.post(f"/api/experts/{a.pk}/suspend/", {"reason": "无故缺席", "until": "2099-01-31"}, format="json")
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["status_until"]) == ("suspended", "2099-01-31")

    before = _state()
    missing = client.post(f"/api/experts/{a.pk}/blacklist/", {}, format="json")
    assert (missing.status_code, missing.json()["code"], list(missing.json()["errors"])) == (400, "validation_error", ["reason"])
    past = client.post(f"/api/experts/{a.pk}/blacklist/", {"reason": "x", "until": "2000-01-01"}, format="json")
    assert (past.status_code, past.json()["code"]) == (400, "status_until_past")
    active = client.post(f"/api/experts/{pool['own'].pk}/reinstate/", {}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert active.status_code == 409
    assert active.json() == {
        "code": "expert_already_active",
        "detail": "The expert is already active",
        "message": {"zh-hans": "该专家已是正常状态", "en": "The expert is already active"},
    }
    assert client.post("/api/experts/999999/suspend/", {"reason": "x"}, format="json").status_code == 404
    assert _state() == before

    assert client.post(f"/api/experts/{a.pk}/reinstate/", {"reason": "期满"}, format="json").json()["status"] == "active"
    assert list(AuditEvent.objects.filter(object_id=str(a.pk)).values_list("action", flat=True).order_by("seq")) == [
        "expert.suspended",
        "expert.reinstated",
    ]


def test_staff_performance(parties, pool, client_for):
    client = client_for(parties.staff)
    lot = factories.lot(parties)
    a = pool["a"]
    created = client.post(
        f"/api/experts/{a.pk}/performance/",
        {"lot": lot.pk, "attended": True, "late_minutes": 10, "score_deviation": "12.50", "complaints": 0, "note": "迟到"},
        format="json",
    )
    assert created.status_code == 201
    assert (created.json()["lot"], created.json()["score_deviation"], created.json()["recorded_by"]) == (lot.pk, "12.50", "staff")
    assert client.post(f"/api/experts/{a.pk}/performance/", {"lot": lot.pk, "attended": True}, format="json").status_code == 409
    assert (
        client.post(f"/api/experts/{a.pk}/performance/", {"attended": True, "late_minutes": -1}, format="json").status_code == 400
    )
    records = client_for(parties.supervisor).get(f"/api/experts/{a.pk}/performance/").json()["results"]
    assert [(r["late_minutes"], r["note"]) for r in records] == [(10, "迟到")]


def test_staff_import_endpoint(parties, tree, client_for):
    client = client_for(parties.staff)
    credit = factories.credit_code()
    good = _csv_bytes([["GX-1", "甲", "A0801;B01", "13800000001", "某院", credit]])

    dry = client.post("/api/experts/import/", {"file": io.BytesIO(good), "dry_run": "true"}, format="multipart")
    assert dry.status_code == 200
    assert (dry.json()["created"], dry.json()["imported"], Expert.objects.count()) == (1, False, 0)

    done = client.post("/api/experts/import/", {"file": io.BytesIO(good)}, format="multipart")
    assert (done.status_code, done.json()["imported"]) == (200, True)
    assert Expert.objects.get(number="GX-1").employer_credit_code == credit

    bad = _csv_bytes([["GX-2", "乙", "A0801", "138", "某院", credit], ["GX-3", "丙", "", "13800000003", "某院", ""]])
    refused = client.post("/api/experts/import/", {"file": io.BytesIO(bad)}, format="multipart")
    assert refused.status_code == 422
    body = refused.json()
    assert (body["code"], body["detail"]) == ("import_rejected", "导入文件有误，未写入任何数据，详见报告")
    assert [(e["row"], e["column"], e["code"]) for e in body["report"]["errors"]] == [
        (2, "手机", "invalid_phone"),
        (3, "专业代码", "required"),
        (3, "单位统一社会信用代码", "credit_code_required"),
    ]
    assert Expert.objects.count() == 1

    no_file = client.post("/api/experts/import/", {}, format="multipart")
    assert (no_file.status_code, list(no_file.json()["errors"])) == (400, ["file"])


def test_import_template_round_trips(parties, tree, client_for):
    client = client_for(parties.staff)
    template = client.get("/api/experts/import-template/")
    assert template.status_code == 200
    assert template["Content-Type"] == "text/csv; charset=utf-8"
    assert template.content.startswith(b"\xef\xbb\xbf\xe4\xb8\x93\xe5\xae\xb6\xe7\xbc\x96\xe5\x8f\xb7")  # BOM + 专家编号
    # The example row imports (its specialty codes exist in the fixture tree? A0101 does not: it is reported).
    report = client.post("/api/experts/import/", {"file": io.BytesIO(template.content)}, format="multipart").json()["report"]
    assert [(e["row"], e["code"], e["value"]) for e in report["errors"]] == [(2, "unknown_specialty", "A0101")]


def test_expert_keeps_own_items_only(parties, pool, client_for):
    client = client_for(parties.expert)
    own, other = pool["own"], pool["a"]
    theirs = ExpertUnavailability.objects.create(expert=other, start=timezone.now(), end=timezone.now() + timedelta(days=1))

    assert client.get("/api/experts/").status_code == 403
    assert client.get(f"/api/experts/{own.pk}/").status_code == 403

    created = client.post(
        "/api/expert-unavailability/",
        {"start": "2026-12-10T08:00:00+08:00", "end": "2026-12-12T18:00:00+08:00", "reason": "出差"},
        format="json",
    )
    assert created.status_code == 201
    assert created.json()["expert"] == own.pk
    mine = created.json()["id"]
    assert [i["id"] for i in client.get("/api/expert-unavailability/").json()["results"]] == [mine]
    assert client.get(f"/api/expert-unavailability/{theirs.pk}/").status_code == 404
    assert client.delete(f"/api/expert-unavailability/{theirs.pk}/").status_code == 404
    assert client.patch(f"/api/expert-unavailability/{theirs.pk}/", {"reason": "x"}, format="json").status_code == 404
    naming_other = client.post(
        "/api/expert-unavailability/",
        {"expert": other.pk, "start": "2026-12-10T08:00:00+08:00", "end": "2026-12-11T08:00:00+08:00"},
        format="json",
    )
    assert (naming_other.status_code, naming_other.json()["code"]) == (403, "not_own_expert_record")
    backwards = client.patch(f"/api/expert-unavailability/{mine}/", {"end": "2026-12-01T00:00:00+08:00"}, format="json")
    assert (backwards.status_code, backwards.json()["code"]) == (400, "unavailability_end_before_start")
    moved = client.patch(f"/api/expert-unavailability/{mine}/", {"reason": "休假"}, format="json")
    assert (moved.status_code, moved.json()["reason"], moved.json()["start"]) == (200, "休假", "2026-12-10T08:00:00+08:00")

    bidder_code = parties.bidders[0].organisation.credit_code
    interest = client.post(
        "/api/expert-interests/",
        {"kind": "relative", "organisation_credit_code": bidder_code, "person_name": "配偶"},
        format="json",
    )
    assert interest.status_code == 201
    assert ExpertInterest.objects.get(pk=interest.json()["id"]).expert == own
    assert client.delete(f"/api/expert-interests/{interest.json()['id']}/").status_code == 204
    assert list(AuditEvent.objects.filter(actor_id=parties.expert.pk).values_list("action", flat=True).order_by("seq")) == [
        "expert.unavailability_added",
        "expert.unavailability_changed",
        "expert.interest_declared",
        "expert.interest_withdrawn",
    ]
    assert ExpertUnavailability.objects.get(pk=theirs.pk).reason == ""


def test_expert_without_a_record_is_refused(parties, tree, client_for):
    client = client_for(parties.expert)  # no own_expert fixture: the account is not linked
    response = client.post("/api/expert-interests/", {"kind": "other", "person_name": "某人"}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "no_expert_record")
    assert client.get("/api/expert-interests/").json()["results"] == []


def test_staff_manages_any_experts_items(parties, pool, client_for):
    client = client_for(parties.staff)
    a = pool["a"]
    missing = client.post("/api/expert-interests/", {"kind": "other", "person_name": "x"}, format="json")
    assert (missing.status_code, missing.json()["code"]) == (400, "expert_required")
    made = client.post(
        "/api/expert-interests/",
        {"expert": a.pk, "kind": "former_employer", "organisation_credit_code": factories.credit_code()},
        format="json",
    )
    assert made.status_code == 201
    assert [i["expert"] for i in client.get(f"/api/expert-interests/?expert={a.pk}").json()["results"]] == [a.pk]
    bad = client.post(
        "/api/expert-interests/", {"expert": a.pk, "kind": "other", "organisation_credit_code": "123"}, format="json"
    )
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_credit_code")
