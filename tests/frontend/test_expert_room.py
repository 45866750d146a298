"""The expert's pages in a real browser, live over the evaluation room's websocket (daphne in the test process).

One member (the secondary venue's second seat) goes through the whole session in the browser: the invitation, the
sign-in with the seat's venue preselected, the declaration, the chair vote, a qualification review with one failure
and its reason, the scoring table with live totals and the maximum checked, and the report signed with a written
dissent. The other four members and staff act through HTTP from the test thread (`requests` with their session
cookies); a second member and a supervisor sit in the room through their own browser contexts (presence, a
discussion message, a pause). The page follows every phase without a reload.

Data: tests/evaluation/room.py's `room` (a lot being evaluated, a committee of five in two venues, a comprehensive
method with Q1, P1, T1/30, T2/20, C1/20, three opened bids, the session started). Everything the test needs from
the database is read in the `scene` fixture, before the browser starts; the results are checked through the API.

The chair's clarification (条例52) and price adjustment (评标规定30-31): the same room with the lowest evaluated price
method, brought to the price phase in the `priced` fixture; the chair asks in the browser, the bidder answers over
HTTP, the answer appears live in the chair's page and in another member's (read only); the chair's adjustment, one
refused by the API first, shows as the evaluated price in both pages and then in the ranking.
"""

import re
from datetime import datetime, timedelta

import pytest
import requests
import time_machine
from django.conf import settings
from django.db import connection

from evaluation import services as draws
from evaluation.models import Criterion, DrawnExpert, EvaluationMethod, MemberStatus
from tests.evaluation import kit
from tests.evaluation.room import T0, advance, at, evaluating, room, to_scoring  # noqa: F401 (fixtures)
from tests.realtime.kit import session_cookie
from trading.models import Role, User

DISSENT = "本人认为投标人乙的资质证书已过有效期，不同意评标结论。"
FAIL_REASON = "资质证书已过有效期"
# Member 4's scores (the browser) and the others', per (bid letter, criterion): no dispersion alert.
SCORES = {
    ("A", "T1"): ["25", "26", "24", "27", "25"],
    ("A", "T2"): ["15", "16", "15", "17", "16"],
    ("A", "C1"): ["18", "18", "17", "19", "18"],
    ("C", "T1"): ["24", "25", "23", "26", "24"],
    ("C", "T2"): ["16", "16", "16", "16", "17"],
    ("C", "C1"): ["17", "18", "18", "18", "17"],
}
ME = 4  # the browser's member: seat order puts the secondary venue's seats last


@pytest.fixture
def concurrent_db(transactional_db):
    """The live page and the HTTP actors reach the server at the same moment: SQLite's shared in-memory test database
    answers concurrent reads and writes with "database table is locked", so these tests need PostgreSQL (as CI)."""
    if connection.vendor == "sqlite":
        pytest.skip(
            "browser test skipped: needs PostgreSQL (DATABASE_URL, as in CI); SQLite's shared in-memory test "
            "database refuses the concurrent requests of a live page and HTTP actors"
        )


@pytest.fixture
def tree(transactional_db):
    return kit.specialties()


@pytest.fixture
def invitations(transactional_db, parties, tree):
    """A lot at its opening whose committee was just drawn: two of the invited experts, as plain values."""
    lot = kit.opened_lot(parties)
    kit.experts(8, "A0801")
    with time_machine.travel(kit.NOW, tick=False):
        draw = draws.draw_run(request=kit.request(parties, lot), actor=parties.staff, seed=kit.seed("expert-ui"))
    invited = list(
        DrawnExpert.objects.filter(draw=draw, status=MemberStatus.INVITED).select_related("expert__user", "venue").order_by("pk")
    )
    return [
        {
            "id": m.pk,
            "cookie": session_cookie(m.expert.user).decode().split("=", 1)[1],
            "venue": m.venue.name,
            "seat": m.seat,
        }
        for m in invited[:2]
    ]


@pytest.fixture
def scene(concurrent_db, room):  # noqa: F811
    """Plain values only: ids, names and session cookies made before the browser starts."""

    def cookie(user) -> str:
        return session_cookie(user).decode().split("=", 1)[1]

    members = room.members
    return {
        "lot": room.lot.pk,
        "lot_name": room.lot.name,
        "members": [m.pk for m in members],
        "names": [m.expert.name for m in members],
        "venues": [m.venue_id for m in members],
        "venue_names": [m.venue.name for m in members],
        "bids": {letter: str(bid.pk) for letter, bid in room.bids.items()},
        "bidders": {letter: bid.bidder.name for letter, bid in room.bids.items()},
        "crit": {name: c.pk for name, c in room.crit.items()},
        "cookies": [cookie(m.expert.user) for m in members],
        "staff": cookie(room.parties.staff),
        "supervisor": cookie(room.parties.supervisor),
    }


@pytest.fixture
def priced(concurrent_db, room):  # noqa: F811
    """The room with the lowest evaluated price method (no scored criteria), B rejected at compliance, member 0 the
    chair, in the price phase since at(11): plain values, as `scene`."""
    EvaluationMethod.objects.filter(lot=room.lot).update(
        kind="lowest_price", technical_weight=0, commercial_weight=0, price_weight=0, price_formula=""
    )
    Criterion.objects.filter(method__lot=room.lot, stage__in=["technical", "commercial"]).delete()
    to_scoring(room)
    assert advance(room, 11).phase == "price"

    def cookie(user) -> str:
        return session_cookie(user).decode().split("=", 1)[1]

    bidder_a = User.objects.filter(organisation_id=room.bids["A"].bidder_id, role=Role.BIDDER).first()
    return {
        "lot": room.lot.pk,
        "members": [m.pk for m in room.members],
        "bids": {letter: str(bid.pk) for letter, bid in room.bids.items()},
        "bidders": {letter: bid.bidder.name for letter, bid in room.bids.items()},
        "cookies": [cookie(m.expert.user) for m in room.members],
        "bidder_a": cookie(bidder_a),
        "staff": cookie(room.parties.staff),
    }


class Actor:
    """Someone acting through the HTTP API with their session cookie (and the CSRF token the page sets)."""

    def __init__(self, base: str, session_id: str):
        self.base = base
        self.http = requests.Session()
        self.http.cookies.set(settings.SESSION_COOKIE_NAME, session_id, domain="127.0.0.1")
        self.http.get(f"{base}/", timeout=10).raise_for_status()  # ensure_csrf_cookie
        token = self.http.cookies["csrftoken"]
        # The cookies are Secure outside DEBUG; requests keeps them off plain http, so they are set again plainly.
        self.http.cookies.clear()
        self.http.cookies.set(settings.SESSION_COOKIE_NAME, session_id, domain="127.0.0.1")
        self.http.cookies.set(settings.CSRF_COOKIE_NAME, token, domain="127.0.0.1")
        self.http.headers["X-CSRFToken"] = token

    def get(self, path: str):
        response = self.http.get(self.base + path, timeout=15)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
        return response.json()

    def post(self, path: str, body: dict | None = None, status: int = 200):
        response = self.http.post(self.base + path, json=body or {}, timeout=30)
        assert response.status_code == status, (path, response.status_code, response.text[:500])
        return response.json()


def enter_room(context, base: str, lot: int):
    """A second browser context sitting in the room through a bare websocket (the page's origin, its cookie)."""
    page = context.new_page()
    page.goto(base + "/")
    page.evaluate(
        """(url) => new Promise((resolve, reject) => {
            window.__room = new WebSocket(url);
            window.__room.onmessage = (e) => { if (JSON.parse(e.data).kind === "snapshot") resolve(true); };
            window.__room.onclose = (e) => reject(new Error("closed " + e.code));
        })""",
        base.replace("http", "ws") + f"/ws/evaluation/{lot}/",
    )
    return page


def send(page, command: dict):
    page.evaluate("(c) => window.__room.send(JSON.stringify(c))", command)


def browser_context(browser, base: str, session_id: str):
    context = browser.new_context(locale="zh-CN", timezone_id="UTC", viewport={"width": 1360, "height": 900})
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session_id, "url": base}])
    return context


def test_an_expert_confirms_one_invitation_and_another_declines_with_a_reason(
    invitations, page, browser, screenshot, live_server
):
    base = live_server.url
    first, second = invitations
    with time_machine.travel(kit.NOW + timedelta(minutes=5), tick=True):
        page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": first["cookie"], "url": base}])
        page.goto(base + "/")
        page.click("[data-test=nav-expert-invitations]")
        row = page.locator("[data-test=invitations] .el-table__row")
        row.wait_for()
        text = row.inner_text()
        assert first["venue"] in text and f"{first['seat']} 号" in text and "待确认" in text
        assert "2026-11-26 09:00" in text and "评标开始后显示" in text  # Beijing time; no lot before the evaluation
        screenshot(page, "01-invited")
        page.click(f"[data-test=confirm-{first['id']}]")
        page.locator(f"[data-test=invitation-status-{first['id']}]", has_text="已确认").wait_for()
        screenshot(page, "02-confirmed")

        other = browser_context(browser, base, second["cookie"])
        declining = other.new_page()
        declining.goto(base + "/expert/invitations")
        declining.click(f"[data-test=decline-{second['id']}]")
        declining.click("[data-test=decline-submit]")
        declining.locator(".el-dialog", has_text="请填写拒绝理由").wait_for()
        declining.fill("[data-test=decline-reason]", "本人与投标人存在利害关系，申请回避。")
        screenshot(declining, "03-decline")
        declining.click("[data-test=decline-submit]")
        declining.locator(f"[data-test=invitation-status-{second['id']}]", has_text="已拒绝").wait_for()
        screenshot(declining, "04-declined")
        other.close()


def test_an_expert_evaluates_in_the_browser_while_the_room_moves_live(scene, asgi_live_server, page, browser, screenshot):
    base = asgi_live_server.url
    lot = scene["lot"]
    api = f"/api/lots/{lot}/evaluation-session"
    bids, crit, members = scene["bids"], scene["crit"], scene["members"]
    me = members[ME]

    with time_machine.travel(T0 + timedelta(minutes=1), tick=True):
        staff = Actor(base, scene["staff"])
        others = {i: Actor(base, scene["cookies"][i]) for i in range(5) if i != ME}

        def advance(phase: str):
            staff.post(f"{api}/advance/", {"phase": phase})

        def phase_shown(label: str):
            page.locator("[data-test=phase]", has_text=label).wait_for()

        def done_tag(i: int):
            return page.locator(f"[data-test=member-status-{members[i]}][data-done=true]")

        # The invitation: window, venue and seat, and (the lot being evaluated) the lot and the way in.
        page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": scene["cookies"][ME], "url": base}])
        page.goto(base + "/expert/invitations")
        row = page.locator("[data-test=invitations] .el-table__row", has_text=scene["lot_name"])
        row.wait_for()
        assert scene["venue_names"][ME] in row.inner_text() and "已确认" in row.inner_text()
        assert "2026-11-26 09:00" in row.inner_text()  # Beijing time, the browser is in UTC
        screenshot(page, "01-invitations")
        page.click(f"[data-test=enter-{lot}]")
        page.wait_for_url(f"**/expert/rooms/{lot}")
        page.locator("[data-test=connection]", has_text="实时连接").wait_for()
        phase_shown("签到")

        # Another member's browser joins: presence per venue changes live; a message from the main venue.
        second = browser_context(browser, base, scene["cookies"][0])
        peer = enter_room(second, base, lot)
        page.locator(f"[data-test=presence-{members[0]}][data-online=true]").wait_for()
        page.locator(f"[data-test=presence-{me}][data-online=true]").wait_for()
        send(peer, {"type": "message", "text": "各位专家好，请先查阅投标文件。"})
        line = page.locator("[data-test=chat-line]", has_text="请先查阅投标文件")
        line.wait_for()
        assert scene["names"][0] in line.inner_text() and scene["venue_names"][0] in line.inner_text()
        page.fill("[data-test=chat-input]", "收到，副场已就位。")
        page.press("[data-test=chat-input]", "Enter")
        page.locator("[data-test=chat-line]", has_text="副场已就位").wait_for()
        # The bid files are listed and read through the API.
        files = page.locator("[data-test=files]")
        for letter in "ABC":
            assert scene["bidders"][letter] in files.inner_text()
        href = page.get_attribute(f"[data-test=file-{bids['A']}]", "href")
        assert href == f"/api/lots/{lot}/opened-bids/{bids['A']}/file/"
        download = page.request.get(base + href)
        assert download.status == 200 and download.headers["x-content-sha256"]

        # Sign-in: the seat's venue preselected; the others sign in over HTTP and show up live.
        assert page.locator("[data-test=sign-in-venue]").inner_text().strip() == scene["venue_names"][ME]
        for i, actor in others.items():
            actor.post(f"{api}/sign-in/", {"venue": scene["venues"][i]})
        done_tag(0).wait_for()
        done_tag(3).wait_for()
        page.click("[data-test=sign-in]")
        page.locator("[data-test=signed-in]").wait_for()
        screenshot(page, "02-sign-in")
        advance("sign_in")

        # The declaration.
        phase_shown("回避声明")
        page.click("[data-test=no-conflict]")
        page.click("[data-test=declaration-submit]")
        page.locator("[data-test=declared]").wait_for()
        for actor in others.values():
            actor.post(f"{api}/declaration/", {"conflict": False})
        screenshot(page, "03-declaration")
        advance("declaration")

        # The chair: the others vote over HTTP, the browser votes for the same member; the chair appears live.
        phase_shown("推选组长")
        for actor in others.values():
            actor.post(f"{api}/chair-vote/", {"candidate": members[0]})
        page.click(f"[data-test=candidate-{members[0]}]")
        screenshot(page, "04-chair-vote")
        page.click("[data-test=chair-submit]")
        page.locator("[data-test=chair]", has_text=scene["names"][0]).wait_for()
        advance("chair_election")

        # Qualification: the browser fails bid B, a reason required; the majority passes it, the dissent is kept.
        phase_shown("资格评审")
        q1 = crit["Q1"]
        for letter in "AC":
            page.locator(f"[data-test=verdict-{bids[letter]}-{q1}] [data-test=pass]").click()
        page.locator(f"[data-test=verdict-{bids['B']}-{q1}] [data-test=fail]").click()
        page.click("[data-test=review-submit]")
        page.locator(f"[data-test=problem-{bids['B']}-{q1}]", has_text="请填写不合格理由").wait_for()
        page.fill(f"[data-test=reason-{bids['B']}-{q1}]", FAIL_REASON)
        screenshot(page, "05-qualification")
        page.click("[data-test=review-submit]")
        page.locator(".el-message-box__btns .el-button--primary").click()
        page.locator("[data-test=task]", has_text="等待其他成员").wait_for()
        for actor in others.values():
            verdicts = [{"bid": bids[x], "criterion": q1, "passed": True, "reason": ""} for x in "ABC"]
            actor.post(f"{api}/reviews/", {"phase": "qualification", "verdicts": verdicts})
        results = page.locator("[data-test=results]")
        results.locator(".el-table__row", has_text=scene["bidders"]["B"]).filter(has_text="4 票通过").wait_for()
        assert FAIL_REASON in results.inner_text()
        screenshot(page, "06-qualification-decided")
        advance("qualification")

        # Compliance: three members fail B over HTTP, B is out of the scoring.
        phase_shown("符合性评审")
        p1 = crit["P1"]
        for letter in "ABC":
            page.locator(f"[data-test=verdict-{bids[letter]}-{p1}] [data-test=pass]").click()
        page.click("[data-test=review-submit]")
        page.locator(".el-message-box__btns .el-button--primary").click()
        page.locator("[data-test=task]", has_text="等待其他成员").wait_for()
        for i, actor in others.items():
            fail = i in (0, 1, 2)
            verdicts = [
                {
                    "bid": bids[x],
                    "criterion": p1,
                    "passed": not (fail and x == "B"),
                    "reason": "工期不响应" if fail and x == "B" else "",
                }
                for x in "ABC"
            ]
            actor.post(f"{api}/reviews/", {"phase": "compliance", "verdicts": verdicts})
        results.locator(".el-table__row", has_text="3 票不通过").wait_for()
        advance("compliance")

        # Scoring: live totals, the maximum checked; the others' submissions appear live, never their scores.
        phase_shown("详细评审")
        scoring = page.locator("[data-test=scoring]")
        assert scene["bidders"]["B"] not in scoring.inner_text()
        cell = f"[data-test=score-{bids['A']}-{crit['T1']}]"
        page.fill(cell, "31")
        page.locator(f"[data-test=score-problem-{bids['A']}-{crit['T1']}]", has_text="超过满分").wait_for()
        page.fill(cell, "25.5")
        assert page.inner_text(f"[data-test=total-{bids['A']}]") == "25.50"
        for (letter, name), values in SCORES.items():
            page.fill(f"[data-test=score-{bids[letter]}-{crit[name]}]", values[ME])
        assert page.inner_text(f"[data-test=total-{bids['A']}]") == "59.00"  # 25 + 16 + 18
        assert page.inner_text(f"[data-test=total-{bids['C']}]") == "58.00"  # 24 + 17 + 17

        def table(i):
            return [{"bid": bids[x], "criterion": crit[name], "score": v[i]} for (x, name), v in SCORES.items()]

        others[0].post(f"{api}/scores/", {"scores": table(0)})
        others[1].post(f"{api}/scores/", {"scores": table(1)})
        done_tag(0).wait_for()
        done_tag(1).wait_for()
        page.locator("[data-test=submitted-count]", has_text="完成 2/5").wait_for()
        screenshot(page, "07-scoring")
        page.click("[data-test=scores-submit]")
        page.locator(".el-message-box__btns .el-button--primary").click()
        page.locator(f"[data-test=mine-{bids['A']}-{crit['T1']}]").wait_for()
        others[2].post(f"{api}/scores/", {"scores": table(2)})
        others[3].post(f"{api}/scores/", {"scores": table(3)})
        page.locator("[data-test=submitted-count]", has_text="完成 5/5").wait_for()
        advance("scoring")
        phase_shown("价格评分")
        page.locator("[data-test=price]").wait_for()
        advance("price")
        phase_shown("汇总排序")
        ranking = page.locator("[data-test=ranking]")
        ranking.wait_for()
        screenshot(page, "08-ranking")
        rows = ranking.locator(".el-table__body .el-table__row")
        assert rows.count() == 2

        # More time: the browser proposes (its own yes), a second yes over HTTP carries it (2 of 5 > 1/3), the window
        # end moves on the page.
        page.fill("[data-test=extension-reason]", "投标文件技术部分篇幅较大，需更多时间复核。")
        page.click("[data-test=extension-propose]")
        page.locator("[data-test=extensions]", has_text="提议延长 30 分钟").wait_for()
        proposal = staff.get(f"{api}/")["extensions"][0]["id"]
        others[0].post(f"{api}/extensions/{proposal}/vote/", {"yes": True})
        page.locator("[data-test=extensions]", has_text="已延长").wait_for()
        page.locator("[data-test=window]", has_text="17:30").wait_for()

        # A supervisor pauses: the banner shows the reason; resumed, it goes.
        watcher = browser_context(browser, base, scene["supervisor"])
        supervisor = enter_room(watcher, base, lot)
        send(supervisor, {"type": "pause", "reason": "副场视频信号中断，核查中"})
        page.locator("[data-test=paused]", has_text="副场视频信号中断").wait_for()
        screenshot(page, "09-paused")
        send(supervisor, {"type": "resume"})
        page.locator("[data-test=paused]").wait_for(state="detached")
        advance("summary")

        # The report: the hash shown, the PDF opened, the others sign over HTTP, the browser signs with a dissent.
        phase_shown("评标报告")
        digest = page.locator("[data-test=report-sha256]")
        digest.wait_for()
        sha256 = digest.inner_text().strip()
        assert re.fullmatch(r"[0-9a-f]{64}", sha256)
        pdf = page.request.get(base + page.get_attribute("[data-test=report-pdf]", "href"))
        assert pdf.status == 200 and pdf.body().startswith(b"%PDF") and pdf.headers["x-content-sha256"] == sha256
        for actor in others.values():
            actor.post(f"{api}/report/sign/", {"sha256": sha256, "agree": True, "dissent": ""})
        page.locator("[data-test=signatures] .el-table__row").nth(3).wait_for()
        page.click("[data-test=disagree]")
        page.click("[data-test=report-sign]")
        page.locator("[data-test=report]", has_text="不同意时须书面说明理由").wait_for()
        page.fill("[data-test=dissent]", DISSENT)
        screenshot(page, "10-report")
        page.click("[data-test=report-sign]")
        page.locator(".el-message-box__btns .el-button--primary").click()
        page.locator("[data-test=done]").wait_for()
        page.locator("[data-test=signatures]", has_text=DISSENT).wait_for()
        phase_shown("评标结束")
        screenshot(page, "11-done")

        # Checked through the API: the browser's verdict with its reason, its scores, its dissent, the final report.
        state = staff.get(f"{api}/")
        assert state["phase"] == "done"
        (failed,) = [m for m in state["marks"] if m["member"] == me and m["stage"] == "qualification" and not m["passed"]]
        assert (failed["bid"], failed["reason"]) == (bids["B"], FAIL_REASON)
        mine = {(m["bid"], m["criterion"]): m["score"] for m in state["marks"] if m["member"] == me and m["score"] is not None}
        assert mine[(bids["A"], crit["T1"])] == "25.00" and mine[(bids["C"], crit["C1"])] == "17.00"
        report = staff.get(f"{api}/report/")
        assert report["finalized_at"] and len(report["signatures"]) == 5
        (signed,) = [s for s in report["signatures"] if s["member"] == me]
        assert (signed["agree"], signed["dissent"], signed["sha256"]) == (False, DISSENT, sha256)
        second.close()
        watcher.close()


QUESTION = "请说明投标报价中暂列金额的计算依据。"
ANSWER = "暂列金额按招标文件第五章工程量清单计列，见投标文件第23页。"


def test_the_chair_asks_a_clarification_the_answer_comes_live_and_an_adjustment_shows(
    priced, asgi_live_server, page, browser, screenshot
):
    from tests.frontend.flows import choose  # here: flows.py imports this module's Actor

    base = asgi_live_server.url
    lot, bids, bidders = priced["lot"], priced["bids"], priced["bidders"]
    api = f"/api/lots/{lot}/evaluation-session"

    with time_machine.travel(at(12), tick=True):
        staff = Actor(base, priced["staff"])
        bidder = Actor(base, priced["bidder_a"])

        # The chair (member 0) in the browser; member 1 in a second browser, reading only.
        page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": priced["cookies"][0], "url": base}])
        page.goto(f"{base}/expert/rooms/{lot}")
        page.locator("[data-test=connection]", has_text="实时连接").wait_for()
        page.locator("[data-test=phase]", has_text="价格评分").wait_for()
        member = browser_context(browser, base, priced["cookies"][1])
        member.set_default_timeout(15000)
        peer = member.new_page()
        peer.goto(f"{base}/expert/rooms/{lot}")
        peer.locator("[data-test=connection]", has_text="实时连接").wait_for()
        peer.locator("[data-test=adjustment-readonly]").wait_for()
        peer.locator("[data-test=clarifications-empty]").wait_for()
        assert peer.locator("[data-test=clarification-form]").count() == 0
        assert peer.locator("[data-test=adjustment-form]").count() == 0

        # The chair asks bidder A, with 20 minutes to answer; the session waits for the answer.
        page.click("[data-test=clarification-ask]")
        page.locator("[data-test=clarification-form]", has_text="请选择投标人").wait_for()
        choose(page, "[data-test=clarification-bid]", bidders["A"])
        page.fill("[data-test=clarification-question]", QUESTION)
        page.fill("[data-test=clarification-minutes] input", "20")
        page.press("[data-test=clarification-minutes] input", "Tab")
        page.click("[data-test=clarification-ask]")
        page.locator("[data-test=clarifications] [data-status=open]", has_text=QUESTION).wait_for()
        (asked,) = bidder.get("/api/clarifications/")["results"]
        assert (asked["bid"], asked["question"], asked["answer"]) == (bids["A"], QUESTION, "")
        minutes = (datetime.fromisoformat(asked["due_at"]) - datetime.fromisoformat(asked["asked_at"])) / timedelta(minutes=1)
        assert minutes == 20
        for p in (page, peer):
            item = p.locator(f"[data-test=clarification-{asked['id']}][data-status=open]", has_text=QUESTION)
            item.wait_for()
            assert bidders["A"] in item.inner_text() and "待答复" in item.inner_text()
            p.locator("[data-test=clarifications-waiting]").wait_for()
        screenshot(page, "01-asked")
        refused = staff.post(f"{api}/advance/", {"phase": "price"}, status=409)
        assert refused["code"] == "clarification_pending"

        # The bidder answers over HTTP: both pages show it without a reload.
        bidder.post(f"/api/clarifications/{asked['id']}/answer/", {"answer": ANSWER})
        for p in (page, peer):
            p.locator(f"[data-test=clarification-answer-{asked['id']}]", has_text=ANSWER).wait_for()
            p.locator(f"[data-test=clarification-{asked['id']}][data-status=answered]", has_text="已答复").wait_for()
            p.locator("[data-test=clarifications-waiting]").wait_for(state="detached")
        screenshot(peer, "02-answered-member")

        # A price adjustment the API refuses (C's evaluated price would fall to zero): its message, nothing recorded.
        choose(page, "[data-test=adjustment-bid]", bidders["C"])
        page.fill("[data-test=adjustment-factor]", "工期")
        page.fill("[data-test=adjustment-amount]", "-950000")
        page.fill("[data-test=adjustment-reason]", "工期每提前一日按招标文件减价")
        page.click("[data-test=adjustment-submit]")
        page.locator(".el-message--error", has_text="调整后的评标价须大于零").wait_for()
        assert "adjustments" not in staff.get(f"{api}/")["price_result"]

        # The chair's adjustment: +60,000.00 for the duration; C's evaluated price goes up in both pages.
        page.fill("[data-test=adjustment-amount]", "60000")
        page.locator("[data-test=adjustment-preview]", has_text="950000.00 → 1010000.00").wait_for()
        page.fill("[data-test=adjustment-reason]", "工期每超出一日按招标文件加价")
        page.click("[data-test=adjustment-submit]")
        for p in (page, peer):
            p.locator(f"[data-test=evaluated-{bids['C']}]", has_text="1010000.00").wait_for()
            assert p.inner_text(f"[data-test=evaluated-{bids['A']}]") == "1000000.00"
            assert "工期每超出一日按招标文件加价" in p.inner_text("[data-test=price]")
        screenshot(page, "03-adjusted")

        # The answer in, the session moves on: A ranks first on the evaluated prices (C's bid price is lower).
        staff.post(f"{api}/advance/", {"phase": "price"})
        for p in (page, peer):
            rows = p.locator("[data-test=ranking] .el-table__body .el-table__row")
            rows.nth(1).wait_for()
            assert bidders["A"] in rows.nth(0).inner_text() and "1000000.00" in rows.nth(0).inner_text()
            assert bidders["C"] in rows.nth(1).inner_text() and "1010000.00" in rows.nth(1).inner_text()
        screenshot(page, "04-ranking")

        state = staff.get(f"{api}/")
        (adjustment,) = state["price_result"]["adjustments"][bids["C"]]
        assert (adjustment["factor"], adjustment["amount"], adjustment["reason"]) == (
            "工期",
            "60000.00",
            "工期每超出一日按招标文件加价",
        )
        assert [(r["bid"], r["rank"], r["evaluated_price"]) for r in state["ranking"]] == [
            (bids["A"], 1, "1000000.00"),
            (bids["C"], 2, "1010000.00"),
        ]
        (answered,) = staff.get(f"/api/clarifications/?lot={lot}")["results"]
        assert (answered["answer"], answered["asked_by"]) == (ANSWER, priced["members"][0])
        member.close()
