"""Electronic supervision, the audit trail and the regional pushes in a real browser (issue 7).

A supervisor reads the alerts a real `supervision.services.scan()` raised (two red rules on one lot, a missed
decryption deadline on another), filters them by level, reads an alert's evidence, resolves one (an empty note is
refused), and follows the lots in progress with their open alerts; then searches the audit trail, downloads the
CSV and JSON Lines exports of that search and checks the hash chain. Staff send a delivered regional push again
(the row turns pending); a supervisor reads the same page without the button.

As the conftest explains, the data is made before the browser starts and the database is checked after it closes
(the `*_after` fixtures); the test bodies make no ORM call. Sessions come as cookies: the login form is throttled.
"""

import csv
import io
import json
from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from audit.models import AuditEvent
from supervision import services as supervision
from supervision.models import Alert
from tests import factories
from tests.frontend.test_staff_supervisor import choose
from tests.realtime.kit import session_cookie
from tests.supervision import kit
from tests.supervision.kit import NOW
from trading.models import RegionalMessage
from trading.rules import LOCAL

ADDRESS = "203.0.113.7"
NOTE = "经核查，两家投标人为同一集团下属公司，已移交行政监督部门调查。"
DAY_FROM, DAY_TO = "2026-12-01 00:00:00", "2026-12-01 23:59:59"  # the Beijing day of the scan (kit.NOW)


def _cookie(user) -> str:
    return session_cookie(user).decode().split("=", 1)[1]


def sign_in(page, base: str, cookie: str) -> None:
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": base}])


@pytest.fixture
def watched(transactional_db):
    """Two lots scanned at kit.NOW: one whose two bidders uploaded the same file from one address (two red alerts),
    one whose decryption window ended two hours before and is still open (a yellow alert); and a published lot
    (through the services, so the regional outbox holds its pushes), two of them delivered and one failing."""
    parties = factories.Parties.create()
    collusion = kit.lot(parties)
    kit.bid(collusion, parties.bidders[0], ip=ADDRESS, plaintext_sha256="a" * 64)
    kit.bid(collusion, parties.bidders[1], ip=ADDRESS, plaintext_sha256="a" * 64)
    late = kit.lot(parties)
    kit.opening(late, deadline=NOW - timedelta(hours=2))
    assert supervision.scan(now=NOW) == {"found": 3, "created": 3, "escalated": 0, "seen": 0}
    alerts = {a.rule: a.pk for a in Alert.objects.all()}

    published = factories.lot(parties, stage="published", issued=timezone.now())
    pushes = list(RegionalMessage.objects.filter(lot=published).order_by("seq"))
    assert len(pushes) >= 3, [(p.seq, p.table) for p in pushes]
    delivered_at = timezone.now() - timedelta(minutes=5)
    RegionalMessage.objects.filter(pk__in=[pushes[0].pk, pushes[1].pk]).update(
        status="delivered", attempts=1, delivered_at=delivered_at
    )
    RegionalMessage.objects.filter(pk=pushes[2].pk).update(
        attempts=2, last_error="HTTP 503: 省级平台维护中", next_attempt_at=timezone.now() + timedelta(minutes=10)
    )

    raised = AuditEvent.objects.filter(action__startswith="supervision.", lot_id=collusion.pk).order_by("seq")
    return {
        "supervisor": _cookie(parties.supervisor),
        "supervisor_name": parties.supervisor.username,
        "staff": _cookie(parties.staff),
        "staff_name": parties.staff.username,
        "collusion": collusion.pk,
        "late": late.pk,
        "address_alert": alerts["same_upload_address"],
        "files_alert": alerts["identical_bid_files"],
        "deadline_alert": alerts["deadline_missed"],
        "raised_seqs": list(raised.values_list("seq", flat=True)),
        "published": published.pk,
        "published_code": published.transaction_code,
        "resend_seq": pushes[0].seq,
        "resend_id": str(pushes[0].pk),
        "failing_seq": pushes[2].seq,
        "push_count": len(pushes),
    }


@pytest.fixture
def resolved_after(watched):
    """After the browser: the address alert resolved by the supervisor with the note, audited; the others open."""
    yield watched
    alert = Alert.objects.get(pk=watched["address_alert"])
    assert (alert.resolved_by.username, alert.resolution_note) == (watched["supervisor_name"], NOTE)
    assert alert.resolved_at is not None
    assert list(Alert.objects.filter(resolved_at__isnull=True).order_by("pk").values_list("pk", flat=True)) == sorted(
        [watched["files_alert"], watched["deadline_alert"]]
    )
    event = AuditEvent.objects.get(action="supervision.alert_resolved")
    assert (event.actor.username, event.lot_id) == (watched["supervisor_name"], watched["collusion"])


def test_alerts_filtered_explained_and_resolved(watched, resolved_after, page, screenshot, live_server):
    from playwright.sync_api import expect

    base = live_server.url
    sign_in(page, base, watched["supervisor"])
    page.goto(base + "/")
    page.click("[data-test=nav-supervisor-alerts]")
    table = page.locator("[data-test=alerts-table]")
    rows = table.locator(".el-table__body-wrapper tr.el-table__row")
    expect(rows).to_have_count(3)
    assert page.locator("[data-test=alerts-total]").inner_text() == "共 3 条"
    # Found at 10:00 Beijing time, shown so although the browser runs in UTC.
    assert page.locator("[data-test=first-seen]").all_inner_texts() == ["2026-12-01 10:00"] * 3
    address = table.locator(f"tr.alert-{watched['address_alert']}")
    assert "同一上传地址" in address.inner_text() and ADDRESS in address.inner_text()
    assert "解密" in table.locator(f"tr.alert-{watched['deadline_alert']}").inner_text()
    screenshot(page, "alerts")

    # Red only.
    choose(page, "[data-test=alerts-level]", "红色")
    expect(rows).to_have_count(2)
    expect(table.locator("[data-test=level-red]")).to_have_count(2)
    expect(table.locator("[data-test=level-yellow]")).to_have_count(0)

    # The evidence: the address, both bidders by name, their bids' state in words.
    address.locator(".el-table__expand-icon").click()
    evidence = page.locator(f"[data-test=evidence-{watched['address_alert']}]")
    evidence.wait_for()
    text = evidence.inner_text()
    assert f"ip:{ADDRESS}" in text and "上传地址" in text
    assert "投标公司1" in text and "投标公司2" in text and "已解密" in text
    screenshot(page, "alert-evidence")

    # Resolving: an empty note is refused in the dialog, nothing is sent; then with the note.
    page.click(f"[data-test=resolve-{watched['address_alert']}]")
    dialog = page.locator("[data-test=resolve-dialog]")
    dialog.wait_for()
    page.click("[data-test=resolve-submit]")
    expect(page.locator(".el-form-item__error", has_text="请填写处理说明")).to_be_visible()
    page.fill("textarea[data-test=resolve-note]", "   ")
    page.click("[data-test=resolve-submit]")
    expect(page.locator(".el-form-item__error", has_text="请填写处理说明")).to_be_visible()
    expect(dialog).to_be_visible()
    screenshot(page, "resolve-refused")
    page.fill("textarea[data-test=resolve-note]", NOTE)
    page.click("[data-test=resolve-submit]")
    page.locator(".el-message--success", has_text="已处理该预警").wait_for()
    expect(dialog).to_be_hidden()
    expect(rows).to_have_count(1)  # still red and open only: the resolved one left the list

    # All states: the alert shown resolved, by whom and with the note.
    choose(page, "[data-test=alerts-resolved]", "全部")
    expect(rows).to_have_count(2)
    resolved = page.locator(f"[data-test=resolved-{watched['address_alert']}]")
    expect(resolved).to_contain_text(NOTE)
    expect(resolved).to_contain_text(f"{watched['supervisor_name']} 于")
    expect(page.locator(f"[data-test=resolve-{watched['files_alert']}]")).to_be_visible()
    screenshot(page, "alerts-resolved")

    # The lots in progress with their open alerts: one red left on the collusion lot, one yellow on the late one.
    page.locator(".el-tabs__item", has_text="在办标段").click()
    lots = page.locator("[data-test=monitored-lots]")
    collusion = lots.locator(f"tr.lot-{watched['collusion']}")
    expect(collusion.locator("[data-test=open-red]")).to_have_text("1")
    expect(collusion.locator("[data-test=open-yellow]")).to_have_count(0)
    late = lots.locator(f"tr.lot-{watched['late']}")
    expect(late.locator("[data-test=open-yellow]")).to_have_text("1")
    screenshot(page, "alert-lots")
    page.click(f"[data-test=lot-alerts-{watched['late']}]")
    expect(page.locator("input[data-test=alerts-lot]")).to_have_value(str(watched["late"]))
    expect(rows).to_have_count(1)
    expect(table.locator("[data-test=level-yellow]")).to_have_count(1)

    # A lot filter that is not a number is caught by the field, not sent.
    page.fill("input[data-test=alerts-lot]", "12a")
    page.click("[data-test=alerts-query]")
    expect(page.locator(".el-form-item__error", has_text="标段编号应为数字")).to_be_visible()
    expect(page.locator("[data-test=alerts-error]")).to_have_count(0)

    # English.
    page.click("[data-test=alerts-reset]")
    expect(rows).to_have_count(2)
    page.click("[data-test=language]")
    expect(page.locator("h2", has_text="Supervision alerts")).to_be_visible()
    expect(table).to_contain_text("Identical bid files")
    expect(table).to_contain_text("decryption not closed after the decryption window: due 2026-12-01 08:00 (Beijing)")
    screenshot(page, "alerts-en")


def _beijing(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(LOCAL)


def test_audit_search_export_and_chain(watched, page, screenshot, live_server):
    from playwright.sync_api import expect

    base = live_server.url
    sign_in(page, base, watched["supervisor"])
    page.goto(base + "/supervisor/audit")
    events = page.locator("[data-test=audit-events] .el-table__body-wrapper tr.el-table__row")
    events.first.wait_for()

    # The collusion lot's supervision entries on the day of the scan (an action prefix, Beijing times).
    page.fill("input[data-test=audit-lot]", str(watched["collusion"]))
    page.fill("input[data-test=audit-action]", "supervision.")
    range_inputs = page.locator("[data-test=audit-range] input")
    range_inputs.nth(0).fill(DAY_FROM)
    range_inputs.nth(0).press("Enter")
    range_inputs.nth(1).fill(DAY_TO)
    range_inputs.nth(1).press("Enter")
    page.keyboard.press("Escape")
    page.click("[data-test=audit-query]")
    expect(events).to_have_count(len(watched["raised_seqs"]))
    assert [int(row.locator("td").nth(1).inner_text()) for row in events.all()] == sorted(watched["raised_seqs"], reverse=True)
    for text in events.all_inner_texts():
        assert "supervision.alert_raised" in text and "2026-12-01 10:00:00" in text

    # The range went out as Beijing instants, its last second included (at_before is exclusive).
    href = page.locator("[data-test=export-csv]").get_attribute("href")
    assert href == (
        f"/api/audit/events/export/?lot_id={watched['collusion']}&action_prefix=supervision."
        "&at_after=2026-12-01T00%3A00%3A00%2B08%3A00&at_before=2026-12-02T00%3A00%3A00%2B08%3A00&format=csv"
    )

    # The CSV export holds exactly the search, in chain order, each row with its hashes.
    with page.expect_download() as download:
        page.click("[data-test=export-csv]")
    assert download.value.suggested_filename.endswith(".csv")
    text = download.value.path().read_bytes().decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [int(r["seq"]) for r in rows] == watched["raised_seqs"]
    low, high = datetime(2026, 12, 1, tzinfo=LOCAL), datetime(2026, 12, 2, tzinfo=LOCAL)
    for row in rows:
        assert row["action"].startswith("supervision.") and row["lot_id"] == str(watched["collusion"])
        assert low <= _beijing(row["at"]) < high and len(row["hash"]) == 64 and len(row["prev_hash"]) == 64
    # JSON Lines: the same entries.
    with page.expect_download() as download:
        page.click("[data-test=export-jsonl]")
    lines = [json.loads(line) for line in download.value.path().read_text(encoding="utf-8").splitlines()]
    assert [line["seq"] for line in lines] == watched["raised_seqs"]
    assert {line["action"] for line in lines} == {"supervision.alert_raised"}

    # By actor (the username the list shows): the staff's own entries, an exact action.
    page.click("[data-test=audit-reset]")
    choose(page, "[data-test=audit-action-mode]", "等于")
    page.fill("input[data-test=audit-action]", "lot.published")
    page.fill("input[data-test=audit-actor]", watched["staff_name"])
    page.click("[data-test=audit-query]")
    expect(events).to_have_count(0)  # the tenderee published the lot, not staff
    page.fill("input[data-test=audit-actor]", "")
    page.click("[data-test=audit-query]")
    expect(events).to_have_count(1)
    assert "lot.published" in events.first.inner_text()
    href = page.locator("[data-test=export-csv]").get_attribute("href")
    assert href == "/api/audit/events/export/?action=lot.published&format=csv"

    # The chain checked whole.
    page.click("[data-test=verify-chain]")
    result = page.locator("[data-test=verify-result]")
    expect(result).to_contain_text("哈希链完整")
    expect(result).to_contain_text("未发现篡改")
    screenshot(page, "audit-search")


@pytest.fixture
def resent_after(watched):
    """After the browser: the delivered push is pending again, to go at once, audited as the staff's resend."""
    yield watched
    push = RegionalMessage.objects.get(pk=watched["resend_id"])
    assert (push.status, push.delivered_at) == ("pending", None)
    assert push.next_attempt_at <= timezone.now()
    event = AuditEvent.objects.get(action="regional.resent")
    assert (event.actor.username, event.object_id, event.before) == (
        watched["staff_name"],
        watched["resend_id"],
        {"status": "delivered"},
    )
    assert RegionalMessage.objects.filter(lot=watched["published"], status="delivered").count() == 1


def test_regional_pushes_and_resend(watched, resent_after, browser, screenshot, live_server):
    from playwright.sync_api import expect

    from tests.frontend.flows import new_context

    base = live_server.url
    lot, seq = watched["published"], watched["resend_seq"]
    staff = new_context(browser, base, watched["staff"])
    page = staff.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # From the lot's page to its pushes.
    page.goto(f"{base}/staff/lots/{lot}")
    page.click("[data-test=lot-regional]")
    page.wait_for_url(f"**/staff/regional?lot={lot}")
    rows = page.locator("[data-test=regional-messages] .el-table__body-wrapper tr.el-table__row")
    expect(rows).to_have_count(watched["push_count"])
    for text in rows.all_inner_texts():
        assert watched["published_code"] in text
    state = page.locator(f"[data-test=regional-state-{lot}-{seq}]")
    expect(state).to_have_attribute("data-state", "delivered")
    expect(state).to_have_text("已送达")
    failing = page.locator(f"[data-test=regional-state-{lot}-{watched['failing_seq']}]")
    expect(failing).to_have_attribute("data-state", "failing")
    expect(page.locator("[data-test=regional-messages]")).to_contain_text("HTTP 503: 省级平台维护中")
    screenshot(page, "regional")

    # 重新发送: confirmed, the row turns pending at once.
    page.click(f"[data-test=resend-{lot}-{seq}]")
    page.locator(".el-message-box__btns .el-button--primary").click()
    page.locator(".el-message--success", has_text="已重新排队发送").wait_for()
    expect(state).to_have_attribute("data-state", "waiting")
    expect(state).to_have_text("待发送")
    choose(page, "[data-test=regional-status]", "已送达")
    expect(rows).to_have_count(1)
    screenshot(page, "regional-resent")
    staff.close()
    assert errors == []

    # A supervisor reads the same page from the menu, without the button.
    watcher = new_context(browser, base, watched["supervisor"])
    page = watcher.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(base + "/")
    page.click("[data-test=nav-staff-regional]")
    rows = page.locator("[data-test=regional-messages] .el-table__body-wrapper tr.el-table__row")
    expect(rows).to_have_count(watched["push_count"])
    expect(page.locator("[data-test=regional-read-only]")).to_be_visible()
    expect(page.locator("[data-test^=resend-]")).to_have_count(0)
    expect(page.locator(f"[data-test=regional-state-{lot}-{seq}]")).to_have_attribute("data-state", "waiting")
    screenshot(page, "regional-supervisor")
    watcher.close()
    assert errors == []
