"""The supervisor's monitor (frontend/web/src/areas/supervisor/MonitorPage.vue) pausing and resuming a live evaluation
in a real browser, over the evaluation room's websocket (daphne in the test process).

The room: tests/evaluation/room.py's `room` (a committee of five, the session at its sign-in). The supervisor asks for
a pause, and the page's reason dialog refuses an empty or blank reason; the page shows the room paused, and still
does after a reload (the server's state, not the page's). Over HTTP, while paused: a member's sign-in is refused
with `room_paused` and changes nothing, and the audit trail holds the pause with its reason. Resumed (no reason
needed), the page shows the room running, and the same sign-in goes through and shows on the monitor.
"""

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings

from tests.evaluation import kit
from tests.evaluation.room import T0, evaluating, room  # noqa: F401 (fixtures)
from tests.frontend.test_expert_room import Actor, concurrent_db  # noqa: F401 (the fixture)
from tests.realtime.kit import session_cookie

REASON = "副场视频信号中断，核查中"


@pytest.fixture
def tree(transactional_db):
    return kit.specialties()


@pytest.fixture
def monitored(concurrent_db, room):  # noqa: F811
    """Plain values only, made before the browser starts."""

    def cookie(user) -> str:
        return session_cookie(user).decode().split("=", 1)[1]

    member = room.members[0]
    return {
        "lot": room.lot.pk,
        "member": member.pk,
        "member_name": member.expert.name,
        "venue": member.venue_id,
        "member_cookie": cookie(member.expert.user),
        "supervisor": cookie(room.parties.supervisor),
        "supervisor_name": room.parties.supervisor.username,
    }


def test_a_supervisor_pauses_and_resumes_the_evaluation_from_the_monitor(monitored, asgi_live_server, page, screenshot):
    from playwright.sync_api import expect

    base = asgi_live_server.url
    lot = monitored["lot"]
    api = f"/api/lots/{lot}/evaluation-session"
    with time_machine.travel(T0 + timedelta(minutes=1), tick=True):
        member = Actor(base, monitored["member_cookie"])
        supervisor = Actor(base, monitored["supervisor"])
        page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": monitored["supervisor"], "url": base}])
        page.goto(f"{base}/supervisor/monitor/{lot}")
        expect(page.locator("[data-test=monitor-phase]")).to_have_text("签到")
        room_state = page.locator("[data-test=room-state]")
        expect(room_state).to_have_text("进行中")  # from the room's snapshot: the socket is open
        screenshot(page, "01-running")

        # Pausing needs a reason: empty and blank are refused in the dialog, nothing is sent.
        page.click("[data-test=pause]")
        dialog = page.locator(".el-message-box.reason-dialog")
        expect(dialog).to_contain_text("暂停理由")
        dialog.locator(".el-button--primary").click()
        expect(dialog.locator(".el-message-box__errormsg")).to_have_text("请填写理由")
        dialog.locator("input").fill("   ")
        dialog.locator(".el-button--primary").click()
        expect(dialog.locator(".el-message-box__errormsg")).to_have_text("请填写理由")
        expect(room_state).to_have_text("进行中")
        screenshot(page, "02-reason-required")
        dialog.locator("input").fill(f"  {REASON}  ")
        dialog.locator(".el-button--primary").click()
        expect(page.locator(".el-message--success")).to_contain_text("指令已送达评标室")
        expect(room_state).to_have_text("评标已暂停")
        expect(page.locator("[data-test=pause-reason]")).to_have_text(REASON)  # trimmed
        expect(page.locator("[data-test=resume]")).to_be_visible()
        expect(page.locator("[data-test=pause]")).to_have_count(0)
        screenshot(page, "03-paused")

        # The server's state: a fresh page learns it from the room.
        page.reload()
        expect(room_state).to_have_text("评标已暂停")
        expect(page.locator("[data-test=resume]")).to_be_visible()

        # While paused, a member is refused and nothing changes; the audit trail holds the pause and its reason.
        refused = member.http.post(f"{base}{api}/sign-in/", json={"venue": monitored["venue"]}, timeout=30)
        assert refused.status_code == 409, refused.text
        assert refused.json()["code"] == "room_paused"
        (row,) = [m for m in supervisor.get(f"{api}/")["members"] if m["member"] == monitored["member"]]
        assert row["signed_in_at"] is None
        events = supervisor.get(f"/api/audit/events/?lot_id={lot}&action=room.paused")["results"]
        assert [(e["actor_username"], e["after"]["paused"], e["after"]["reason"]) for e in events] == [
            (monitored["supervisor_name"], True, REASON)
        ]

        # Resuming needs no reason.
        page.click("[data-test=resume]")
        expect(dialog).to_contain_text("恢复说明")
        dialog.locator(".el-button--primary").click()
        expect(room_state).to_have_text("进行中")
        expect(page.locator("[data-test=pause]")).to_be_visible()
        expect(page.locator("[data-test=pause-reason]")).to_have_count(0)

        # Running again: the same sign-in goes through and shows on the monitor.
        member.post(f"{api}/sign-in/", {"venue": monitored["venue"]})
        page.get_by_role("button", name="刷新").click()
        signed = page.locator("[data-test=monitor-session] .el-table__row", has_text=monitored["member_name"])
        expect(signed).to_contain_text("2026-11-26")  # the sign-in time, in Beijing time
        screenshot(page, "04-resumed")
        resumed = supervisor.get(f"/api/audit/events/?lot_id={lot}&action=room.resumed")["results"]
        assert [(e["after"]["paused"], e["after"]["reason"]) for e in resumed] == [(False, "")]
