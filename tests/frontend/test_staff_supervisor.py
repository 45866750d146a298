"""The staff and supervisor pages in a real browser: staff see the lots with their next deadlines, accept a filing,
publish a lot, create and run an expert draw; a supervisor searches the audit trail, verifies its hash chain and
opens the statistics dashboard (a chart renders). Data comes from the factories (real services); the live server
runs at the real clock, so the lots' dates are set relative to now."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from evaluation.models import DrawnExpert, DrawRequest
from tests import factories
from tests.evaluation import kit
from tests.evaluation.room import room, to_report  # noqa: F401 (the room fixture)
from tests.evaluation.test_opened_bids import evaluating  # noqa: F401 (the fixture)
from trading import rules, services
from trading.models import Lot, LotStatus, Review


@pytest.fixture
def desk(transactional_db):
    """Three lots: one filed (to publish), one registered with a filing awaiting review, one at its opening with
    its bidders known (to draw experts for); ten A0801 experts and a main and a secondary venue."""
    parties = factories.Parties.create()
    now = timezone.now()
    to_publish = factories.lot(parties, stage="filed", issued=now)
    pending = factories.lot(parties, stage="registered", issued=now)
    factories.document(pending, parties.tenderee, now)
    day = rules.local_date(now)
    review = services.filing_submit(
        lot=pending,
        actor=parties.tenderee,
        docs_sale_end=factories.at(day + timedelta(days=8), 17, 0),
        bid_deadline=factories.at(rules.next_working_day(day + timedelta(days=22))),
        now=now,
    )
    kit.specialties()
    kit.experts(10, "A0801")
    main, secondary = kit.venues()
    opening = kit.opened_lot(parties)
    return {
        "staff": parties.staff.username,
        "supervisor": parties.supervisor.username,
        "to_publish": to_publish.pk,
        "to_publish_sale_end": timezone.localtime(to_publish.docs_sale_end, rules.LOCAL).strftime("%Y-%m-%d %H:%M"),
        "pending": pending.pk,
        "review": review.pk,
        "opening": opening.pk,
        "main": main.name,
        "secondary": secondary.name,
    }


def login(page, base, username):
    page.goto(base + "/login")
    page.fill("input[data-test=username]", username)
    page.fill("input[data-test=password]", factories.PASSWORD)
    page.click("[data-test=submit]")
    page.locator("[data-test=logout]").wait_for()


def choose(page, select, option):
    """Open an Element Plus select and click the visible option containing `option`."""
    from playwright.sync_api import expect  # imported here: without playwright the browser fixture skips the test

    page.click(select)
    page.locator(".el-select-dropdown__item:visible", has_text=option).first.click()
    expect(page.locator(".el-select-dropdown__item:visible")).to_have_count(0)  # closed: the next select's list is the one


def test_staff_desk_and_supervisor_audit_and_dashboard(desk, checked_after, page, screenshot, live_server):
    base = live_server.url
    login(page, base, desk["staff"])

    # 项目与标段: every lot, its state, the next deadline (Beijing time although the browser is in UTC).
    page.click("[data-test=nav-staff-lots]")
    table = page.locator("[data-test=lots]")
    row = table.locator(".el-table__row", has_text="已备案").first
    row.wait_for()
    assert table.locator(".el-table__row").count() == 3
    assert "文件发售截止" in row.inner_text() and desk["to_publish_sale_end"] in row.inner_text()
    assert "发布招标公告" in row.inner_text()  # what is due
    assert "开标中" in table.inner_text()
    screenshot(page, "lots")

    # 备案审核: accept the pending filing.
    page.click("[data-test=nav-staff-reviews]")
    page.locator(f"[data-test=accept-{desk['review']}]").click()
    page.locator(".el-message--success").wait_for()
    page.locator("[data-test=reviews] .el-table__empty-text").wait_for()
    screenshot(page, "reviews")

    # The filed lot's page: its lifecycle and the publish action.
    page.goto(f"{base}/staff/lots/{desk['to_publish']}")
    page.locator("[data-test=lifecycle]").wait_for()
    assert "已备案" in page.locator("[data-test=lot-status]").inner_text()
    page.click("[data-test=action-publish]")
    page.fill("textarea[data-test=publish-body]", "欢迎具备资格的投标人参加投标。")
    page.click("[data-test=publish-confirm]")
    page.locator("[data-test=lot-status]", has_text="已发布公告").wait_for()
    screenshot(page, "lot")

    # 专家抽取: a request for the lot at its opening (5 experts of A08: 3 seats at the main venue, 2 at the
    # secondary), then the draw itself, then the drawn experts.
    page.click("[data-test=nav-staff-draws]")
    choose(page, "[data-test=draw-lot]", "开标中")
    choose(page, "[data-test=draw-specialty-0]", "A08 ")
    choose(page, "[data-test=draw-venue-0]", desk["main"])
    page.fill("[data-test=draw-seats-0] input", "3")
    page.click("[data-test=draw-add-venue]")
    choose(page, "[data-test=draw-venue-1]", desk["secondary"])
    page.fill("[data-test=draw-seats-1] input", "2")
    page.locator("[data-test=draw-seats-1] input").press("Tab")
    page.click("[data-test=draw-submit]")
    requests = page.locator("[data-test=draw-requests]")
    requests.locator(".el-table__row", has_text="待抽取").wait_for()
    page.locator("[data-test^=draw-run-]").first.click()
    requests.locator(".el-table__row", has_text="已抽取，待确认").wait_for()
    members = page.locator("[data-test=draw-members]")
    members.locator(".el-table__row").first.wait_for()
    assert members.get_by_text("已通知，待确认").count() == 5
    screenshot(page, "draw")

    # 日历: the openings by day.
    page.click("[data-test=nav-staff-calendar]")
    page.locator("[data-test=calendar]").wait_for()
    screenshot(page, "calendar")

    page.click("[data-test=logout]")
    page.locator("[data-test=login-link]").wait_for()

    # The supervisor: the audit trail, its chain verified, the dashboard.
    login(page, base, desk["supervisor"])
    page.click("[data-test=nav-supervisor-audit]")
    events = page.locator("[data-test=audit-events]")
    events.locator(".el-table__row").first.wait_for()
    page.fill("input[data-test=audit-action]", "lot.published")
    page.click("[data-test=audit-query]")
    events.locator(".el-table__row", has_text="lot.published").first.wait_for()
    page.click("[data-test=verify-chain]")
    result = page.locator("[data-test=verify-result]")
    result.wait_for()
    assert "哈希链完整" in result.inner_text()
    screenshot(page, "audit")

    page.click("[data-test=nav-supervisor-monitor]")
    choose(page, "[data-test=monitor-lot]", "开标中")
    page.locator("[data-test=monitor-status]").wait_for()
    screenshot(page, "monitor")

    page.click("[data-test=nav-supervisor-statistics]")
    page.locator("[data-test=chart-status] canvas").wait_for()
    assert "标段数" in page.locator("[data-test=kpis]").inner_text()
    screenshot(page, "statistics")


@pytest.fixture
def checked_after(desk):
    """After the browser has closed (this fixture is set up before `page`, so torn down after it): the database
    holds what the pages did."""
    yield desk
    assert Lot.objects.get(pk=desk["to_publish"]).status == LotStatus.PUBLISHED
    assert Review.objects.get(pk=desk["review"]).status == "accepted"
    assert Lot.objects.get(pk=desk["pending"]).status == LotStatus.FILED
    request = DrawRequest.objects.get(lot=desk["opening"])
    assert request.status == DrawRequest.Status.DRAWN
    assert DrawnExpert.objects.filter(draw__request=request, status="invited").count() == 5


def test_fixture_lots_are_in_the_expected_states(desk):
    """The browser test's starting point, checked without a browser: a filed lot, a pending filing, a lot opening."""
    assert Lot.objects.get(pk=desk["to_publish"]).status == LotStatus.FILED
    assert Review.objects.get(pk=desk["review"]).status == "pending"
    assert Lot.objects.get(pk=desk["opening"]).status == LotStatus.OPENING
    assert not DrawRequest.objects.exists() and not DrawnExpert.objects.exists()
    assert AuditEvent.objects.exists()


# --- An evaluation in progress: the staff's session control, the supervisor's live view and per-lot charts ---------


@pytest.fixture
def tree(transactional_db):
    return kit.specialties()


@pytest.fixture
def reporting(room):  # noqa: F811
    """test_session's main case taken to the report phase (B rejected at compliance, C first): the advance to
    `done` is refused until every member has signed."""
    to_report(room)
    return {"lot": room.lot.pk, "staff": room.parties.staff.username, "supervisor": room.parties.supervisor.username}


def test_session_control_live_view_and_per_lot_charts(reporting, page, screenshot, live_server):
    base = live_server.url
    login(page, base, reporting["staff"])
    page.goto(f"{base}/staff/lots/{reporting['lot']}")
    control = page.locator("[data-test=session-control]")
    control.locator("[data-test=session-phase]", has_text="报告签署").wait_for()
    assert "评标中" in page.locator("[data-test=lot-status]").inner_text()
    page.click("[data-test=session-advance]")
    refusal = page.locator("[data-test=session-refusal]")
    refusal.wait_for()
    assert "未满足的条件" in refusal.inner_text()
    screenshot(page, "session")
    page.click("[data-test=logout]")
    page.locator("[data-test=login-link]").wait_for()

    login(page, base, reporting["supervisor"])
    page.goto(f"{base}/supervisor/monitor/{reporting['lot']}")
    page.locator("[data-test=monitor-phase]", has_text="报告签署").wait_for()
    assert page.locator("[data-test=monitor-session] .el-table__row").count() == 5
    screenshot(page, "monitor")

    page.click("[data-test=nav-supervisor-statistics]")
    for chart in ("status", "bids", "phases", "savings"):
        page.locator(f"[data-test=chart-{chart}] canvas").wait_for()
    kpis = page.locator("[data-test=kpis]").inner_text()
    assert "已评标标段\n1" in kpis and "有效投标\n2" in kpis and "被否决投标\n1" in kpis, kpis
    screenshot(page, "statistics")
