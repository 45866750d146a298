"""远程异地评标 from the staff draw page in a real browser: a seat in another centre's venue (shown as such) and the
regional expert pool ticked; the draw calls regional experts and the regional link reports the booked seats and the
called experts by pool number (tests/trading/regional/test_remote.py covers the push itself)."""

import json

import pytest
from django.conf import settings

from evaluation.models import DrawnExpert, DrawRequest, Venue
from tests import factories
from tests.evaluation import kit
from tests.frontend.flows import choose
from tests.realtime.kit import session_cookie
from trading.models import RegionalMessage

OTHER_CENTRE = "450103"


@pytest.fixture
def remote(transactional_db):
    parties = factories.Parties.create()
    kit.specialties()
    kit.experts(2, "A0801")  # too few locally: the committee needs the regional pool
    regional = [kit.expert("A0801", pool="regional", number=f"R45-{n:04d}") for n in range(1, 7)]
    main = Venue.objects.create(name="本中心主场", kind=Venue.Kind.MAIN, seats=10)
    Venue.objects.create(name="兴宁区中心副场", kind=Venue.Kind.SECONDARY, seats=10, centre_code=OTHER_CENTRE)
    lot = kit.opened_lot(parties)
    session = session_cookie(parties.staff).decode().split("=", 1)[1]
    return {"lot": lot.pk, "main": main.name, "session": session, "regional": {e.pk: e.number for e in regional}}


@pytest.fixture
def checked(remote):
    """Runs after the browser has closed (the test body makes no ORM call while it runs)."""
    yield
    request = DrawRequest.objects.get(lot_id=remote["lot"])
    assert request.regional_pool is True
    invited = DrawnExpert.objects.filter(draw__request=request, status="invited").select_related("expert", "venue")
    assert invited.count() == 5
    called = sorted(m.expert.number for m in invited if m.expert.pool == "regional")
    assert len(called) >= 3  # two local experts at most
    (push,) = RegionalMessage.objects.filter(lot_id=remote["lot"], table="remote_seats")
    data = json.loads(push.body)["data"]
    assert sorted(e["number"] for e in data["experts"]) == called
    assert all("name" not in e for e in data["experts"])  # 法37: by pool number only
    assert data["seats"] == [{"centre": OTHER_CENTRE, "venue": "兴宁区中心副场", "seats": 2}]


def test_staff_draw_with_another_centres_venue_and_the_regional_pool(remote, checked, page, screenshot, live_server):
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": remote["session"], "url": live_server.url}])
    page.goto(f"{live_server.url}/staff/draws")
    page.locator("[data-test=draw-form]").wait_for()
    choose(page, "[data-test=draw-lot]", "开标中")
    choose(page, "[data-test=draw-specialty-0]", "A08 ")
    choose(page, "[data-test=draw-venue-0]", remote["main"])
    page.fill("[data-test=draw-seats-0] input", "3")
    page.click("[data-test=draw-add-venue]")
    choose(page, "[data-test=draw-venue-1]", f"外中心 {OTHER_CENTRE}")  # the other centre's venue says so
    page.fill("[data-test=draw-seats-1] input", "2")
    page.locator("[data-test=draw-seats-1] input").press("Tab")
    page.click("[data-test=draw-regional-pool]")
    page.click("[data-test=draw-submit]")
    requests = page.locator("[data-test=draw-requests]")
    requests.locator(".el-table__row", has_text="待抽取").wait_for()
    assert requests.locator("[data-test=draw-regional-tag]").inner_text() == "含区域专家库"
    page.locator("[data-test^=draw-run-]").first.click()
    requests.locator(".el-table__row", has_text="已抽取，待确认").wait_for()
    page.locator("[data-test=draw-members] .el-table__row").first.wait_for()
    screenshot(page, "remote-draw")
