"""The bidder's pages in a real browser: a key pair generated in the page (the private key downloaded as a
password-encrypted file, the public key registered), enrolment and the tender documents, a bid sealed in the
browser and uploaded in parts through presigned URLs, its SHA-256 declared at completion, while one part PUT is
broken once (the page resumes after a reload, with the state it kept in IndexedDB, and sends only the parts the
store lacks), and the signed receipt. Afterwards, in Python: the stored object
opens with the private key from the downloaded key file and equals the file that was chosen. Then it is withdrawn.
A second test replaces a submitted bid before the deadline: the old receipt is marked superseded, the new one shown,
and one bid stays in force (checked over HTTP)."""

import base64
import hashlib
import json
import os
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from django.utils import timezone

from tests import factories

MiB = 1024 * 1024
PASSWORD = "bidder key file password 2026"


@pytest.fixture
def bidder_setup(transactional_db, settings, tmp_path):
    """A lot published an hour ago (deadline three weeks ahead) with a rescue key (2 of 2 officers), a bidder, and
    a bid file of ~11 MiB: 3 parts of 5 MiB, the smallest part size the platform allows."""
    from bidding.services import rescue
    from trading import services

    settings.BID_PART_SIZE = 5 * MiB
    parties = factories.Parties.create()
    issued = timezone.now() - timedelta(hours=1)
    lot = factories.lot(parties, stage="filed", issued=issued)
    key = rescue.rescue_key_create(lot=lot, actor=parties.staff, officer_ids=[parties.staff.pk, parties.admin.pk], threshold=2)
    lot, _ = services.lot_publish(lot=lot, actor=parties.tenderee, title="招标公告", body="欢迎投标", now=issued)
    bidder = parties.bidders[0]
    bid_file = tmp_path / "投标文件.zip"
    bid_file.write_bytes(factories.bid_package("980000.00", marker="浏览器", extra=os.urandom(11 * MiB)))
    return {
        "lot": lot.pk,
        "lot_code": lot.transaction_code,
        "username": bidder.username,
        "credit_code": bidder.organisation.credit_code,
        "bid_file": bid_file,
        "rescue_shares": [share["share"] for share in key["shares"]],
    }


def open_key_file(data: dict, password: str):
    """docs/formats.md, "Private key file": PBKDF2-SHA256 → AES-256-GCM over the PKCS#8 DER, AAD = format/kid."""
    kdf = data["kdf"]
    assert kdf["name"] == "PBKDF2-SHA256" and kdf["iterations"] >= 600_000
    key = PBKDF2HMAC(hashes.SHA256(), 32, base64.b64decode(kdf["salt"]), kdf["iterations"]).derive(password.encode())
    pkcs8 = AESGCM(key).decrypt(
        base64.b64decode(data["cipher"]["iv"]),
        base64.b64decode(data["private_key_pkcs8"]),
        f"trading-bidder-key/{data['kid']}".encode(),
    )
    return serialization.load_der_private_key(pkcs8, password=None)


def stored_plaintext(bid_id: str, private_key, lot_code: str, credit_code: str, rescue_shares: list[str]):
    """The stored sealed object, opened with the bidder's private key (ORM and store, outside the browser's thread);
    the rescue key rebuilt from its shares unwraps the same data key (the browser sealed to it too)."""
    from bidding import envelope, shamir
    from bidding.models import Bid
    from trading.objectstore import get_store

    bid = Bid.objects.get(pk=bid_id)
    sealed = b"".join(get_store().iter_chunks(bid.object_key))
    assert hashlib.sha256(sealed).hexdigest() == bid.sha256 and len(sealed) == bid.size
    position = 0

    def read(n: int) -> bytes:
        nonlocal position
        position += n
        return sealed[position - n : position]

    header = envelope.read_header(read)
    data_key = envelope.unwrap_key(header, private_key, lot=lot_code, bidder=credit_code)
    assert [r.type for r in header.recipients] == ["bidder", "rescue"]
    rescue_key = envelope.private_key_from_scalar(shamir.combine([shamir.decode_share(s) for s in rescue_shares]))
    assert envelope.unwrap_key(header, rescue_key, lot=lot_code, bidder=credit_code) == data_key
    return bid.sha256, b"".join(envelope.decrypt_chunks(header, data_key, [sealed[position:]]))


def in_thread(function, *args):
    """Runs an ORM call off the playwright thread (whose running event loop Django refuses)."""
    result: dict = {}

    def run():
        from django.db import connection

        try:
            result["value"] = function(*args)
        except BaseException as error:  # re-raised below
            result["error"] = error
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(120)
    if "error" in result:
        raise result["error"]
    return result["value"]


def test_bidder_key_enrolment_sealed_upload_resume_and_receipt(bidder_setup, page, screenshot, live_server):
    base = live_server.url
    lot = bidder_setup["lot"]

    # Log in.
    page.goto(base + "/login?next=/bidder/keys")
    page.fill("input[data-test=username]", bidder_setup["username"])
    page.fill("input[data-test=password]", factories.PASSWORD)
    page.click("[data-test=submit]")
    page.wait_for_url("**/bidder/keys")

    # 投标密钥: generate, download the encrypted key file, register the public key.
    page.fill("input[data-test=key-password]", PASSWORD)
    page.fill("input[data-test=key-password2]", PASSWORD)
    with page.expect_download() as download_info:
        page.click("[data-test=key-generate]")
    key_file = json.loads(Path(download_info.value.path()).read_text(encoding="utf-8"))
    page.locator("[data-test=key-done]").wait_for()
    assert key_file["format"] == "trading-bidder-key" and key_file["kid"] in page.locator("[data-test=key-done]").inner_text()
    row = page.locator("[data-test=keys] .el-table__row", has_text=key_file["kid"])
    row.wait_for()
    assert "有效" in row.inner_text() and "本浏览器可用" in row.inner_text()
    screenshot(page, "01-keys")

    # 单位信息: the organisation as registered, and the contact it keeps itself, which fills the enrolment form.
    page.click("[data-test=nav-bidder-profile]")
    page.wait_for_url("**/bidder/profile")
    assert page.locator("[data-test=profile-credit-code]").inner_text() == bidder_setup["credit_code"]
    page.fill("input[data-test=profile-contact-name]", "张三")
    page.fill("input[data-test=profile-contact-phone]", "12")
    page.click("[data-test=profile-save]")
    page.locator("[data-test=profile-error]", has_text="联系电话格式不正确").wait_for()
    page.fill("input[data-test=profile-contact-phone]", "13800000000")
    page.click("[data-test=profile-save]")
    page.locator(".el-message--success", has_text="已保存联系人信息").wait_for()
    assert page.locator("[data-test=profile-error]").count() == 0
    screenshot(page, "01b-profile")

    # 报名 and 招标文件.
    page.click("[data-test=nav-bidder-lots]")
    page.wait_for_url("**/bidder/lots")
    page.locator(f"[data-test=enrol-state-{lot}]", has_text="未报名").wait_for()
    screenshot(page, "02-lots")
    page.click(f"[data-test=enrol-{lot}]")
    page.locator("input[data-test=contact-name]").wait_for()
    assert (page.input_value("input[data-test=contact-name]"), page.input_value("input[data-test=contact-phone]")) == (
        "张三",
        "13800000000",
    )
    page.click("[data-test=enrol-submit]")
    page.locator(f"[data-test=enrol-state-{lot}]", has_text="已报名").wait_for()
    page.click(f"[data-test=documents-{lot}]")
    document = page.locator("[data-test=documents] .el-table__row", has_text="招标文件.pdf")
    document.wait_for()
    screenshot(page, "03-documents")
    with page.expect_download() as download_info:
        document.locator("[data-test^=download-]").click()
    assert Path(download_info.value.path()).read_bytes() == b"tender documents v1"
    page.keyboard.press("Escape")

    # 投标文件上传: part 2's PUT to the object store breaks once.
    broken = []

    def break_part_two(route):
        if not broken:
            broken.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route(lambda url: "partNumber=2&" in url or url.endswith("partNumber=2"), break_part_two)
    # What the page asks: the bid started without a SHA-256, the parts PUT (the seal worker's requests too), the
    # SHA-256 declared at completion.
    asked: list[tuple[str, str, str | None]] = []

    def record(request):
        if "/api/bids/" in request.url and request.method == "POST":
            asked.append((request.method, request.url, request.post_data))
        elif "partNumber=" in request.url and request.method == "PUT":
            asked.append(("PUT", request.url, None))

    page.on("request", record)
    page.click(f"[data-test=bid-{lot}]")
    page.wait_for_url(f"**/bidder/lots/{lot}/bid")
    page.locator("[data-test=key-select]", has_text=key_file["kid"]).wait_for()
    page.locator("[data-test=rescue]").wait_for()  # the lot's rescue key is a second recipient
    page.set_input_files("[data-test=bid-file]", str(bidder_setup["bid_file"]))
    page.click("[data-test=start]")
    error = page.locator("[data-test=upload-error]")
    error.wait_for(timeout=60000)
    assert "上传中断" in error.inner_text() and broken
    screenshot(page, "04-upload-broken")
    start = json.loads(next(body for method, url, body in asked if url.endswith("/api/bids/")))
    assert start == {"lot": lot, "size": start["size"]} and start["size"] > 10 * MiB  # no SHA-256 yet

    # A reload: the page finds the unfinished upload in IndexedDB; the same file is chosen again and it resumes,
    # hashing the parts the store holds and sending only the others.
    page.reload()
    pending = page.locator("[data-test=pending]")
    pending.wait_for()
    assert "投标文件.zip" in pending.inner_text()
    unfinished = next(row for row in page.request.get(base + "/api/bids/").json() if row["status"] == "uploading")
    held = {p["part"] for p in page.request.get(base + f"/api/bids/{unfinished['id']}/").json()["uploaded_parts"]}
    assert 2 not in held and unfinished["parts"] == 3
    asked.clear()
    page.set_input_files("[data-test=resume-file]", str(bidder_setup["bid_file"]))
    page.click("[data-test=resume]")
    page.locator("[data-test=receipt], [data-test=upload-error]").first.wait_for(timeout=60000)
    assert not page.locator("[data-test=upload-error]").is_visible(), page.locator("[data-test=upload-error]").inner_text()
    receipt_card = page.locator("[data-test=receipt]")
    page.locator("[data-test=receipt-valid]", has_text="签名有效").wait_for()
    assert bidder_setup["lot_code"] in receipt_card.inner_text()
    assert bidder_setup["credit_code"] in receipt_card.inner_text()
    screenshot(page, "05-receipt")
    with page.expect_download() as download_info:
        page.click("[data-test=receipt-download]")
    receipt = json.loads(Path(download_info.value.path()).read_text(encoding="utf-8"))
    assert receipt["lot"] == bidder_setup["lot_code"] and receipt["bidder"] == bidder_setup["credit_code"]
    put = sorted(int(url.split("partNumber=")[1].split("&")[0]) for method, url, _ in asked if method == "PUT")
    assert put == sorted({1, 2, 3} - held)
    completions = [json.loads(body) for method, url, body in asked if url.endswith(f"/api/bids/{receipt['bid']}/complete/")]
    assert completions == [{"sha256": receipt["sha256"]}]

    # 我的投标: the bid is submitted; the receipt opens from the list.
    page.click("[data-test=nav-bidder-bids]")
    page.locator(f"[data-test=bid-status-{receipt['bid']}]", has_text="已递交").wait_for()
    screenshot(page, "06-bids")
    page.click(f"[data-test=show-receipt-{receipt['bid']}]")
    page.locator(".el-dialog [data-test=receipt-valid]", has_text="签名有效").wait_for()
    page.keyboard.press("Escape")

    # The stored envelope opens with the private key from the downloaded file and equals the chosen file.
    private_key = open_key_file(key_file, PASSWORD)
    sha256, plaintext = in_thread(
        stored_plaintext,
        receipt["bid"],
        private_key,
        bidder_setup["lot_code"],
        bidder_setup["credit_code"],
        bidder_setup["rescue_shares"],
    )
    assert plaintext == bidder_setup["bid_file"].read_bytes()
    assert receipt["sha256"] == sha256 and receipt["size"] == start["size"]  # the stored envelope's SHA-256

    # Withdrawal before the deadline (法29): confirmed, then shown as withdrawn.
    page.click(f"[data-test=withdraw-{receipt['bid']}]")
    page.locator(".el-message-box .el-button--primary").click()
    page.locator(f"[data-test=bid-status-{receipt['bid']}]", has_text="已撤回").wait_for()
    screenshot(page, "07-withdrawn")

    # The same page in English (the switch persists); the upload page's strings too.
    page.click("[data-test=language]")
    page.locator(f"[data-test=bid-status-{receipt['bid']}]", has_text="Withdrawn").wait_for()
    page.goto(base + f"/bidder/lots/{lot}/bid")
    page.locator("text=Encrypt in the browser").wait_for()
    screenshot(page, "08-upload-en")


@pytest.fixture
def replacing(transactional_db, tmp_path):
    """A lot published an hour ago (deadline three weeks ahead), a bidder with a submitted bid (sealed and uploaded
    by the client program), its key file as the web UI writes it, and the file of a replacement bid."""
    from tests.frontend.test_opening_hall import write_key_file
    from trading import services

    parties = factories.Parties.create()
    now = timezone.now()
    issued = now - timedelta(hours=1)
    lot = factories.lot(parties, stage="filed", issued=issued)
    lot, _ = services.lot_publish(lot=lot, actor=parties.tenderee, title="招标公告", body="欢迎投标", now=issued)
    bidder = parties.bidders[0]
    kit = factories.bidder_kit(bidder, now)
    first = factories.submit_bid(kit, lot, tmp_path, price="990000.00", marker="原投标文件")
    key_file = tmp_path / "投标密钥.json"
    write_key_file(kit, key_file, PASSWORD)
    replacement = tmp_path / "投标文件-修改.zip"
    replacement.write_bytes(factories.bid_package("960000.00", marker="替换后的投标文件"))
    return {
        "lot": lot.pk,
        "lot_code": lot.transaction_code,
        "username": bidder.username,
        "first": first,
        "key_file": key_file,
        "kid": json.loads(key_file.read_text())["kid"],
        "replacement": replacement,
    }


def test_a_bidder_replaces_a_submitted_bid_before_the_deadline(replacing, page, screenshot, live_server):
    from playwright.sync_api import expect

    base, lot, first = live_server.url, replacing["lot"], replacing["first"]
    old = first["bid"]
    page.goto(base + "/login?next=/bidder/bids")
    page.fill("input[data-test=username]", replacing["username"])
    page.fill("input[data-test=password]", factories.PASSWORD)
    page.click("[data-test=submit]")
    page.wait_for_url("**/bidder/bids")
    expect(page.locator(f"[data-test=bid-status-{old}]")).to_have_text("已递交")

    # 替换: the upload page says a bid is in force (its receipt); the key comes from the key file (no password).
    page.click(f"[data-test=replace-{old}]")
    page.wait_for_url(f"**/bidder/lots/{lot}/bid")
    note = page.locator("[data-test=replace-note]")
    expect(note).to_contain_text("再次递交将在校验通过后替换原文件")
    expect(note).to_contain_text(first["sha256"][:16])
    page.set_input_files("[data-test=key-file]", str(replacing["key_file"]))
    expect(page.locator("[data-test=key-select]")).to_contain_text(replacing["kid"])
    page.set_input_files("[data-test=bid-file]", str(replacing["replacement"]))
    screenshot(page, "01-replace")
    page.click("[data-test=start]")
    page.locator("[data-test=receipt], [data-test=upload-error]").first.wait_for(timeout=60000)
    assert not page.locator("[data-test=upload-error]").is_visible(), page.locator("[data-test=upload-error]").inner_text()
    expect(page.locator("[data-test=receipt-valid]")).to_have_text("签名有效")
    expect(page.locator("[data-test=replaced-note]")).to_contain_text("已被替换")
    with page.expect_download() as download_info:
        page.click("[data-test=receipt-download]")
    receipt = json.loads(Path(download_info.value.path()).read_text(encoding="utf-8"))
    new = receipt["bid"]
    assert new != old and receipt["lot"] == first["lot"] == replacing["lot_code"]
    assert receipt["sha256"] != first["sha256"]
    expect(page.locator("[data-test=receipt-sha256]")).to_have_text(receipt["sha256"])
    screenshot(page, "02-new-receipt")

    # 我的投标: the old bid replaced (its receipt marked superseded, no actions left), the new one in force.
    page.click("[data-test=nav-bidder-bids]")
    expect(page.locator(f"[data-test=bid-status-{new}]")).to_have_text("已递交")
    expect(page.locator(f"[data-test=bid-status-{old}]")).to_have_text("已替换")
    expect(page.locator(f"[data-test=replace-{old}]")).to_have_count(0)
    expect(page.locator(f"[data-test=withdraw-{old}]")).to_have_count(0)
    expect(page.locator(f"[data-test=replace-{new}]")).to_be_visible()
    screenshot(page, "03-bids")
    page.click(f"[data-test=show-receipt-{old}]")
    dialog = page.locator(".el-dialog")
    expect(dialog.locator("[data-test=receipt-superseded]")).to_contain_text("已被替换")
    expect(dialog.locator("[data-test=receipt-sha256]")).to_have_text(first["sha256"])
    screenshot(page, "04-old-receipt")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    page.click(f"[data-test=show-receipt-{new}]")
    expect(dialog.locator("[data-test=receipt-sha256]")).to_have_text(receipt["sha256"])
    expect(dialog.locator("[data-test=receipt-superseded]")).to_have_count(0)
    page.keyboard.press("Escape")

    # Over HTTP: one bid in force for the lot, the replacement; the first one replaced.
    response = page.request.get(base + "/api/bids/")
    assert response.status == 200
    mine = {row["id"]: row for row in response.json() if row["lot"] == lot}
    assert {bid: row["status"] for bid, row in mine.items()} == {old: "replaced", new: "submitted"}
    assert mine[new]["receipt"] == receipt and mine[new]["sha256"] == receipt["sha256"]
