"""开标: sign-in, each bidder's key handed in and the bid decrypted as a stream, the window and its sweep,
the opening record (PDF with an embedded Chinese font), bidders' confirmations and objections."""

import hashlib
import io
import json
import os
import re
import zlib
from datetime import timedelta

import pytest
import time_machine
from django.apps import apps
from django.test import override_settings

from audit.models import AuditEvent
from audit.services import unseal_event
from bidding import client as bidder_client
from bidding import envelope
from bidding.models import Bid, Opening, OpeningResponse
from tests import factories
from tests.bidding.opening_kit import MARKER, client, decrypt, open_lot, opened_objects, sign_in, state, stored, transport
from trading import services
from trading.objectstore import get_store


def _pushes(monkeypatch) -> list:
    sent = []
    monkeypatch.setattr("realtime.services._send", lambda groups, payload: sent.append((sorted(groups), payload)))
    return sent


def _lot_actions(lot, since: int) -> list[str]:
    events = AuditEvent.objects.filter(seq__gt=since).order_by("seq")
    return [unseal_event(e)["action"] for e in events if unseal_event(e)["lot_id"] == lot.pk]


@pytest.mark.django_db
def test_the_full_opening_through_the_api_and_the_bidders_client(
    parties, tmp_path, monkeypatch, capsys, django_capture_on_commit_callbacks
):
    opened = open_lot(parties, tmp_path, count=3)
    lot, (one, two, three) = opened.lot, opened.kits
    start_seq = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    assert sorted(Bid.objects.filter(opening=opened.opening).values_list("bidder_id", flat=True)) == sorted(
        k.user.organisation_id for k in opened.kits
    )
    for name in opened.sealed:  # the store never held the bid in clear
        assert MARKER.encode() not in stored(Bid.objects.get(pk=opened.receipts[name]["bid"]).object_key)
    with time_machine.travel(opened.open_at, tick=False):
        # Sign-in: recorded with time and address; again is harmless.
        response = client(one.user).post(f"/api/lots/{lot.pk}/opening/sign-in/")
        assert (response.status_code, response.json()["ip"]) == (201, "127.0.0.1")
        again = client(one.user).post(f"/api/lots/{lot.pk}/opening/sign-in/")
        assert (again.status_code, again.json()) == (200, response.json())
        # One: the command line, with its encrypted key file.
        key_file = tmp_path / "company.key"
        key_file.write_bytes(envelope.export_private_key(one.private_key, b"key-passphrase"))
        monkeypatch.setenv("KEY_PASS", "key-passphrase")
        monkeypatch.setattr(bidder_client, "http_transport", lambda server, token: transport(one.user))
        argv = ["submit-key", "--server", "http://platform", "--token", "t", "--bid", opened.receipts["bidder1"]["bid"]]
        assert (
            bidder_client.main([*argv, "--key", str(key_file), "--passphrase-env", "KEY_PASS", str(opened.sealed["bidder1"])])
            == 0
        )
        assert "已解密 / decrypted: decrypted" in capsys.readouterr().out
        # Two: the client function (it signs in by itself).
        body = bidder_client.submit_key(
            transport(two.user), opened.receipts["bidder2"]["bid"], opened.sealed["bidder2"], two.private_key
        )
        assert (body["status"], body["decrypted_via"]) == ("decrypted", "bidder")
        # Three: plain HTTP with a key unwrapped beforehand.
        sign_in(opened, three)
        response = decrypt(opened, three)
        assert response.status_code == 200, response.json()
    for kit in opened.kits:
        bid = opened.bid(kit)
        plain = opened.plain[kit.user.username]
        assert (bid.status, bid.decrypted_via, bid.decrypted_at) == ("decrypted", "bidder", opened.open_at)
        assert stored(bid.plaintext_key) == plain
        assert (bid.plaintext_size, bid.plaintext_sha256) == (len(plain), hashlib.sha256(plain).hexdigest())
        assert bid.plaintext_key.startswith("opened/")
    # Nothing but the opened objects holds the plaintext: no database row does.
    for model in apps.get_models():
        for row in model.objects.all().values():
            assert MARKER not in repr(row), model.__name__

    # All decrypted: staff may end decryption before the window's end. The record is read from opening.json.
    with time_machine.travel(opened.open_at + timedelta(minutes=1), tick=False):
        response = client(parties.staff).post(f"/api/lots/{lot.pk}/opening/close-decryption/")
        assert response.status_code == 200, response.json()
    expected = [
        {
            "no": number,
            "bid": opened.receipts[kit.user.username]["bid"],
            "bidder": kit.user.organisation.name,
            "credit_code": kit.user.organisation.credit_code,
            "status": "decrypted",
            "status_label": "已解密",
            "price": f"{900000 + number}.00",
            "duration_days": 365,
            "quality": "合格",
            "note": "",
        }
        for number, kit in enumerate(opened.kits, start=1)
    ]
    assert response.json()["record"] == expected
    # Not yet published: bidders and the tenderee do not see it.
    assert client(one.user).get(f"/api/lots/{lot.pk}/opening/").json()["record"] is None
    assert client(parties.tenderee).get(f"/api/lots/{lot.pk}/opening/").json()["record"] is None

    sent = _pushes(monkeypatch)
    with time_machine.travel(opened.open_at + timedelta(minutes=2), tick=False), django_capture_on_commit_callbacks(execute=True):
        response = client(parties.staff).post(f"/api/lots/{lot.pk}/opening/publish-record/")
        assert response.status_code == 200, response.json()
    opening = Opening.objects.get(lot=lot)
    document = stored(opening.record_object_key)
    assert document.startswith(b"%PDF") and hashlib.sha256(document).hexdigest() == opening.record_sha256
    orgs = sorted(f"org-{k.user.organisation_id}" for k in opened.kits)
    assert [(g, p) for g, p in sent if p["type"] == "opening_record"] == [
        (orgs, {"type": "opening_record", "lot": lot.pk, "sha256": opening.record_sha256})
    ]
    for user in (one.user, two.user, three.user, parties.tenderee, parties.supervisor):
        view = client(user).get(f"/api/lots/{lot.pk}/opening/").json()
        assert (view["record"], view["record_sha256"]) == (expected, opening.record_sha256)
    download = client(two.user).get(f"/api/lots/{lot.pk}/opening/record.pdf")
    assert download.status_code in (200, 302)

    # On the spot: two confirm, one objects; staff answer. Once per bidder.
    with time_machine.travel(opened.open_at + timedelta(minutes=3), tick=False):
        assert client(one.user).post(f"/api/lots/{lot.pk}/opening/respond/", {"confirm": True}, format="json").status_code == 201
        assert (
            client(three.user).post(f"/api/lots/{lot.pk}/opening/respond/", {"confirm": True}, format="json").status_code == 201
        )
        response = client(two.user).post(f"/api/lots/{lot.pk}/opening/respond/", {"objection": "报价读错了"}, format="json")
        assert response.status_code == 201
        objection_id = response.json()["id"]
        before = state()
        response = client(one.user).post(f"/api/lots/{lot.pk}/opening/respond/", {"objection": "再说一次"}, format="json")
        assert (response.status_code, response.json()["code"]) == (409, "already_responded")
        response = client(one.user).post(
            f"/api/lots/{lot.pk}/opening/respond/", {"confirm": True, "objection": "x"}, format="json"
        )
        assert (response.status_code, response.json()["code"]) == (400, "invalid_response")
        assert state() == before
        response = client(parties.staff).post(
            f"/api/lots/{lot.pk}/opening/responses/{objection_id}/answer/", {"answer": "已核对，报价无误"}, format="json"
        )
        assert response.status_code == 200
    assert list(OpeningResponse.objects.order_by("bidder__name").values_list("bidder__name", "kind", "objection", "answer")) == [
        ("投标公司1", "confirm", "", ""),
        ("投标公司2", "objection", "报价读错了", "已核对，报价无误"),
        ("投标公司3", "confirm", "", ""),
    ]
    assert _lot_actions(lot, start_seq) == [  # one event per action; a second sign-in is none
        "opening.signed_in",
        "bid.decrypted",
        "bid.opened_file_stored",  # by the worker (inline here)
        "opening.signed_in",
        "bid.decrypted",
        "bid.opened_file_stored",
        "opening.signed_in",
        "bid.decrypted",
        "bid.opened_file_stored",
        "opening.decryption_closed",
        "opening.record_published",
        "opening.responded",
        "opening.responded",
        "opening.responded",
        "opening.objection_answered",
    ]
    published = AuditEvent.objects.get(action="opening.record_published")
    assert published.after["sha256"] == opening.record_sha256


@pytest.mark.django_db
def test_a_wrong_key_is_refused_changes_nothing_and_may_be_retried(parties, tmp_path):
    opened = open_lot(parties, tmp_path, count=3)
    one, two = opened.kits[:2]
    with time_machine.travel(opened.open_at, tick=False):
        before = state()
        response = decrypt(opened, one)
        assert (response.status_code, response.json()["code"]) == (403, "not_signed_in")
        assert state() == before
        sign_in(opened, one)
        before = state()
        for wrong in (os.urandom(32), opened.data_key(two)):
            response = decrypt(opened, one, wrong)
            assert (response.status_code, response.json()["code"]) == (400, "wrong_key")
            assert response.json()["message"]["en"].startswith("The data key does not match this bid")
        response = client(one.user).post(f"/api/bids/{opened.bid(one).pk}/decrypt/", {"data_key": "not base64!"}, format="json")
        assert (response.status_code, response.json()["code"]) == (400, "invalid_data_key")
        assert state() == before
        response = decrypt(opened, one)
        assert (response.status_code, response.json()["status"]) == (200, "decrypted")
        before = state()
        response = decrypt(opened, one)
        assert (response.status_code, response.json()["code"]) == (409, "already_decrypted")
        assert state() == before


@pytest.mark.django_db
def test_no_decryption_before_the_deadline_nor_after_the_window(parties, tmp_path):
    opened = open_lot(parties, tmp_path, count=3)
    one = opened.kits[0]
    bid = opened.bid(one)
    with time_machine.travel(opened.open_at, tick=False):
        sign_in(opened, one)
    with time_machine.travel(opened.opening.decryption_deadline, tick=False):
        before = state()
        response = decrypt(opened, one)
        assert (response.status_code, response.json()["code"]) == (409, "decryption_closed")
        assert state() == before
    assert Bid.objects.get(pk=bid.pk).status == "submitted"


@pytest.mark.django_db
def test_a_bid_not_decrypted_in_the_window_is_revoked_by_the_sweep(parties, tmp_path):
    opened = open_lot(parties, tmp_path, count=3)
    one, two, three = opened.kits
    deadline = opened.opening.decryption_deadline
    assert deadline == opened.lot.bid_deadline + timedelta(minutes=30)
    with time_machine.travel(opened.open_at, tick=False):
        sign_in(opened, one, two, three)
        for kit in (one, two):
            assert decrypt(opened, kit).status_code == 200
    with time_machine.travel(deadline - timedelta(microseconds=1), tick=False):
        before = state()
        services.sweep_deadlines()
        assert state() == before
    with time_machine.travel(deadline, tick=False):
        services.sweep_deadlines()
        after_first = state()
        services.sweep_deadlines()  # twice: nothing more
        assert state() == after_first
    late = opened.bid(three)
    assert (late.status, late.status_reason) == ("revoked", "解密时限内未解密，属投标人原因，投标文件被撤销")
    opening = opened.opening
    assert opening.decryption_closed_at == deadline
    assert [(r["bidder"], r["status"], r["price"]) for r in opening.record] == [
        ("投标公司1", "decrypted", "900001.00"),
        ("投标公司2", "decrypted", "900002.00"),
        ("投标公司3", "revoked", None),
    ]
    event = AuditEvent.objects.get(action="opening.decryption_closed")
    assert event.actor_id is None
    assert event.after == {"revoked": [str(late.pk)], "withdrawn": [], "decrypted": 2, "bids": 3, "rescue_key_destroyed": False}
    with time_machine.travel(deadline + timedelta(minutes=1), tick=False):
        before = state()
        response = decrypt(opened, three)
        assert (response.status_code, response.json()["code"]) == (409, "decryption_closed")
        assert state() == before


@pytest.mark.django_db
def test_staff_extend_the_window_for_a_platform_fault(parties, tmp_path):
    opened = open_lot(parties, tmp_path, count=3)
    lot, three = opened.lot, opened.kits[2]
    deadline = opened.opening.decryption_deadline
    until = deadline + timedelta(minutes=30)
    url = f"/api/lots/{lot.pk}/opening/extend/"
    with time_machine.travel(opened.open_at, tick=False):
        before = state()
        for user, body, expected in [
            (three.user, {"until": until.isoformat(), "reasons": "平台故障"}, (403, "role_not_allowed")),
            (parties.supervisor, {"until": until.isoformat(), "reasons": "平台故障"}, (403, "role_not_allowed")),
            (parties.staff, {"until": until.isoformat(), "reasons": "  "}, (400, "reasons_required")),
            (parties.staff, {"until": (deadline - timedelta(minutes=1)).isoformat(), "reasons": "x"}, (400, "invalid_extension")),
            (parties.staff, {"until": (deadline + timedelta(days=8)).isoformat(), "reasons": "x"}, (400, "invalid_extension")),
        ]:
            response = client(user).post(url, body, format="json")
            assert (response.status_code, response.json()["code"]) == expected, body
        assert state() == before
        response = client(parties.staff).post(url, {"until": until.isoformat(), "reasons": "CA 服务中断 20 分钟"}, format="json")
        assert response.status_code == 200
        assert response.json()["extensions"][0]["reasons"] == "CA 服务中断 20 分钟"
        # Early close is refused while bids are still sealed.
        before = state()
        response = client(parties.staff).post(f"/api/lots/{lot.pk}/opening/close-decryption/")
        assert (response.status_code, response.json()["code"]) == (409, "bids_pending")
        assert state() == before
    assert opened.opening.decryption_deadline == until
    with time_machine.travel(deadline, tick=False):
        services.sweep_deadlines()
        assert opened.opening.decryption_closed_at is None
    with time_machine.travel(deadline + timedelta(minutes=10), tick=False):
        sign_in(opened, three)
        assert decrypt(opened, three).status_code == 200
    with time_machine.travel(until, tick=False):
        services.sweep_deadlines()
    assert sorted(Bid.objects.filter(opening__lot=lot).values_list("status", flat=True)) == ["decrypted", "revoked", "revoked"]
    with time_machine.travel(until + timedelta(minutes=1), tick=False):
        before = state()
        response = client(parties.staff).post(
            url, {"until": (until + timedelta(hours=1)).isoformat(), "reasons": "x"}, format="json"
        )
        assert (response.status_code, response.json()["code"]) == (409, "decryption_closed")
        assert state() == before


def _to_unicode_chars(document: bytes) -> set[str]:
    """The characters the PDF's embedded font subsets map back to (their ToUnicode CMaps)."""
    chars = set()
    for match in re.finditer(rb"stream\r?\n(.*?)endstream", document, re.S):
        try:
            data = zlib.decompress(match.group(1))
        except zlib.error:
            data = match.group(1)
        if b"beginbfchar" in data:
            for code in re.findall(rb"<[0-9A-F]{2}> <([0-9A-F]{4})>", data):
                chars.add(chr(int(code, 16)))
    return chars


def _closed(parties, tmp_path):
    opened = open_lot(parties, tmp_path, count=3)
    with time_machine.travel(opened.open_at, tick=False):
        sign_in(opened)
        for kit in opened.kits[:2]:
            assert decrypt(opened, kit).status_code == 200
    with time_machine.travel(opened.opening.decryption_deadline, tick=False):
        services.sweep_deadlines()
    return opened


@pytest.mark.django_db
def test_the_record_pdf_embeds_a_chinese_font_subset_with_every_glyph(parties, tmp_path):
    opened = _closed(parties, tmp_path)
    with time_machine.travel(opened.opening.decryption_deadline + timedelta(minutes=1), tick=False):
        response = client(parties.staff).post(f"/api/lots/{opened.lot.pk}/opening/publish-record/")
        assert response.status_code == 200, response.json()
    document = stored(opened.opening.record_object_key)
    assert b"/FontFile2" in document  # the TrueType font program is embedded, not just named
    assert b"STSong" not in document
    mapped = _to_unicode_chars(document)
    texts = [opened.lot.name, "开标记录", "已解密", "已撤销", "合格", "统一交易标识码", opened.lot.project.tenderee.name]
    texts += [k.user.organisation.name for k in opened.kits]
    missing = {c for text in texts for c in text if not c.isspace() and c not in mapped}
    assert not missing
    (tmp_path / "record.pdf").write_bytes(document)


@pytest.mark.django_db
@pytest.mark.parametrize("case", ["missing", "not_truetype"])
def test_without_a_usable_cjk_font_publishing_fails_clearly_and_changes_nothing(parties, tmp_path, case):
    opened = _closed(parties, tmp_path)
    font = tmp_path / "nothing-here.ttc"
    if case == "not_truetype":
        font.write_bytes(b"OTTO" + b"\0" * 2000)  # an OpenType/CFF signature: reportlab cannot embed it
    with override_settings(PDF_CJK_FONT=str(font)), time_machine.travel(opened.opening.decryption_deadline, tick=False):
        before = state()
        response = client(parties.staff).post(f"/api/lots/{opened.lot.pk}/opening/publish-record/")
        expected = "pdf_font_missing" if case == "missing" else "pdf_font_invalid"
        assert (response.status_code, response.json()["code"]) == (503, expected)
        assert str(font) in response.json()["message"]["zh-hans"]
        assert state() == before


@pytest.mark.django_db
def test_the_record_is_published_once_and_only_after_decryption(parties, tmp_path):
    opened = open_lot(parties, tmp_path, count=3)
    url = f"/api/lots/{opened.lot.pk}/opening/publish-record/"
    with time_machine.travel(opened.open_at, tick=False):
        before = state()
        response = client(parties.staff).post(url)
        assert (response.status_code, response.json()["code"]) == (409, "decryption_open")
        response = client(opened.kits[0].user).post(
            f"/api/lots/{opened.lot.pk}/opening/respond/", {"confirm": True}, format="json"
        )
        assert (response.status_code, response.json()["code"]) == (409, "record_not_published")
        assert state() == before
    with time_machine.travel(opened.opening.decryption_deadline, tick=False):
        services.sweep_deadlines()
        assert client(parties.staff).post(url).status_code == 200
        before = state()
        response = client(parties.staff).post(url)
        assert (response.status_code, response.json()["code"]) == (409, "record_published")
        assert state() == before


@pytest.mark.django_db
def test_the_opening_json_is_read_with_ranged_reads_not_the_whole_file(parties, tmp_path):
    from bidding.services.opening import read_opening_summary

    store = get_store()
    plain = factories.bid_package("123456.78", extra=os.urandom(6 * 1024 * 1024))
    key = f"opened/test-{os.urandom(8).hex()}"
    store.put(key, io.BytesIO(plain), length=len(plain))

    class Counting:
        def __init__(self, inner):
            self.inner, self.bytes = inner, 0

        def iter_chunks(self, *args, **kwargs):
            for piece in self.inner.iter_chunks(*args, **kwargs):
                self.bytes += len(piece)
                yield piece

    counting = Counting(store)
    try:
        assert read_opening_summary(counting, key, len(plain)) == {"price": "123456.78", "duration_days": 365, "quality": "合格"}
    finally:
        store.delete(key)
    assert counting.bytes < 512 * 1024 < len(plain)


@pytest.mark.django_db
def test_pushes_go_to_the_bidders_of_the_opening_after_commit(parties, tmp_path, monkeypatch, django_capture_on_commit_callbacks):
    sent = _pushes(monkeypatch)
    opened = open_lot(parties, tmp_path, count=3)
    one = opened.kits[0]
    with time_machine.travel(opened.open_at, tick=False), django_capture_on_commit_callbacks(execute=True):
        sign_in(opened, one)
        assert decrypt(opened, one).status_code == 200
    assert (
        [f"org-{one.user.organisation_id}"],
        {"type": "bid_decrypted", "lot": opened.lot.pk, "bid": str(opened.bid(one).pk)},
    ) in sent
    assert json.dumps(sent, ensure_ascii=False).count("bid_decrypted") == 1
    assert opened.bid(one).plaintext_key in opened_objects()


@pytest.mark.django_db
def test_a_decryption_still_running_when_the_window_ends_is_waited_for(parties, tmp_path, monkeypatch):
    """The key came in time: the bid is not revoked because a large decryption outlasts the window."""
    from bidding.services import opening as opening_services

    opened = open_lot(parties, tmp_path, count=3)
    one = opened.kits[0]
    deadline = opened.opening.decryption_deadline
    real, during = opening_services.verify_stream, {}

    def outlasting_the_window(*args, **kwargs):
        result = real(*args, **kwargs)
        during["closed"] = opening_services.openings_sweep(now=deadline)  # the sweep runs meanwhile
        return result

    monkeypatch.setattr(opening_services, "verify_stream", outlasting_the_window)
    with time_machine.travel(deadline - timedelta(seconds=1), tick=False):
        sign_in(opened, one)
        response = decrypt(opened, one)
        assert response.status_code == 200, response.json()
    assert during == {"closed": 0}
    with time_machine.travel(deadline, tick=False):
        services.sweep_deadlines()
    assert opened.opening.decryption_closed_at == deadline
    assert [opened.bid(k).status for k in opened.kits] == ["decrypted", "revoked", "revoked"]


@pytest.mark.django_db
def test_a_decryption_that_never_finishes_counts_as_withdrawn_not_revoked(parties, tmp_path, monkeypatch):
    from bidding.services import opening as opening_services

    opened = open_lot(parties, tmp_path, count=3)
    one = opened.kits[0]
    deadline = opened.opening.decryption_deadline

    def worker_killed(*args, **kwargs):
        raise RuntimeError("worker killed mid-decryption")

    monkeypatch.setattr(opening_services, "verify_stream", worker_killed)
    with time_machine.travel(deadline - timedelta(minutes=1), tick=False):
        sign_in(opened, one)
        with pytest.raises(RuntimeError):
            decrypt(opened, one)
    assert (opened.bid(one).status, opened.bid(one).key_accepted_at) == ("submitted", deadline - timedelta(minutes=1))
    with time_machine.travel(deadline, tick=False):
        before = state()
        services.sweep_deadlines()
        response = client(parties.staff).post(f"/api/lots/{opened.lot.pk}/opening/close-decryption/")
        assert (response.status_code, response.json()["code"]) == (409, "decryption_in_progress")
        assert state() == before
    with time_machine.travel(deadline + timedelta(minutes=10), tick=False):
        services.sweep_deadlines()
    lost = opened.bid(one)
    assert (lost.status, lost.status_reason) == (
        "withdrawn",
        "数据密钥已按时提交，平台未能完成解密，非投标人原因，视为撤回投标文件",
    )
    event = AuditEvent.objects.get(action="opening.decryption_closed")
    assert event.after["withdrawn"] == [str(lost.pk)]
    assert len(event.after["revoked"]) == 2
