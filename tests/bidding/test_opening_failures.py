"""A bid that does not decrypt is refused and decided by fault (电子办法): still what the receipt says → the bidder
sealed a bad file → revoked (撤销); no longer what the receipt says → the platform damaged it → withdrawn (撤回).
The others continue either way, and no partial plaintext is left behind.

A bidder cannot submit a truncated envelope (the upload's length check refuses it), so truncation is only ever
the platform's doing here; a flipped byte, swapped chunks or an envelope sealed for another lot can be either's."""

import io
import struct

import pytest
import time_machine
from django.test import override_settings

from audit.models import AuditEvent
from bidding import envelope
from bidding.models import Bid, BidderKey
from tests import factories
from tests.bidding.opening_kit import CHUNK, ISSUED, decrypt, open_lot, opened_objects, overwrite, sign_in, state, stored
from trading import services
from trading.objectstore import get_store

PADDING = {"bidder1": bytes(range(256)) * 800}  # ~200 KiB: four chunks of 64 KiB
SMALL_CHUNKS = {"bidder1": {"chunk_size": CHUNK}}


def _header_length(data: bytes) -> int:
    return 12 + struct.unpack(">I", data[8:12])[0]


def flip(data: bytes) -> bytes:
    at = _header_length(data) + 100
    return data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :]


def drop_last_chunk(data: bytes) -> bytes:
    body = len(data) - _header_length(data)
    last = body % (CHUNK + 16) or CHUNK + 16
    return data[:-last]


def swap_chunks(data: bytes) -> bytes:
    start, size = _header_length(data), CHUNK + 16
    one, two = data[start + size : start + 2 * size], data[start + 2 * size : start + 3 * size]
    return data[: start + size] + two + one + data[start + 3 * size :]


def change_header(data: bytes) -> bytes:
    """A header that still parses (canonical JSON, valid base64), but is not the one submitted."""
    at = data.index(b'"nonce_prefix":"') + len(b'"nonce_prefix":"')
    return data[:at] + (b"B" if data[at : at + 1] != b"B" else b"C") + data[at + 1 :]


STORE_CASES = {
    "flipped_byte": (flip, "tampered"),
    "last_chunk_dropped": (drop_last_chunk, "truncated"),
    "chunks_swapped": (swap_chunks, "tampered"),
    "header_changed": (change_header, "tampered"),
    "object_deleted": (None, "missing"),
}


def _decided(opened, kit, response, *, code: str, status: str, fault: str, before: dict) -> None:
    body = response.json()
    assert (response.status_code, body["code"], body["bid_status"], body["fault"]) == (422, code, status, fault)
    bid = opened.bid(kit)
    assert (bid.status, bid.plaintext_key, bid.decrypted_at) == (status, "", None)
    assert ("属投标人原因" if fault == "bidder" else "非投标人原因") in bid.status_reason
    assert opened_objects() == before["opened"]  # the partial plaintext is gone
    [event] = AuditEvent.objects.filter(seq__gt=before["audit_seq"])
    assert (event.action, event.actor_id) == ("bid.decryption_failed", kit.user.pk)
    assert event.after == {"bidder": kit.user.organisation_id, "code": code, "via": "bidder", "status": status, "fault": fault}


def _others_continue(opened, failed_kit) -> None:
    for kit in opened.kits:
        if kit is not failed_kit:
            response = decrypt(opened, kit)
            assert response.status_code == 200, response.json()
            assert stored(opened.bid(kit).plaintext_key) == opened.plain[kit.user.username]


def _last_seq() -> int:
    return AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()


@pytest.mark.django_db
@pytest.mark.parametrize("case", sorted(STORE_CASES))
def test_a_bid_damaged_in_the_store_is_withdrawn_and_the_others_continue(parties, tmp_path, case):
    opened = open_lot(parties, tmp_path, count=3, seal_kw=SMALL_CHUNKS, extra=PADDING)
    one = opened.kits[0]
    bid = opened.bid(one)
    data_key = opened.data_key(one)  # from the bidder's own, intact copy
    original = stored(bid.object_key)
    assert envelope.read_header(io.BytesIO(original).read).chunk_count == 4
    spoil, code = STORE_CASES[case]
    if spoil is None:
        get_store().delete(bid.object_key)
    else:
        overwrite(bid.object_key, spoil(original))
    with time_machine.travel(opened.open_at, tick=False):
        sign_in(opened)
        before = {**state(), "audit_seq": _last_seq()}
        response = decrypt(opened, one, data_key)
        _decided(opened, one, response, code=code, status="withdrawn", fault="platform", before=before)
        # Decided once: trying again changes nothing.
        before = state()
        response = decrypt(opened, one, data_key)
        assert (response.status_code, response.json()["code"]) == (409, "not_decryptable")
        assert state() == before
        _others_continue(opened, one)
    with time_machine.travel(opened.opening.decryption_deadline, tick=False):
        services.sweep_deadlines()
    row = next(r for r in opened.opening.record if r["bid"] == str(bid.pk))
    assert (row["status"], row["status_label"], row["price"]) == ("withdrawn", "已撤回", None)
    assert "非投标人原因" in row["note"]


BIDDER_CASES = {"flipped_byte": (flip, "tampered"), "chunks_swapped": (swap_chunks, "tampered")}


@pytest.mark.django_db
@pytest.mark.parametrize("case", sorted(BIDDER_CASES))
def test_a_bid_the_bidder_sealed_badly_is_revoked_and_the_others_continue(parties, tmp_path, case):
    spoil, code = BIDDER_CASES[case]
    opened = open_lot(parties, tmp_path, count=3, seal_kw=SMALL_CHUNKS, extra=PADDING, tamper={"bidder1": spoil})
    one = opened.kits[0]
    # What is stored is exactly what the bidder uploaded (and what its receipt says).
    assert stored(opened.bid(one).object_key) == opened.sealed["bidder1"].read_bytes()
    with time_machine.travel(opened.open_at, tick=False):
        sign_in(opened)
        before = {**state(), "audit_seq": _last_seq()}
        response = decrypt(opened, one)
        _decided(opened, one, response, code=code, status="revoked", fault="bidder", before=before)
        _others_continue(opened, one)


@pytest.mark.django_db
def test_a_bid_sealed_for_another_lot_is_revoked_at_opening(parties, tmp_path):
    """The header names no lot (法22), so the upload cannot tell; the binding proves it once the key is known."""
    other = factories.lot(parties, stage="published", issued=ISSUED)
    bidder = parties.bidders[0]

    def seal_for_the_other_lot(data: bytes) -> bytes:
        source, target = tmp_path / "other.zip", tmp_path / "other.sealed"
        source.write_bytes(factories.bid_package("1.00"))
        public_key = bytes(BidderKey.objects.get(organisation=bidder.organisation).public_key)
        envelope.seal_file(
            source, target, lot=other.transaction_code, bidder=bidder.organisation.credit_code, bidder_public_key=public_key
        )
        return target.read_bytes()

    opened = open_lot(parties, tmp_path, count=3, tamper={"bidder1": seal_for_the_other_lot})
    one = opened.kits[0]
    with open(opened.sealed["bidder1"], "rb") as f:
        header = envelope.read_header(f.read)
    credit_code = one.user.organisation.credit_code
    with pytest.raises(envelope.EnvelopeError) as error:  # the bidder cannot even unwrap it for this lot
        envelope.unwrap_key(header, one.private_key, lot=opened.lot.transaction_code, bidder=credit_code)
    assert error.value.code == "no_recipient"
    data_key = envelope.unwrap_key(header, one.private_key, lot=other.transaction_code, bidder=credit_code)
    with time_machine.travel(opened.open_at, tick=False):
        sign_in(opened)
        before = {**state(), "audit_seq": _last_seq()}
        response = decrypt(opened, one, data_key)
        _decided(opened, one, response, code="wrong_envelope", status="revoked", fault="bidder", before=before)
        _others_continue(opened, one)


@pytest.mark.django_db
def test_the_store_down_during_decryption_is_a_503_that_changes_nothing(parties, tmp_path):
    opened = open_lot(parties, tmp_path, count=3)
    one = opened.kits[0]
    with time_machine.travel(opened.open_at, tick=False):
        sign_in(opened, one)
        data_key = opened.data_key(one)
        before = state()
        with override_settings(S3_ENDPOINT="127.0.0.1:1"):
            response = decrypt(opened, one, data_key)
        assert (response.status_code, response.json()["code"]) == (503, "store_unavailable")
        assert state() == before
        assert decrypt(opened, one, data_key).status_code == 200  # the bidder tries again once the store is back
    assert Bid.objects.get(pk=opened.bid(one).pk).status == "decrypted"


@pytest.mark.django_db
def test_the_store_failing_in_the_middle_of_the_verification_is_a_503_and_decides_nothing(parties, tmp_path, monkeypatch):
    from trading.objectstore import StoreUnavailable

    opened = open_lot(parties, tmp_path, count=3, extra=PADDING, seal_kw=SMALL_CHUNKS)
    one = opened.kits[0]
    store = get_store()
    real_open = type(store).open_reader

    def flaky_open(self, key):
        reader = real_open(self, key)
        real_readinto, served = reader.readinto, [0]

        def readinto(buffer):
            if served[0] > 100_000:  # past the header and a chunk or so
                raise StoreUnavailable("connection reset")
            n = real_readinto(buffer)
            served[0] += n
            return n

        reader.readinto = readinto
        return reader

    monkeypatch.setattr(type(store), "open_reader", flaky_open)
    with time_machine.travel(opened.open_at, tick=False):
        sign_in(opened, one)
        response = decrypt(opened, one)
        assert (response.status_code, response.json()["code"]) == (503, "store_unavailable")
        assert opened.bid(one).status == "submitted"  # neither revoked nor withdrawn: nobody's fault is decided
        monkeypatch.undo()
        assert decrypt(opened, one).status_code == 200
