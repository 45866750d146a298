"""Browser steps shared by the page tests, for flows that cross areas (tests/frontend/test_whole_tender.py).

Each step drives one page the way its own test does (test_bidder.py, test_opening_hall.py, test_expert_room.py,
test_staff_supervisor.py) and makes no ORM call: the data comes in as plain values, the others act over HTTP."""

import json
from pathlib import Path

from django.conf import settings

from tests.frontend.test_expert_room import Actor


def new_context(browser, base: str, session_id: str | None = None):
    """A browser context in UTC (the app must show Beijing time), logged in with a session id if given."""
    context = browser.new_context(locale="zh-CN", timezone_id="UTC", viewport={"width": 1360, "height": 900})
    context.set_default_timeout(20000)
    if session_id:
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session_id, "url": base}])
    return context


def staff_publish(page, base: str, lot: int) -> None:
    """Staff publish a filed lot from its page (test_staff_supervisor.py)."""
    page.goto(f"{base}/staff/lots/{lot}")
    page.locator("[data-test=lifecycle]").wait_for()
    page.locator("[data-test=lot-status]", has_text="已备案").wait_for()
    page.click("[data-test=action-publish]")
    page.fill("textarea[data-test=publish-body]", "欢迎具备资格的投标人参加投标。")
    page.click("[data-test=publish-confirm]")
    page.locator("[data-test=lot-status]", has_text="已发布公告").wait_for()


def bidder_keys(page, base: str, password: str, save_to: Path) -> dict:
    """投标密钥: a key pair generated in the page, the encrypted key file downloaded (saved to `save_to`)."""
    page.goto(base + "/bidder/keys")
    page.fill("input[data-test=key-password]", password)
    page.fill("input[data-test=key-password2]", password)
    with page.expect_download() as download_info:
        page.click("[data-test=key-generate]")
    download_info.value.save_as(save_to)
    key_file = json.loads(save_to.read_text(encoding="utf-8"))
    page.locator("[data-test=key-done]").wait_for()
    page.locator("[data-test=keys] .el-table__row", has_text=key_file["kid"]).wait_for()
    return key_file


def bidder_enrol(page, lot: int) -> None:
    """报名 from the lots page."""
    page.click("[data-test=nav-bidder-lots]")
    page.wait_for_url("**/bidder/lots")
    page.locator(f"[data-test=enrol-state-{lot}]", has_text="未报名").wait_for()
    page.click(f"[data-test=enrol-{lot}]")
    page.fill("input[data-test=contact-name]", "张三")
    page.fill("input[data-test=contact-phone]", "13800000000")
    page.click("[data-test=enrol-submit]")
    page.locator(f"[data-test=enrol-state-{lot}]", has_text="已报名").wait_for()


def bidder_upload(page, lot: int, kid: str, bid_file: Path, *, cut: bool = False, on_cut=None) -> dict:
    """Sealed in the browser and uploaded in parts; with `cut`, part 2's PUT breaks once and the upload is resumed
    after a reload (test_bidder.py). Returns the downloaded receipt."""
    broken: list[str] = []
    if cut:

        def break_part_two(route):
            if not broken:
                broken.append(route.request.url)
                route.abort("connectionreset")
            else:
                route.continue_()

        page.route(lambda url: "partNumber=2&" in url or url.endswith("partNumber=2"), break_part_two)
    page.click(f"[data-test=bid-{lot}]")
    page.wait_for_url(f"**/bidder/lots/{lot}/bid")
    page.locator("[data-test=key-select]", has_text=kid).wait_for()
    page.set_input_files("[data-test=bid-file]", str(bid_file))
    page.click("[data-test=start]")
    if cut:
        error = page.locator("[data-test=upload-error]")
        error.wait_for(timeout=60000)
        assert "上传中断" in error.inner_text() and broken
        if on_cut:
            on_cut()
        page.reload()
        page.locator("[data-test=pending]", has_text=bid_file.name).wait_for()
        page.set_input_files("[data-test=resume-file]", str(bid_file))
        page.click("[data-test=resume]")
    page.locator("[data-test=receipt], [data-test=upload-error]").first.wait_for(timeout=60000)
    assert not page.locator("[data-test=upload-error]").is_visible(), page.locator("[data-test=upload-error]").inner_text()
    page.locator("[data-test=receipt-valid]", has_text="签名有效").wait_for()
    with page.expect_download() as download_info:
        page.click("[data-test=receipt-download]")
    return json.loads(Path(download_info.value.path()).read_text(encoding="utf-8"))


def hall_decrypt(page, base: str, lot: int, key_file: Path, password: str) -> None:
    """The opening hall: sign in, open the key file in the page, hand in the data key (test_opening_hall.py)."""
    page.goto(f"{base}/opening/{lot}/")
    page.locator("[data-test=live-status][data-status=open]").wait_for()
    page.locator("[data-test=phase][data-phase=decrypting]").wait_for()
    page.locator("[data-test=sign-in]").click()
    page.locator("[data-test=signed-in]").wait_for()
    page.locator("[data-test=key-file]").set_input_files(str(key_file))
    page.locator("[data-test=key-password]").fill(password)
    page.locator("[data-test=decrypt]").click()
    page.locator("[data-test=my-outcome][data-status=decrypted]").wait_for(timeout=30000)


def expert_confirms(page, base: str, member: int) -> None:
    """The invitation confirmed on the expert's invitations page."""
    page.goto(base + "/expert/invitations")
    page.click(f"[data-test=confirm-{member}]")
    page.locator(f"[data-test=invitation-status-{member}]", has_text="已确认").wait_for()


def staff_lot_action(page, base: str, lot: int, action: str, status: str) -> None:
    """A plain lifecycle action on the staff lot page (confirmed in its dialog); waits for the lot's new status."""
    page.goto(f"{base}/staff/lots/{lot}")
    page.locator("[data-test=lifecycle]").wait_for()
    page.click(f"[data-test=action-{action}]")
    page.locator(".el-message-box__btns .el-button--primary").click()
    page.locator("[data-test=lot-status]", has_text=status).wait_for()


def staff_end_opening(page, base: str, lot: int) -> None:
    """开标控制 on the staff lot page: end the decryption, then publish the record."""
    page.goto(f"{base}/staff/lots/{lot}")
    control = page.locator("[data-test=opening-control]")
    control.wait_for()
    page.click("[data-test=opening-close]")
    page.locator(".el-message--success").first.wait_for()
    page.click("[data-test=opening-publish]")
    page.locator(".el-message--success").nth(1).wait_for()


def choose(page, select: str, option: str) -> None:
    """Open an Element Plus select and click the visible option containing `option`."""
    from playwright.sync_api import expect  # imported here: without playwright the browser fixture skips the test

    page.click(select)
    page.locator(".el-select-dropdown__item:visible", has_text=option).first.click()
    expect(page.locator(".el-select-dropdown__item:visible")).to_have_count(0)  # closed: the next select's list is the one


def staff_draw(page, base: str, lot_label: str, specialty: str, seats: dict[str, int]) -> None:
    """专家抽取 (test_staff_supervisor.py): a request for the lot (`lot_label` picks its option), the seats per venue
    name, the draw run; waits until every drawn expert is notified."""
    page.goto(f"{base}/staff/draws")
    page.locator("[data-test=draw-form]").wait_for()
    choose(page, "[data-test=draw-lot]", lot_label)
    choose(page, "[data-test=draw-specialty-0]", specialty)
    for i, (venue, count) in enumerate(seats.items()):
        if i:
            page.click("[data-test=draw-add-venue]")
        choose(page, f"[data-test=draw-venue-{i}]", venue)
        page.fill(f"[data-test=draw-seats-{i}] input", str(count))
        page.locator(f"[data-test=draw-seats-{i}] input").press("Tab")
    page.click("[data-test=draw-submit]")
    requests_table = page.locator("[data-test=draw-requests]")
    requests_table.locator(".el-table__row", has_text="待抽取").wait_for()
    page.locator("[data-test^=draw-run-]").first.click()
    requests_table.locator(".el-table__row", has_text="已抽取，待确认").wait_for()
    members = page.locator("[data-test=draw-members]")
    members.locator(".el-table__row").first.wait_for()
    assert members.get_by_text("已通知，待确认").count() == sum(seats.values())


def staff_session(page, base: str, lot: int):
    """评标控制 on the staff lot page: starts the session and returns `advance(phase)`, which moves the session on
    from `phase` by a click (the page's phase must show `phase` first: the click names the phase it ends)."""
    from playwright.sync_api import expect

    labels = {
        "sign_in": "签到",
        "declaration": "回避声明",
        "chair_election": "推选主任",
        "qualification": "资格评审",
        "compliance": "符合性评审",
        "scoring": "详细评审",
        "price": "价格分计算",
        "summary": "汇总与排序",
        "report": "报告签署",
    }
    page.goto(f"{base}/staff/lots/{lot}")
    control = page.locator("[data-test=session-control]")
    control.wait_for()
    page.click("[data-test=session-start]")
    phase = control.locator("[data-test=session-phase]")

    def advance(current: str) -> None:
        phase.filter(has_text=labels[current]).wait_for()
        page.click("[data-test=session-advance]")
        expect(phase).not_to_have_text(labels[current])

    return advance


def staff_issue_letters(page, base: str, lot: int, winner: str) -> dict[str, str]:
    """定标: the first candidate (the default) named winner on the staff lot page and the letters issued; returns
    {kind: code} as listed."""
    page.goto(f"{base}/staff/lots/{lot}")
    control = page.locator("[data-test=award-control]")
    control.locator("[data-test=candidates] .el-table__row").first.wait_for()
    assert winner in control.locator("[data-test=candidates] .el-table__row").first.inner_text()
    page.click("[data-test=award-issue]")
    page.locator(".el-message-box__btns .el-button--primary").click()
    control.locator("[data-test=letters] .el-table__row").first.wait_for()
    return {kind: control.locator(f"[data-test=letter-code-{kind}]").first.inner_text().strip() for kind in ("award", "result")}


def committee_room(pages: dict, base: str, scene: dict, shot, advance) -> str:
    """The evaluation room with the members of `pages` ({index: page}) in their browsers and the others acting over
    HTTP (test_expert_room.py's Actor); `advance(phase)` moves the session on (staff). Every bid passes both reviews;
    scores per bid come from scene["scores"] ({bid: {criterion name: score}}); every member elects members[0].
    Returns the signed report's SHA-256."""
    lot, members, bids, crit = scene["lot"], scene["members"], scene["bids"], scene["crit"]
    api = f"/api/lots/{lot}/evaluation-session"
    others = {i: Actor(base, scene["cookies"][i]) for i in range(len(members)) if i not in pages}
    first = next(iter(pages.values()))

    def phase_shown(label: str):
        for page in pages.values():
            page.locator("[data-test=phase]", has_text=label).wait_for()

    def submitted(page, button: str):
        page.click(f"[data-test={button}]")
        page.locator(".el-message-box__btns .el-button--primary").click()
        page.locator("[data-test=task]", has_text="等待其他成员").wait_for()

    for page in pages.values():
        page.goto(base + "/expert/invitations")
        page.click(f"[data-test=enter-{lot}]")
        page.wait_for_url(f"**/expert/rooms/{lot}")
        page.locator("[data-test=connection]", has_text="实时连接").wait_for()
    phase_shown("签到")
    for i, actor in others.items():
        actor.post(f"{api}/sign-in/", {"venue": scene["venues"][i]})
    for page in pages.values():
        page.click("[data-test=sign-in]")
        page.locator("[data-test=signed-in]").wait_for()
    shot(first, "expert-sign-in")
    advance("sign_in")

    phase_shown("回避声明")
    for page in pages.values():
        page.click("[data-test=no-conflict]")
        page.click("[data-test=declaration-submit]")
        page.locator("[data-test=declared]").wait_for()
    for actor in others.values():
        actor.post(f"{api}/declaration/", {"conflict": False})
    advance("declaration")

    phase_shown("推选组长")
    for actor in others.values():
        actor.post(f"{api}/chair-vote/", {"candidate": members[0]})
    for page in pages.values():
        page.click(f"[data-test=candidate-{members[0]}]")
        page.click("[data-test=chair-submit]")
    for page in pages.values():
        page.locator("[data-test=chair]", has_text=scene["names"][0]).wait_for()
    advance("chair_election")

    for stage, label, name in (("qualification", "资格评审", "Q"), ("compliance", "符合性评审", "P")):
        phase_shown(label)
        for page in pages.values():
            for bid in bids:
                page.locator(f"[data-test=verdict-{bid}-{crit[name]}] [data-test=pass]").click()
            submitted(page, "review-submit")
        for actor in others.values():
            verdicts = [{"bid": bid, "criterion": crit[name], "passed": True, "reason": ""} for bid in bids]
            actor.post(f"{api}/reviews/", {"phase": stage, "verdicts": verdicts})
        for page in pages.values():
            page.locator("[data-test=results] .el-table__row", has_text=f"{len(members)} 票通过").first.wait_for()
        if stage == "qualification":
            shot(first, "expert-qualification")
        advance(stage)

    phase_shown("详细评审")
    table = [{"bid": bid, "criterion": crit[n], "score": s} for bid, row in scene["scores"].items() for n, s in row.items()]
    for page in pages.values():
        for cell in table:
            page.fill(f"[data-test=score-{cell['bid']}-{cell['criterion']}]", cell["score"])
        if page is first:
            shot(page, "expert-scoring")
        submitted(page, "scores-submit")
        page.locator(f"[data-test=mine-{table[0]['bid']}-{table[0]['criterion']}]").wait_for()
    for actor in others.values():
        actor.post(f"{api}/scores/", {"scores": table})
    for page in pages.values():
        page.locator("[data-test=submitted-count]", has_text=f"完成 {len(members)}/{len(members)}").wait_for()
    advance("scoring")
    phase_shown("价格评分")
    first.locator("[data-test=price]").wait_for()
    advance("price")
    phase_shown("汇总排序")
    first.locator("[data-test=ranking]").wait_for()
    shot(first, "expert-ranking")
    advance("summary")

    phase_shown("评标报告")
    digests = set()
    for page in pages.values():
        digest = page.locator("[data-test=report-sha256]")
        digest.wait_for()
        digests.add(digest.inner_text().strip())
    (sha256,) = digests  # every member signs the same draft
    for actor in others.values():
        actor.post(f"{api}/report/sign/", {"sha256": sha256, "agree": True, "dissent": ""})
    for page in pages.values():
        page.click("[data-test=report-sign]")
        page.locator(".el-message-box__btns .el-button--primary").click()
        page.locator("[data-test=report-sign]").wait_for(state="detached")
    phase_shown("评标结束")
    for page in pages.values():
        page.locator("[data-test=done]").wait_for()
    shot(first, "expert-report-signed")
    return sha256
