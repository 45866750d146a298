"""A whole tender through the web UI, on daphne (websockets) with the server's clock moved by time_machine.

Staff publish a filed lot that has an evaluation method (the staff page); two bidders generate their keys, enrol,
seal and upload in the browser (the first one's part 2 PUT is cut and the upload resumed after a reload), a third
uploads through the Python client (bidding.client.Uploader); at the deadline the sweep starts the opening; the two
sign in and decrypt in the hall with their key files, the third over HTTP; staff end decryption and publish the
record on the lot page. Staff start the evaluation and draw five experts in two venues on the draws page; the five
confirm and go through the whole room in their own browsers while staff run the session from the lot page; the report
is signed. Staff publish the candidates, the sweep awards after the period, staff issue the letters on the lot page;
the winner downloads its award letter on its letters page (the PDF read with pypdf) and checks it on the public
verification page. Screenshots of each main page.

No ORM call in the test's own thread while the browser runs: values come from the fixture, ORM work runs in
`in_thread` (test_bidder.py)."""

import io
import os
from datetime import timedelta

import pytest
import requests
import time_machine
from django.conf import settings
from pypdf import PdfReader

from bidding import envelope
from tests import factories
from tests.evaluation import kit
from tests.frontend import flows
from tests.frontend.test_bidder import in_thread
from tests.frontend.test_expert_room import Actor, concurrent_db  # noqa: F401 (the fixture)
from tests.realtime.kit import session_cookie

MiB = 1024 * 1024
PASSWORDS = {"bidder1": "第一家的私钥口令-2026", "bidder2": "第二家的私钥口令-2026"}
PRICES = {"bidder1": "900001.00", "bidder2": "900002.00", "bidder3": "900003.00"}
# Every member's scores per bidder: bidder1 first.
SCORES = {"bidder1": {"T1": "28", "C1": "18"}, "bidder2": {"T1": "22", "C1": "15"}, "bidder3": {"T1": "18", "C1": "12"}}


def sid(user) -> str:
    return session_cookie(user).decode().split("=", 1)[1]


@pytest.fixture
def tender(concurrent_db, settings, tmp_path):  # noqa: F811
    """A filed lot (documents issued 2026-11-02 09:00, deadline 2026-11-23 09:30) with a comprehensive method; ten
    A0801 experts; the third bidder's key; the server's clock at the issue, ticking (started before daphne)."""
    from tests.bidding.opening_kit import client

    settings.BID_PART_SIZE = 5 * MiB
    # A session saved while the clock is at the sale period must outlive the jumps to the award (weeks later).
    settings.SESSION_COOKIE_AGE = 90 * 24 * 3600
    kit.specialties()
    parties = factories.Parties.create()
    lot = factories.lot(parties, stage="filed", issued=kit.ISSUED)
    with time_machine.travel(kit.ISSUED - timedelta(hours=2), tick=False):
        response = client(parties.tenderee).post(
            "/api/evaluation-methods/",
            {
                "lot": lot.pk,
                "kind": "comprehensive",
                "technical_weight": "30",
                "commercial_weight": "20",
                "price_weight": "50",
                "price_formula": "benchmark",
                "criteria": [
                    {"stage": "qualification", "name": "Q"},
                    {"stage": "compliance", "name": "P"},
                    {"stage": "technical", "name": "T1", "max_score": "30"},
                    {"stage": "commercial", "name": "C1", "max_score": "20"},
                ],
            },
            format="json",
        )
        assert response.status_code == 201, response.content
    kit.experts(10, "A0801")
    main, secondary = kit.venues()
    third = factories.bidder_kit(parties.bidders[2], kit.ISSUED)
    files = {}
    for name in ("bidder1", "bidder2"):
        files[name] = tmp_path / f"{name}-投标文件.zip"
        extra = os.urandom(6 * MiB) if name == "bidder1" else b""  # two parts: one to cut
        files[name].write_bytes(factories.bid_package(PRICES[name], marker=name, extra=extra))
    traveller = time_machine.travel(kit.ISSUED + timedelta(minutes=10), tick=True)
    clock = traveller.start()
    try:
        yield {
            "parties": parties,
            "third": third,
            "lot": lot.pk,
            "code": lot.transaction_code,
            "deadline": lot.bid_deadline,
            "files": files,
            "tmp": tmp_path,
            "names": {u.username: u.organisation.name for u in parties.bidders},
            "credit": {u.username: u.organisation.credit_code for u in parties.bidders},
            "sessions": {u.username: sid(u) for u in [*parties.bidders[:3], parties.staff]},
            "clock": clock,
            "venues": {main.name: 3, secondary.name: 2},
        }
    finally:
        traveller.stop()


def act(actor: Actor, path: str, body: dict | None = None) -> dict:
    """A POST through an Actor that succeeds with 200 or 201."""
    response = actor.http.post(actor.base + path, json=body or {}, timeout=30)
    assert response.status_code in (200, 201), (path, response.status_code, response.text[:500])
    return response.json() if response.content else {}


def pdf_text(data: bytes) -> str:
    return "".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages).replace(" ", "").replace("\n", "")


def third_bidder_uploads(tender) -> dict:
    """Enrolment, sealing and upload through the Python client (in a helper thread: ORM)."""
    from trading.models import Lot

    lot = Lot.objects.get(pk=tender["lot"])
    return factories.submit_bid(tender["third"], lot, tender["tmp"], price=PRICES["bidder3"], marker="bidder3")


def third_data_key(tender) -> str:
    import base64

    with open(tender["tmp"] / "bidder3.sealed", "rb") as f:
        header = envelope.read_header(f.read)
    key = envelope.unwrap_key(header, tender["third"].private_key, lot=tender["code"], bidder=tender["credit"]["bidder3"])
    return base64.b64encode(key).decode()


def sweep(now=None):
    from trading import services

    return services.sweep_deadlines(now=now)


def decryption_deadline(lot: int):
    from bidding.models import Opening

    return Opening.objects.get(lot=lot).decryption_deadline


def committee(lot: int) -> dict:
    """The drawn committee (staff drew it on the draws page): members by venue kind and seat, their session ids, and
    the evaluation window."""
    from evaluation.models import DrawnExpert, DrawRequest

    request = DrawRequest.objects.get(lot=lot)
    members = list(
        DrawnExpert.objects.filter(draw__request=request, status=DrawnExpert.Status.INVITED)
        .select_related("expert__user", "venue")
        .order_by("venue__kind", "seat")
    )
    assert sorted({m.venue.kind for m in members}) == ["main", "secondary"] and len(members) == 5
    return {
        "members": [m.pk for m in members],
        "names": [m.expert.name for m in members],
        "venues": [m.venue_id for m in members],
        "cookies": [sid(m.expert.user) for m in members],
        "window": request.window_start,
    }


def finished_at(lot: int):
    from evaluation.models import EvaluationSession

    return EvaluationSession.objects.get(lot=lot).finished_at


def publicity_end(lot: int):
    from trading.models import Lot

    return Lot.objects.get(pk=lot).publicity_end


def test_a_whole_tender_through_the_web_ui(tender, asgi_live_server, page, browser, screenshot):
    base = asgi_live_server.url
    lot, clock = tender["lot"], tender["clock"]
    staff = Actor(base, tender["sessions"]["staff"])

    # 1. Staff publish the filed lot from its page.
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": tender["sessions"]["staff"], "url": base}])
    flows.staff_publish(page, base, lot)
    screenshot(page, "01-staff-published")

    # 2. Two bidders in their own browsers: keys, enrolment, sealed upload (bidder1's cut and resumed); a third
    # through the Python client.
    clock.move_to(kit.ISSUED + timedelta(days=2, hours=1))
    bidders = {name: flows.new_context(browser, base, tender["sessions"][name]) for name in PASSWORDS}
    pages = {name: context.new_page() for name, context in bidders.items()}
    keys, receipts = {}, {}
    for name, bpage in pages.items():
        keys[name] = tender["tmp"] / f"{name}-key.json"
        key = flows.bidder_keys(bpage, base, PASSWORDS[name], keys[name])
        flows.bidder_enrol(bpage, lot)
        cut = name == "bidder1"
        receipts[name] = flows.bidder_upload(
            bpage,
            lot,
            key["kid"],
            tender["files"][name],
            cut=cut,
            on_cut=(lambda p=bpage: screenshot(p, "02-bidder1-upload-cut")) if cut else None,
        )
        assert receipts[name]["lot"] == tender["code"] and receipts[name]["bidder"] == tender["credit"][name]
        screenshot(bpage, f"03-{name}-receipt")
    receipts["bidder3"] = in_thread(third_bidder_uploads, tender)

    # 3. The deadline: the sweep starts the opening; the two decrypt in the hall, the third over HTTP; staff end the
    # decryption and publish the record on the lot page.
    clock.move_to(tender["deadline"] + timedelta(minutes=1))
    assert in_thread(sweep)
    for name, bpage in pages.items():
        flows.hall_decrypt(bpage, base, lot, keys[name], PASSWORDS[name])
    screenshot(pages["bidder1"], "05-hall-decrypted")
    third = Actor(base, tender["sessions"]["bidder3"])
    act(third, f"/api/lots/{lot}/opening/sign-in/")
    act(third, f"/api/bids/{receipts['bidder3']['bid']}/decrypt/", {"data_key": third_data_key(tender)})
    pages["bidder1"].locator("[data-test=count-decrypted]", has_text="3").wait_for()
    clock.move_to(in_thread(decryption_deadline, lot) + timedelta(minutes=1))
    flows.staff_end_opening(page, base, lot)
    record = pages["bidder1"].locator("[data-test=record-table]")
    record.locator(".el-table__body tr").nth(2).wait_for()
    assert PRICES["bidder1"] in record.inner_text() and tender["names"]["bidder3"] in record.inner_text()
    screenshot(pages["bidder1"], "06-hall-record")

    # 4. The evaluation: staff move the lot on and draw five experts in two venues on the draws page; all five confirm
    # and evaluate in their own browsers while staff run the session from the lot page.
    clock.move_to(kit.NOW)
    flows.staff_lot_action(page, base, lot, "startEvaluation", "评标中")
    flows.staff_draw(page, base, "评标中", "A08 ", tender["venues"])
    screenshot(page, "07-staff-draw")
    drawn = in_thread(committee, lot)
    experts = [flows.new_context(browser, base, cookie) for cookie in drawn["cookies"]]
    epages = {i: context.new_page() for i, context in enumerate(experts)}
    for i, epage in epages.items():
        flows.expert_confirms(epage, base, drawn["members"][i])
    screenshot(epages[4], "08-expert-invitation")
    clock.move_to(drawn["window"] + timedelta(minutes=5))
    advance = flows.staff_session(page, base, lot)
    method = staff.get(f"/api/evaluation-methods/?lot={lot}")
    (method,) = method["results"] if isinstance(method, dict) else method
    bids = {name: str(receipts[name]["bid"]) for name in PRICES}
    scene = {
        **drawn,
        "lot": lot,
        "bids": list(bids.values()),
        "crit": {c["name"]: c["id"] for c in method["criteria"]},
        "scores": {bids[name]: row for name, row in SCORES.items()},
    }
    flows.committee_room(epages, base, scene, lambda p, name: screenshot(p, f"09-{name}"), advance)
    report = staff.get(f"/api/lots/{lot}/evaluation-session/report/")
    assert report["finalized_at"] and len(report["signatures"]) == 5
    screenshot(page, "10-staff-session-done")

    # 5. Staff publish the candidates; the sweep awards after the period; staff issue the letters on the lot page;
    # the winner downloads its award letter.
    clock.move_to(in_thread(finished_at, lot) + timedelta(minutes=30))
    flows.staff_lot_action(page, base, lot, "startPublicity", "候选人公示")
    end = in_thread(publicity_end, lot)
    clock.move_to(end + timedelta(minutes=1))
    in_thread(sweep)
    clock.move_to(end + timedelta(hours=1))
    codes = flows.staff_issue_letters(page, base, lot, tender["names"]["bidder1"])
    screenshot(page, "11-staff-letters")
    winner = pages["bidder1"]
    winner.goto(base + "/")
    winner.click("[data-test=nav-bidder-letters]")
    rows = winner.locator("[data-test=letters] .el-table__row")
    rows.first.wait_for()
    assert rows.count() == 1 and "中标通知书" in rows.inner_text()
    code = winner.locator("[data-test^=letter-code-]").inner_text().strip()
    assert code == codes["award"]
    screenshot(winner, "12-bidder-letters")
    with winner.expect_download() as download_info:
        winner.locator("[data-test^=letter-download-]").click()
    letter_pdf = tender["tmp"] / "award-letter.pdf"
    download_info.value.save_as(letter_pdf)
    text = pdf_text(letter_pdf.read_bytes())
    assert "中标通知书" in text and tender["names"]["bidder1"] in text and code in text, text[:400]
    assert PRICES["bidder1"] in text
    # The public verification page (no login): the code, then the downloaded PDF compared with the record.
    public = flows.new_context(browser, base)
    check = public.new_page()
    check.goto(f"{base}/verify/{code}")
    check.locator("[data-test=letter]").wait_for()
    assert tender["names"]["bidder1"] in check.locator("[data-test=letter]").inner_text()
    check.locator("[data-test=upload] input[type=file]").set_input_files(str(letter_pdf))
    check.locator("[data-test=match]").wait_for()
    screenshot(check, "13-verify")
    verified = requests.get(f"{base}/api/letters/verify/{code}/", timeout=10).json()
    assert verified["code"] == code
    for context in (*bidders.values(), *experts, public):
        context.close()
