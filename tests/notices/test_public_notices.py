"""The public notice board: no login, paginated, filterable, newest first, N+1-free, an Atom feed, read-only."""

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date, datetime

import pytest

from notices.models import Notice
from notices.services import notice_create
from tests import factories
from trading import services
from trading.models import TenderProject

ATOM = "{http://www.w3.org/2005/Atom}"


def day(month, dom, hour=9, minute=30) -> datetime:
    return factories.at(date(2026, month, dom), hour, minute)


@dataclass
class Board:
    lot_a: object
    lot_b: object
    lot_c: object
    tender_a: Notice
    clarification_a: Notice
    tender_b: Notice
    tender_c: Notice
    termination_b: Notice

    def newest_first(self) -> list[int]:
        return [n.pk for n in (self.termination_b, self.tender_c, self.tender_b, self.clarification_a, self.tender_a)]


def _published_in(parties, *, region_code: str, title: str, issued: datetime):
    """A filed lot whose project is in `region_code`, then published through the service with its own title."""
    lot = factories.lot(parties, stage="filed", issued=issued)
    TenderProject.objects.filter(pk=lot.project_id).update(region_code=region_code)
    lot.refresh_from_db()
    lot.project.refresh_from_db()
    return services.lot_publish(lot=lot, actor=parties.tenderee, title=title, body="欢迎投标", now=issued)


@pytest.fixture
def board(parties) -> Board:
    lot_a = factories.lot(parties, stage="published", issued=day(11, 2))
    tender_a = Notice.objects.get(lot=lot_a, kind="tender")
    clarification_a = notice_create(
        lot=lot_a,
        kind="clarification",
        title="澄清公告（一）GX-2026-001",
        body="工程量清单更正",
        actor=parties.tenderee,
        now=day(11, 5, 10, 0),
        affects_bids=False,
        deadline_before=lot_a.bid_deadline,
        deadline_after=lot_a.bid_deadline,
    )
    lot_b, tender_b = _published_in(parties, region_code="110105", title="北京某道路工程招标公告", issued=day(11, 9))
    lot_c, tender_c = _published_in(parties, region_code="450203", title="某县污水处理厂招标公告", issued=day(11, 16))
    termination_b = notice_create(
        lot=lot_b,
        kind="termination",
        title="北京某道路工程终止公告",
        body="项目取消",
        actor=parties.tenderee,
        now=day(11, 20, 10, 0),
    )
    return Board(lot_a, lot_b, lot_c, tender_a, clarification_a, tender_b, tender_c, termination_b)


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


# --- List, detail, 404 ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_list_needs_no_login_and_is_newest_first(board, client_for):
    r = client_for(None).get("/api/notices/")
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 5
    assert body["next"] is None
    assert body["previous"] is None
    assert [row["id"] for row in body["results"]] == board.newest_first()
    assert [row["title"] for row in body["results"]] == [
        "北京某道路工程终止公告",
        "某县污水处理厂招标公告",
        "北京某道路工程招标公告",
        "澄清公告（一）GX-2026-001",
        "招标公告",
    ]


@pytest.mark.django_db
def test_same_moment_breaks_ties_by_newest_id(parties, client_for):
    lot = factories.lot(parties, stage="published", issued=day(11, 2))
    first = notice_create(lot=lot, kind="clarification", title="澄清一", body="一", actor=parties.tenderee, now=day(11, 6))
    second = notice_create(lot=lot, kind="clarification", title="澄清二", body="二", actor=parties.tenderee, now=day(11, 6))
    tender = Notice.objects.get(lot=lot, kind="tender")
    assert _ids(client_for(None).get("/api/notices/")) == [second.pk, first.pk, tender.pk]


@pytest.mark.django_db
def test_pagination_with_page_size(board, client_for):
    anonymous = client_for(None)
    first = anonymous.get("/api/notices/", {"page_size": 2}).json()
    assert first["count"] == 5
    assert first["next"] == "http://testserver/api/notices/?page=2&page_size=2"
    assert first["previous"] is None
    assert [row["id"] for row in first["results"]] == board.newest_first()[:2]

    last = anonymous.get("/api/notices/", {"page_size": 2, "page": 3}).json()
    assert last["count"] == 5
    assert last["next"] is None
    assert last["previous"] == "http://testserver/api/notices/?page=2&page_size=2"
    assert [row["id"] for row in last["results"]] == board.newest_first()[4:]

    r = anonymous.get("/api/notices/", {"page_size": 2, "page": 4})
    assert r.status_code == 404
    assert r.json()["code"] == "not_found"


@pytest.mark.django_db
def test_page_size_is_capped_at_100_and_defaults_to_20(parties, client_for):
    lot = factories.lot(parties, stage="published", issued=day(11, 2))
    for i in range(100):
        notice_create(lot=lot, kind="clarification", title=f"澄清{i}", body="-", actor=parties.tenderee, now=day(11, 3, 10, 0))
    anonymous = client_for(None)

    body = anonymous.get("/api/notices/", {"page_size": 1000}).json()
    assert body["count"] == 101
    assert len(body["results"]) == 100
    assert body["next"] == "http://testserver/api/notices/?page=2&page_size=1000"
    rest = anonymous.get("/api/notices/", {"page_size": 1000, "page": 2}).json()
    assert [row["title"] for row in rest["results"]] == ["招标公告"]

    default = anonymous.get("/api/notices/").json()
    assert default["count"] == 101
    assert len(default["results"]) == 20
    assert default["next"] == "http://testserver/api/notices/?page=2"


@pytest.mark.django_db
def test_detail_needs_no_login(board, parties, client_for):
    lot = board.lot_a
    r = client_for(None).get(f"/api/notices/{board.tender_a.pk}/")
    assert r.status_code == 200
    assert r.json() == {
        "id": board.tender_a.pk,
        "kind": "tender",
        "kind_label": "招标公告",
        "title": "招标公告",
        "body": "欢迎投标",
        "lot": lot.pk,
        "lot_name": "一标段",
        "transaction_code": lot.transaction_code,
        "project_name": "测试项目",
        "tenderee": "某县城投公司",
        "region_code": "450102",
        "published_at": "2026-11-02T09:30:00+08:00",
        "affects_bids": False,
        "deadline_before": None,
        "deadline_after": None,
        "document": None,
    }

    clarification = client_for(None).get(f"/api/notices/{board.clarification_a.pk}/").json()
    assert clarification["kind_label"] == "澄清/修改公告"
    assert clarification["deadline_before"] == clarification["deadline_after"] == "2026-11-23T09:30:00+08:00"


@pytest.mark.django_db
def test_missing_notice_is_404_with_the_error_body(board, client_for):
    missing = Notice.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000
    r = client_for(None).get(f"/api/notices/{missing}/")
    assert r.status_code == 404
    assert r.json() == {
        "code": "not_found",
        "detail": "对象不存在或无权查看",
        "message": {"zh-hans": "对象不存在或无权查看", "en": "Not found."},
    }


# --- Filters -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_filter_by_several_kinds(board, client_for):
    anonymous = client_for(None)
    b = board
    assert _ids(anonymous.get("/api/notices/", {"kind": ["tender", "termination"]})) == [
        b.termination_b.pk,
        b.tender_c.pk,
        b.tender_b.pk,
        b.tender_a.pk,
    ]
    assert _ids(anonymous.get("/api/notices/", {"kind": "clarification"})) == [b.clarification_a.pk]
    assert _ids(anonymous.get("/api/notices/", {"kind": "result"})) == []


@pytest.mark.django_db
def test_unknown_kind_is_a_validation_error(board, client_for):
    r = client_for(None).get("/api/notices/", {"kind": "advert"})
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == "validation_error"
    assert body["message"] == {"zh-hans": "提交的数据无效", "en": "The submitted data is invalid."}
    assert list(body["errors"]) == ["kind"]


@pytest.mark.django_db
def test_filter_by_region_prefix(board, client_for):
    anonymous = client_for(None)
    b = board
    assert _ids(anonymous.get("/api/notices/", {"region": "45"})) == [b.tender_c.pk, b.clarification_a.pk, b.tender_a.pk]
    assert _ids(anonymous.get("/api/notices/", {"region": "4501"})) == [b.clarification_a.pk, b.tender_a.pk]
    assert _ids(anonymous.get("/api/notices/", {"region": "450203"})) == [b.tender_c.pk]
    assert _ids(anonymous.get("/api/notices/", {"region": "11"})) == [b.termination_b.pk, b.tender_b.pk]
    # A prefix, not a substring.
    assert _ids(anonymous.get("/api/notices/", {"region": "0102"})) == []


@pytest.mark.django_db
def test_filter_by_published_window(board, client_for):
    anonymous = client_for(None)
    b = board
    # published_after is inclusive, published_before exclusive.
    assert _ids(anonymous.get("/api/notices/", {"published_after": "2026-11-05T10:00:00+08:00"})) == [
        b.termination_b.pk,
        b.tender_c.pk,
        b.tender_b.pk,
        b.clarification_a.pk,
    ]
    assert _ids(anonymous.get("/api/notices/", {"published_before": "2026-11-09T09:30:00+08:00"})) == [
        b.clarification_a.pk,
        b.tender_a.pk,
    ]
    window = {"published_after": "2026-11-05T10:00:01+08:00", "published_before": "2026-11-16T09:30:00+08:00"}
    assert _ids(anonymous.get("/api/notices/", window)) == [b.tender_b.pk]
    # The same instant written in UTC.
    assert _ids(anonymous.get("/api/notices/", {"published_after": "2026-11-16T01:30:00Z"})) == [
        b.termination_b.pk,
        b.tender_c.pk,
    ]


@pytest.mark.django_db
def test_filter_by_words_in_title(board, client_for):
    anonymous = client_for(None)
    b = board
    assert _ids(anonymous.get("/api/notices/", {"q": "招标公告"})) == [b.tender_c.pk, b.tender_b.pk, b.tender_a.pk]
    assert _ids(anonymous.get("/api/notices/", {"q": "道路工程"})) == [b.termination_b.pk, b.tender_b.pk]
    assert _ids(anonymous.get("/api/notices/", {"q": "gx-2026"})) == [b.clarification_a.pk]
    # The body is not searched.
    assert _ids(anonymous.get("/api/notices/", {"q": "工程量清单"})) == []


@pytest.mark.django_db
def test_filter_by_lot_and_combined(board, client_for):
    anonymous = client_for(None)
    b = board
    assert _ids(anonymous.get("/api/notices/", {"lot": b.lot_a.pk})) == [b.clarification_a.pk, b.tender_a.pk]
    assert _ids(anonymous.get("/api/notices/", {"lot": b.lot_b.pk})) == [b.termination_b.pk, b.tender_b.pk]
    assert _ids(anonymous.get("/api/notices/", {"kind": "tender", "region": "45"})) == [b.tender_c.pk, b.tender_a.pk]
    assert _ids(anonymous.get("/api/notices/", {"kind": "tender", "lot": b.lot_b.pk, "q": "北京"})) == [b.tender_b.pk]


# --- Queries -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_list_query_count_does_not_grow_with_notices(parties, client_for, django_assert_max_num_queries):
    anonymous = client_for(None)
    for i in range(5):
        factories.lot(parties, stage="published", issued=day(11, 2 + i % 3))
    with django_assert_max_num_queries(2) as five:
        r = anonymous.get("/api/notices/")
    assert r.json()["count"] == 5
    assert len(r.json()["results"]) == 5

    for i in range(20):
        factories.lot(parties, stage="published", issued=day(11, 2 + i % 3))
    with django_assert_max_num_queries(2) as twenty_five:
        r = anonymous.get("/api/notices/", {"page_size": 50})
    assert r.json()["count"] == 25
    assert len(r.json()["results"]) == 25
    assert {row["tenderee"] for row in r.json()["results"]} == {"某县城投公司"}
    assert len(twenty_five.captured_queries) == len(five.captured_queries) == 2


# --- Atom feed -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_atom_feed(board, client):
    r = client.get("/api/notices/feed.atom")
    assert r.status_code == 200
    assert r["Content-Type"] == "application/atom+xml; charset=utf-8"
    root = ET.fromstring(r.content)
    assert root.tag == f"{ATOM}feed"
    assert root.findtext(f"{ATOM}title") == "公共资源交易中心 公告"
    entries = root.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in entries] == [
        "[终止公告] 北京某道路工程终止公告",
        "[招标公告] 某县污水处理厂招标公告",
        "[招标公告] 北京某道路工程招标公告",
        "[澄清/修改公告] 澄清公告（一）GX-2026-001",
        "[招标公告] 招标公告",
    ]
    links = [e.find(f"{ATOM}link").get("href") for e in entries]
    assert links == [f"http://testserver/api/notices/{pk}/" for pk in board.newest_first()]
    assert [e.find(f"{ATOM}category").get("term") for e in entries] == [
        "termination",
        "tender",
        "tender",
        "clarification",
        "tender",
    ]
    assert entries[-1].findtext(f"{ATOM}summary") == "欢迎投标"
    # Each link is the public detail.
    detail = client.get(links[0].removeprefix("http://testserver"))
    assert detail.status_code == 200
    assert detail.json()["id"] == board.termination_b.pk


@pytest.mark.django_db
def test_atom_feed_when_empty_is_valid(client):
    r = client.get("/api/notices/feed.atom")
    assert r.status_code == 200
    root = ET.fromstring(r.content)
    assert root.findall(f"{ATOM}entry") == []


# --- Read-only -----------------------------------------------------------------------------------


METHOD_NOT_ALLOWED = {
    "code": "method_not_allowed",
    "detail": "不支持该请求方法",
    "message": {"zh-hans": "不支持该请求方法", "en": "Method not allowed."},
}


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["anonymous", "tenderee", "staff"])
def test_writes_are_refused(board, parties, client_for, who):
    api = client_for(None if who == "anonymous" else getattr(parties, who))
    before = list(Notice.objects.order_by("pk").values_list("pk", "title", "body"))
    url = f"/api/notices/{board.tender_a.pk}/"
    payload = {"kind": "tender", "lot": board.lot_c.pk, "title": "伪造公告", "body": "x", "region_code": "450102"}

    responses = [
        api.post("/api/notices/", payload, format="json"),
        api.put(url, payload, format="json"),
        api.patch(url, {"title": "篡改"}, format="json"),
        api.delete(url),
    ]

    for r in responses:
        assert r.status_code == 405
        assert r.json() == METHOD_NOT_ALLOWED
    assert list(Notice.objects.order_by("pk").values_list("pk", "title", "body")) == before
