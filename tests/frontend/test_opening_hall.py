"""The opening hall in the browser (frontend/web/src/areas/opening/), live over /ws/opening/<lot>/ on daphne.

A lot with three sealed bids at its opening (tests/bidding/opening_kit.py). Bidder 1 opens the hall, signs in and
decrypts in the browser with its password-protected key file (docs/formats.md, "Private key file", as
src/areas/bidder/keyfile.ts writes it; written here by `write_key_file`): the private key is opened and used in the page, and only the data key goes to the server.
Bidder 2 signs in and decrypts from the test thread over HTTP; bidder 3 signs in and hands in no key. The page shows
the counts and its own outcome as they change, without a reload. Staff end decryption and publish the record over
HTTP; the record appears live; bidder 1 confirms it. A dropped socket reconnects with ?since=<last seq>. Another
test: a bidder objects to the published record through the reason dialog, staff see and answer it over HTTP, and the
answer reaches the bidder's hall without a reload (over /ws/notifications/: the room's answer event is staff-side).

The server runs at the opening's time (time_machine, ticking, started before daphne): the countdown is on the
server's clock, which the page learns from the room, not on the browser's. No ORM call while the browser runs."""

import base64
import hashlib
import json
import os
import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
import requests
import time_machine
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bidding import envelope
from tests.bidding.opening_kit import open_lot
from tests.realtime.kit import session_cookie

PASSWORD = "开标口令-2026"
KEY_FILE_FORMAT = "trading-bidder-key"


def write_key_file(kit, path, password: str, *, iterations: int = 100_000) -> None:
    """The bidder's private key file as the web UI writes it (src/areas/bidder/keyfile.ts, encryptKeyFile):
    PBKDF2-SHA256(password, salt) -> AES-256-GCM over the PKCS#8 DER, AAD = "trading-bidder-key/<kid>"."""
    pkcs8 = kit.private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    kid = envelope.key_id(kit.public_key)
    salt, iv = os.urandom(16), os.urandom(12)
    key = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations, 32)
    sealed = AESGCM(key).encrypt(iv, pkcs8, f"{KEY_FILE_FORMAT}/{kid}".encode())
    b64 = lambda data: base64.b64encode(data).decode()  # noqa: E731
    path.write_text(
        json.dumps(
            {
                "format": KEY_FILE_FORMAT,
                "version": 1,
                "kid": kid,
                "public_key_spki": b64(kit.public_key),
                "created_at": "2026-11-02T01:00:00.000Z",
                "kdf": {"name": "PBKDF2-SHA256", "iterations": iterations, "salt": b64(salt)},
                "cipher": {"name": "AES-256-GCM", "iv": b64(iv)},
                "private_key_pkcs8": b64(sealed),
            }
        )
    )


@dataclass
class Hall:
    lot: int
    key_file: object
    cookies: dict  # username -> "sessionid=..."
    bids: dict  # username -> bid id
    data_key2: str  # bidder 2's data key, base64 (unwrapped here, for its HTTP decryption)
    name1: str  # bidder 1's organisation
    decryption_deadline: object
    clock: object  # time_machine coordinates: move_to() shifts the server's time


@pytest.fixture
def hall(parties, tmp_path):
    opened = open_lot(parties, tmp_path, count=3)
    one, two, three = opened.kits
    key_file = tmp_path / "bidder1-key.json"
    write_key_file(one, key_file, PASSWORD)
    data_key2 = base64.b64encode(opened.data_key(two)).decode()
    deadline = opened.opening.decryption_deadline
    traveller = time_machine.travel(opened.open_at, tick=True)
    clock = traveller.start()
    try:
        users = (one.user, two.user, three.user, parties.bidders[3], parties.staff, parties.supervisor, parties.tenderee)
        cookies = {u.username: session_cookie(u).decode() for u in users}
        yield Hall(
            lot=opened.lot.pk,
            key_file=key_file,
            cookies=cookies,
            bids={kit.user.username: opened.receipts[kit.user.username]["bid"] for kit in opened.kits},
            data_key2=data_key2,
            name1=one.user.organisation.name,
            decryption_deadline=deadline,
            clock=clock,
        )
    finally:
        traveller.stop()


def http(server, cookie: str) -> requests.Session:
    """A session on the live server as the cookie's user, with the CSRF token the app's page hands out."""
    session = requests.Session()
    name, value = cookie.split("=", 1)
    session.cookies.set(name, value)
    session.get(server.url + "/", timeout=10)
    token = session.cookies.get("csrftoken", "")
    assert token, "the app's page sets the CSRF cookie"
    session.cookies.set("csrftoken", token)  # the server's cookie is Secure (not DEBUG): send it over http all the same
    session.headers.update({"X-CSRFToken": token, "Origin": server.url})
    return session


def post(session: requests.Session, server, path: str, body=None, expect=(200, 201)) -> dict:
    response = session.post(server.url + path, json=body, timeout=30)
    assert response.status_code in expect, (path, response.status_code, response.text)
    return response.json() if response.content else {}


def login(page, server, cookie: str) -> None:
    name, value = cookie.split("=", 1)
    page.context.add_cookies([{"name": name, "value": value, "url": server.url}])


def count(page, name: str):
    return page.locator(f"[data-test=count-{name}]")


def test_a_bidder_decrypts_in_the_browser_and_follows_the_opening_live(hall, asgi_live_server, page, screenshot):
    from playwright.sync_api import expect

    server = asgi_live_server
    # The room's socket goes through a route that forwards to daphne, or, while `hold` is set, refuses at once (a
    # dropped connection, code 1012): the page must come back with ?since=<last seq> and get what it missed.
    sockets: list[str] = []
    hold: list[bool] = [False]
    live: list = []

    def route(ws):
        sockets.append(ws.url)
        if hold[0]:
            ws.close(code=1012, reason="restart")
            return
        live.append(ws)
        ws.connect_to_server()

    page.route_web_socket(re.compile(r".*/ws/opening/\d+/.*"), route)
    login(page, server, hall.cookies["bidder1"])
    # From the menu: the bidder's openings, then the hall.
    page.goto(f"{server.url}/")
    page.locator("[data-test=nav-opening-list]").click()
    expect(page.locator("[data-test=opening-list]")).to_contain_text("一标段")
    screenshot(page, "hall-list")
    page.locator(f"[data-test=enter-{hall.lot}]").click()
    expect(page).to_have_url(re.compile(rf"/opening/{hall.lot}$"))

    # The hall: the lot, the window on the server's clock (2026-11, not this browser's today), live.
    expect(page.locator("[data-test=live-status]")).to_have_attribute("data-status", "open")
    expect(page.locator("[data-test=phase]")).to_have_attribute("data-phase", "decrypting")
    expect(page.locator("[data-test=lot-name]")).to_have_text("一标段")
    expect(count(page, "bids")).to_have_text("3")
    expect(count(page, "signed_in")).to_have_text("0")
    expect(page.locator("[data-test=online-bidder]")).to_have_text("1")
    expect(page.locator("[data-test=server-time]")).to_contain_text("2026-11-23 09:3")
    left = page.locator("[data-test=countdown]").inner_text()
    assert re.fullmatch(r"\d\d:\d\d:\d\d", left), left
    screenshot(page, "hall-bidder-arrives")

    # Sign in; the count comes back over the socket.
    page.locator("[data-test=sign-in]").click()
    expect(page.locator("[data-test=signed-in]")).to_contain_text("2026-11-23")
    expect(count(page, "signed_in")).to_have_text("1")

    # A wrong password is told in the page, and nothing is sent.
    page.locator("[data-test=key-file]").set_input_files(str(hall.key_file))
    page.locator("[data-test=key-password]").fill("不对的口令")
    page.locator("[data-test=decrypt]").click()
    expect(page.locator("[data-test=decrypt-error]")).to_contain_text("私钥口令不正确")

    # Decrypt: the key file is opened in the page, the data key unwrapped from the stored header and handed in.
    sent: list[dict] = []
    page.on("request", lambda r: sent.append({"url": r.url, "body": r.post_data}) if r.method == "POST" else None)
    page.locator("[data-test=key-password]").fill(PASSWORD)
    page.locator("[data-test=decrypt]").click()
    expect(page.locator("[data-test=my-outcome]")).to_have_attribute("data-status", "decrypted", timeout=30000)
    expect(count(page, "decrypted")).to_have_text("1")
    decrypt_posts = [s for s in sent if s["url"].endswith(f"/api/bids/{hall.bids['bidder1']}/decrypt/")]
    assert len(decrypt_posts) == 1
    body = json.loads(decrypt_posts[0]["body"])
    assert set(body) == {"data_key"} and len(base64.b64decode(body["data_key"])) == 32
    key_text = hall.key_file.read_text()
    assert all(PASSWORD not in (s["body"] or "") and key_text[:40] not in (s["body"] or "") for s in sent)
    screenshot(page, "hall-bidder-decrypted")

    # Others act over HTTP: the page follows without a reload.
    bidder2, bidder3 = http(server, hall.cookies["bidder2"]), http(server, hall.cookies["bidder3"])
    post(bidder2, server, f"/api/lots/{hall.lot}/opening/sign-in/")
    post(bidder3, server, f"/api/lots/{hall.lot}/opening/sign-in/")
    expect(count(page, "signed_in")).to_have_text("3")
    post(bidder2, server, f"/api/bids/{hall.bids['bidder2']}/decrypt/", {"data_key": hall.data_key2})
    expect(count(page, "decrypted")).to_have_text("2")
    expect(count(page, "sealed")).to_have_text("1")
    # Before the record, a bidder learns counts, never who else signed in or how they fared (DOMAIN.md).
    assert "投标公司2" not in page.locator("body").inner_text()

    # The socket drops and stays down while the window ends (bidder 3 handed in no key) and staff end decryption.
    assert sockets == [f"{server.url.replace('http', 'ws')}/ws/opening/{hall.lot}/?since=0"]  # the history, for the log
    hold[0] = True
    live[-1].close(code=1012, reason="restart")
    expect(page.locator("[data-test=live-status]")).to_have_attribute("data-status", "reconnecting")
    staff = http(server, hall.cookies["staff"])
    hall.clock.move_to(hall.decryption_deadline + timedelta(minutes=1))
    post(staff, server, f"/api/lots/{hall.lot}/opening/close-decryption/")
    screenshot(page, "hall-reconnecting")
    hold[0] = False
    # Back with ?since=<the last seq it saw>: the missed events are replayed, in order, once.
    expect(page.locator("[data-test=live-status]")).to_have_attribute("data-status", "open", timeout=30000)
    expect(page.locator("[data-test=phase]")).to_have_attribute("data-phase", "closed")
    expect(count(page, "revoked")).to_have_text("1")
    since = {int(m.group(1)) for url in sockets[1:] if (m := re.search(r"[?&]since=(\d+)", url))}
    assert len(since) == 1 and since.pop() > 0, sockets
    expect(page.locator("[data-test=log]")).to_contain_text("解密结束")
    first = len(sockets)

    # Staff publish the record: it appears live.
    post(staff, server, f"/api/lots/{hall.lot}/opening/publish-record/")
    expect(page.locator("[data-test=phase]")).to_have_attribute("data-phase", "published")
    rows = page.locator("[data-test=record-table] .el-table__body tr")
    expect(rows).to_have_count(3)
    expect(page.locator("[data-test=record-table]")).to_contain_text("900001.00")
    expect(page.locator("[data-test=record-pdf]")).to_have_attribute("href", f"/api/lots/{hall.lot}/opening/record.pdf")
    assert len(sockets) == first  # live, over the same socket, no reload
    screenshot(page, "hall-record-published")

    # Bidder 1 confirms the record.
    page.locator("[data-test=confirm-record]").click()
    page.locator(".el-message-box__btns .el-button--primary").click()
    expect(page.locator("[data-test=my-response]")).to_contain_text("确认开标记录")
    screenshot(page, "hall-bidder-confirmed")

    # Through the API: the response is recorded, the PDF is there.
    view = staff.get(f"{server.url}/api/lots/{hall.lot}/opening/", timeout=10).json()
    assert [(r["bidder"], r["kind"]) for r in view["responses"]] == [(hall.name1, "confirm")]
    pdf = bidder2.get(f"{server.url}/api/lots/{hall.lot}/opening/record.pdf", timeout=10)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    # The other parties see the same hall, each as much as the API shows it: staff and supervisors every bid, sign-in
    # and response; the tenderee side the record and the responses; a bidder without a bid in this opening nothing.
    for username, checks in (
        ("staff", ["watch-bids", "responses", "staff-controls"]),
        ("supervisor", ["watch-bids", "responses"]),
        ("tenderee", ["responses"]),
    ):
        other = page.context.browser.new_context(locale="zh-CN", timezone_id="UTC", viewport={"width": 1280, "height": 900})
        try:
            watcher = other.new_page()
            login(watcher, server, hall.cookies[username])
            watcher.goto(f"{server.url}/opening/{hall.lot}/")
            expect(watcher.locator("[data-test=live-status]")).to_have_attribute("data-status", "open")
            expect(watcher.locator("[data-test=record-table] .el-table__body tr")).to_have_count(3)
            for name in checks:
                expect(watcher.locator(f"[data-test={name}]")).to_be_visible()
            if username == "tenderee":
                expect(watcher.locator("[data-test=watch-bids]")).to_have_count(0)
            else:  # the whole opening replayed into the log, outcomes by name for staff and supervisors
                expect(watcher.locator("[data-test=log]")).to_contain_text("投标公司3：已撤销")
            screenshot(watcher, f"hall-{username}")
        finally:
            other.close()
    outsider = page.context.browser.new_context(locale="zh-CN", timezone_id="UTC")
    try:
        stranger = outsider.new_page()
        login(stranger, server, hall.cookies["bidder4"])
        stranger.goto(f"{server.url}/opening/{hall.lot}/")
        expect(stranger.locator("[data-test=hall-forbidden]")).to_be_visible()
    finally:
        outsider.close()


@pytest.fixture
def before_opening(parties):
    """A published lot, a few days before its bid deadline, and a bidder's session."""
    from tests import factories
    from tests.bidding.opening_kit import DURING, ISSUED

    lot = factories.lot(parties, stage="published", issued=ISSUED)
    traveller = time_machine.travel(DURING, tick=True)
    traveller.start()
    try:
        yield lot.pk, session_cookie(parties.bidders[0]).decode()
    finally:
        traveller.stop()


def test_before_the_deadline_the_hall_counts_down_to_it(before_opening, asgi_live_server, page, screenshot):
    from playwright.sync_api import expect

    lot, cookie = before_opening
    login(page, asgi_live_server, cookie)
    page.goto(f"{asgi_live_server.url}/opening/{lot}/")
    expect(page.locator("[data-test=not-started]")).to_be_visible()
    expect(page.locator("[data-test=phase]")).to_have_attribute("data-phase", "waiting")
    # 2026-11-04 10:00 to the deadline 2026-11-23 09:30, on the server's clock: 18 days and some hours.
    expect(page.locator("[data-test=countdown]")).to_contain_text("18天 23:")
    expect(page.locator("[data-test=server-time]")).to_contain_text("2026-11-04 10:0")
    screenshot(page, "hall-before-deadline")


OBJECTION = "第2号投标人的报价与唱标不一致，请核对。"
ANSWER = "已核对开标记录，报价以投标文件为准，无误。"


@pytest.fixture
def published(parties, tmp_path):
    """Three bids decrypted, decryption ended and the record published (over the API, before the browser starts);
    the server's clock runs on from three minutes after the opening."""
    from tests.bidding.opening_kit import client, decrypt, sign_in

    opened = open_lot(parties, tmp_path, count=3)
    lot = opened.lot.pk
    with time_machine.travel(opened.open_at, tick=False):
        sign_in(opened)
        for kit in opened.kits:
            assert decrypt(opened, kit).status_code == 200
    for minutes, action in ((1, "close-decryption"), (2, "publish-record")):
        with time_machine.travel(opened.open_at + timedelta(minutes=minutes), tick=False):
            response = client(parties.staff).post(f"/api/lots/{lot}/opening/{action}/")
            assert response.status_code == 200, response.json()
    traveller = time_machine.travel(opened.open_at + timedelta(minutes=3), tick=True)
    traveller.start()
    try:
        yield {
            "lot": lot,
            "bidder": session_cookie(opened.kits[0].user).decode(),
            "staff": session_cookie(parties.staff).decode(),
            "name": opened.kits[0].user.organisation.name,
        }
    finally:
        traveller.stop()


def test_a_bidder_objects_to_the_published_record_and_sees_the_answer_live(published, asgi_live_server, page, screenshot):
    from playwright.sync_api import expect

    server, lot = asgi_live_server, published["lot"]
    login(page, server, published["bidder"])
    page.goto(f"{server.url}/opening/{lot}/")
    expect(page.locator("[data-test=phase]")).to_have_attribute("data-phase", "published")
    expect(page.locator("[data-test=live-status]")).to_have_attribute("data-status", "open")
    expect(page.locator("[data-test=record-table] .el-table__body tr")).to_have_count(3)

    # The objection: a blank one is refused in the dialog and nothing is sent; the text goes trimmed.
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.method == "POST" else None)
    page.locator("[data-test=raise-objection]").click()
    dialog = page.locator(".el-message-box.reason-dialog")
    expect(dialog).to_contain_text("异议内容")
    dialog.locator("textarea").fill("  \n ")
    dialog.locator(".el-button--primary").click()
    expect(dialog.locator(".el-message-box__errormsg")).to_have_text("请填写异议内容")
    assert sent == []
    dialog.locator("textarea").fill(f"  {OBJECTION}\n")
    screenshot(page, "objection-dialog")
    dialog.locator(".el-button--primary").click()
    mine = page.locator("[data-test=my-response]")
    expect(mine).to_contain_text(f"提出异议：{OBJECTION}")
    expect(mine).to_contain_text("等待答复")
    expect(mine).to_have_attribute("data-answered", "false")
    expect(page.locator("[data-test=raise-objection]")).to_have_count(0)
    expect(page.locator("[data-test=confirm-record]")).to_have_count(0)
    assert sent == [f"{server.url}/api/lots/{lot}/opening/respond/"]
    screenshot(page, "objection-raised")

    # Staff see it (the API), and answer it.
    staff = http(server, published["staff"])
    view = staff.get(f"{server.url}/api/lots/{lot}/opening/", timeout=10).json()
    (objection,) = view["responses"]
    assert (objection["bidder"], objection["kind"], objection["objection"], objection["answer"]) == (
        published["name"],
        "objection",
        OBJECTION,
        "",
    )
    post(staff, server, f"/api/lots/{lot}/opening/responses/{objection['id']}/answer/", {"answer": ANSWER})

    # The answer shows in the bidder's hall without a reload, and again after one.
    expect(mine).to_have_attribute("data-answered", "true")
    expect(mine).to_contain_text(f"答复：{ANSWER}")
    screenshot(page, "objection-answered")
    page.reload()
    expect(page.locator("[data-test=my-response]")).to_contain_text(f"答复：{ANSWER}")
    assert staff.get(f"{server.url}/api/lots/{lot}/opening/", timeout=10).json()["responses"][0]["answer"] == ANSWER
