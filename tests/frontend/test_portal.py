"""The public portal in a real browser: the notice board, a notice, the English switch (it persists), an award letter
verified by its code and by its PDF, and a staff login and logout (session cookie + CSRF)."""

import hashlib
import re
from datetime import date, timedelta

import pytest
from django.utils import timezone

from notices.models import Letter, Notice
from tests import factories
from trading import services
from trading.rules import LOCAL

TITLE = "某县第一中学教学楼改造工程施工招标公告"
CODE = "TEST-LETR-CODE-2026"
PDF = b"%PDF-1.7\n% a stand-in for the award letter: the check compares SHA-256 only\n%%EOF\n"


@pytest.fixture
def portal(transactional_db):
    """A published tender notice and an award letter for its lot (the row as notices.letters issues it, without
    driving the lot through evaluation: tests/notices/test_letters.py covers issuing)."""
    parties = factories.Parties.create()
    issued = factories.at(date(2026, 11, 2), 9, 30)
    lot = factories.lot(parties, stage="filed", issued=issued)
    lot, _ = services.lot_publish(lot=lot, actor=parties.tenderee, title=TITLE, body="欢迎具备资格的投标人参加投标。", now=issued)
    notice = Notice.objects.get(lot=lot, kind="tender")
    winner = parties.bidders[0].organisation
    letter = Letter.objects.create(
        lot=lot,
        kind="award",
        recipient=winner,
        code=CODE,
        object_key=f"letters/{CODE}.pdf",
        size=len(PDF),
        sha256=hashlib.sha256(PDF).hexdigest(),
        issued_at=issued + timedelta(days=40),
        issued_by=parties.staff,
    )
    return {
        "notice_id": notice.pk,
        "published": timezone.localtime(notice.published_at, LOCAL).strftime("%Y-%m-%d %H:%M"),
        "lot_name": lot.name,
        "sha256": letter.sha256,
        "winner": winner.name,
        "staff": parties.staff.username,
    }


def test_portal_notices_language_letter_and_login(portal, page, screenshot, live_server):
    base = live_server.url
    page.goto(base + "/")
    header = page.locator("header")
    assert "公共资源交易中心" in header.inner_text()
    row = page.locator("[data-test=notices] .el-table__row", has_text=TITLE)
    row.wait_for()
    assert portal["published"] in row.inner_text()  # Beijing time although the browser is in UTC
    assert "招标公告" in row.inner_text()
    screenshot(page, "01-notices")

    # Search by title; filter by type (in the URL, so a list can be linked).
    page.fill("input[data-test=search]", "教学楼")
    page.click("[data-test=query]")
    page.wait_for_url(re.compile(r"q=%E6%95%99%E5%AD%A6%E6%A5%BC"))
    row.wait_for()
    page.goto(base + "/?kind=result")
    page.locator("[data-test=notices]", has_text="暂无公告").wait_for()
    page.goto(base + "/?from=2026-11-02&to=2026-11-02")
    row.wait_for()
    page.goto(base + "/?from=2026-11-03&to=2026-11-30")
    page.locator("[data-test=notices]", has_text="暂无公告").wait_for()

    # The notice itself.
    page.goto(base + "/")
    row.get_by_role("link", name=TITLE).click()
    page.wait_for_url(f"**/notices/{portal['notice_id']}")
    card = page.locator("[data-test=notice]")
    card.wait_for()
    assert TITLE in card.inner_text() and "欢迎具备资格的投标人参加投标。" in card.inner_text()
    assert portal["published"] in card.inner_text()
    screenshot(page, "02-notice")

    # English, and it stays English after a reload.
    page.click("[data-test=language]")
    header.get_by_text("Public Resource Trading Centre").wait_for()
    page.reload()
    page.locator("[data-test=notice]", has_text="Transaction code").wait_for()
    assert "Public Resource Trading Centre" in header.inner_text()
    assert page.title() == "Public Resource Trading Centre · e-Tendering and Remote Evaluation Platform"
    screenshot(page, "03-notice-en")

    # An award letter by its code, then its PDF compared; an unknown code says so in English.
    page.goto(base + "/verify")
    page.fill("input[data-test=code]", CODE.lower())
    page.click("[data-test=verify]")
    letter = page.locator("[data-test=letter]")
    letter.wait_for()
    assert page.locator("[data-test=sha256]").inner_text() == portal["sha256"]
    assert page.locator("[data-test=lot]").inner_text() == portal["lot_name"]
    assert portal["winner"] in letter.inner_text() and "Award letter" in letter.inner_text()
    page.locator("[data-test=upload] input[type=file]").set_input_files(
        {"name": "letter.pdf", "mimeType": "application/pdf", "buffer": PDF}
    )
    page.locator("[data-test=match][data-match=true]", has_text="The file is the letter the platform issued").wait_for()
    screenshot(page, "04-letter-verified")
    page.locator("[data-test=upload] input[type=file]").set_input_files(
        {"name": "forged.pdf", "mimeType": "application/pdf", "buffer": PDF + b"%"}
    )
    page.locator("[data-test=match][data-match=false]").wait_for()
    page.goto(base + "/verify/NOPE-NOPE-NOPE-NOPE")
    page.locator("[data-test=error]", has_text="No letter has this verification code").wait_for()

    # A staff member logs in (a wrong password first), sees who they are, and logs out (a CSRF-checked POST).
    page.click("[data-test=login-link]")
    page.wait_for_url("**/login")
    page.fill("input[data-test=username]", portal["staff"])
    page.fill("input[data-test=password]", "not-the-password")
    page.click("[data-test=submit]")
    page.locator("[data-test=error]", has_text="Wrong username or password").wait_for()
    page.fill("input[data-test=password]", factories.PASSWORD)
    page.click("[data-test=submit]")
    page.locator("[data-test=user]", has_text="Centre staff").wait_for()
    page.wait_for_url(base + "/")
    screenshot(page, "05-logged-in")
    page.reload()  # the session survives a reload
    page.locator("[data-test=user]").wait_for()
    page.click("[data-test=logout]")
    page.locator("[data-test=login-link]").wait_for()
    page.reload()
    page.locator("[data-test=login-link]").wait_for()
    assert page.locator("[data-test=user]").count() == 0


def test_unknown_page_and_django_paths(portal, page, live_server):
    """Paths the app does not know show its own page; /api/ and /admin/ stay Django's."""
    base = live_server.url
    page.goto(base + "/no/such/page")
    page.get_by_text("页面不存在").wait_for()
    response = page.request.get(base + "/api/notices/")
    assert response.ok and response.json()["count"] == 1
    assert page.request.get(base + "/api/no-such-endpoint/").status == 404
    admin = page.request.get(base + "/admin/login/")
    assert admin.ok and "管理后台" in admin.text() and 'id="app"' not in admin.text()
