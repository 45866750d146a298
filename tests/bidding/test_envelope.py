"""The sealed-bid envelope (bidding/envelope.py) against docs/sealed-bid-format.md and its vectors."""

import ast
import hashlib
import hmac
import io
import itertools
import json
import os
import struct
import tracemalloc
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from bidding import envelope, shamir, vectors
from bidding.envelope import EnvelopeError

ROOT = Path(__file__).resolve().parents[2]
VECTORS = json.loads((ROOT / "docs" / "sealed-bid-vectors.json").read_text(encoding="utf-8"))
CASES = {case["name"]: case for case in VECTORS["cases"]}
LOT, OTHER_LOT, BIDDER = vectors.LOT, vectors.OTHER_LOT, vectors.BIDDER
CHUNK = 1 << 16


@pytest.fixture(scope="module")
def bidder_key():
    return envelope.generate_key_pair()


@pytest.fixture(scope="module")
def rescue_key():
    return envelope.generate_key_pair()


def irregular(data: bytes):
    """Pieces of awkward sizes, empty ones included."""
    sizes = itertools.cycle([1, 7, 65537, 0, 3, 100000, 16, 17])
    view = memoryview(data)
    at = 0
    while at < len(data):
        n = next(sizes)
        yield view[at : at + n]
        at += n


def seal(plaintext: bytes, public_key: bytes, **kw) -> bytes:
    kw = {"lot": LOT, "bidder": BIDDER, "chunk_size": CHUNK, **kw}
    return b"".join(envelope.seal(irregular(plaintext), size=len(plaintext), bidder_public_key=public_key, **kw))


def header_of(sealed: bytes) -> envelope.Header:
    return envelope.read_header(io.BytesIO(sealed).read)


def unwrap(header: envelope.Header, private_key, lot: str = LOT, bidder: str = BIDDER) -> bytes:
    return envelope.unwrap_key(header, private_key, lot=lot, bidder=bidder)


def open_all(sealed: bytes, data_key: bytes) -> bytes:
    """The plaintext; verify_envelope (what the opening runs) must reach the same verdict without keeping it."""
    try:
        verdict = envelope.verify_envelope(irregular(sealed), data_key)[1]
    except envelope.EnvelopeError as error:
        verdict = error.code
    try:
        _, chunks = envelope.open_envelope(irregular(sealed), data_key)
        plaintext = b"".join(chunks)
    except envelope.EnvelopeError as error:
        assert verdict == error.code
        raise
    assert verdict == len(plaintext)
    return plaintext


def with_fields(sealed: bytes, **changes) -> bytes:
    """The envelope with its header rewritten (canonically) with these fields; the chunks unchanged."""
    header = header_of(sealed)
    fields = {**json.loads(header.raw[12:]), **changes}
    body = envelope.canonical_json(fields)
    return envelope.MAGIC + struct.pack(">I", len(body)) + body + sealed[len(header.raw) :]


def apply_patch(base: bytes, patch: dict) -> bytes:
    return base[: patch["offset"]] + bytes.fromhex(patch["insert"]) + base[patch["offset"] + patch["remove"] :]


def pkcs8(hex_der: str) -> ec.EllipticCurvePrivateKey:
    return envelope.import_private_key(bytes.fromhex(hex_der))


def expect_code(code: str, action) -> EnvelopeError:
    with pytest.raises(EnvelopeError) as caught:
        action()
    assert caught.value.code == code, caught.value
    return caught.value


# Round trips ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK + 123])
def test_round_trip(size, bidder_key):
    private_key, public_key = bidder_key
    plaintext = os.urandom(size)
    parts = list(
        envelope.seal(irregular(plaintext), size=size, lot=LOT, bidder=BIDDER, bidder_public_key=public_key, chunk_size=CHUNK)
    )
    sealed = b"".join(parts)

    header = header_of(sealed)
    count = max(1, -(-size // CHUNK))
    assert (header.size, header.chunk_size, header.chunk_count) == (size, CHUNK, count)
    assert len(parts) == 1 + count and parts[0] == header.raw
    assert header.envelope_size == len(sealed) == len(header.raw) + size + 16 * count
    assert header.digest == hashlib.sha256(header.raw).digest()
    assert [r.type for r in header.recipients] == ["bidder"]

    data_key = unwrap(header, private_key)
    envelope.check_binding(header, data_key, LOT, BIDDER)
    opened_header, chunks = envelope.open_envelope(irregular(sealed), data_key)
    chunks = list(chunks)
    assert opened_header == header
    assert b"".join(chunks) == plaintext
    assert [len(c) for c in chunks] == [CHUNK] * (count - 1) + [size - (count - 1) * CHUNK]


def test_round_trip_with_the_default_chunk_size_and_aligned_pieces(bidder_key, rescue_key):
    private_key, public_key = bidder_key
    plaintext = os.urandom(3 * (1 << 20) + 5)
    pieces = [plaintext[i : i + (1 << 20)] for i in range(0, len(plaintext), 1 << 20)]
    sealed = b"".join(
        envelope.seal(
            pieces, size=len(plaintext), lot=LOT, bidder=BIDDER, bidder_public_key=public_key, rescue_public_key=rescue_key[1]
        )
    )
    header = header_of(sealed)
    assert header.chunk_size == 1 << 20 and header.chunk_count == 4
    assert [r.type for r in header.recipients] == ["bidder", "rescue"]
    assert unwrap(header, private_key) == unwrap(header, rescue_key[0])
    assert open_all(sealed, unwrap(header, private_key)) == plaintext


def test_two_seals_of_the_same_bid_differ(bidder_key):
    plaintext = b"bid" * 1000
    one, two = seal(plaintext, bidder_key[1]), seal(plaintext, bidder_key[1])
    assert one != two
    assert header_of(one).nonce_prefix != header_of(two).nonce_prefix


def test_seal_file(tmp_path, bidder_key):
    source, target = tmp_path / "bid.zip", tmp_path / "bid.sealed"
    plaintext = os.urandom(3 * CHUNK + 9)
    source.write_bytes(plaintext)
    header = envelope.seal_file(source, target, lot=LOT, bidder=BIDDER, bidder_public_key=bidder_key[1], chunk_size=CHUNK)
    sealed = target.read_bytes()
    assert header == header_of(sealed) and header.envelope_size == len(sealed)
    assert open_all(sealed, unwrap(header, bidder_key[0])) == plaintext


def test_seal_file_removes_its_output_when_sealing_fails(tmp_path, bidder_key):
    source, target = tmp_path / "bid.zip", tmp_path / "bid.sealed"
    source.write_bytes(b"x")
    with pytest.raises(ValueError):
        envelope.seal_file(source, target, lot="bad", bidder=BIDDER, bidder_public_key=bidder_key[1])
    assert not target.exists()


# Test vectors -----------------------------------------------------------------------------------------------------


def test_the_vectors_file_is_what_bidding_vectors_writes():
    assert (ROOT / "docs" / "sealed-bid-vectors.json").read_text(encoding="utf-8") == vectors.render()


@pytest.mark.parametrize("name", list(CASES))
def test_vector_seals_byte_for_byte(name):
    case = CASES[name]
    plaintext = bytes.fromhex(case["plaintext"])
    sealed = b"".join(
        envelope.seal(
            irregular(plaintext),
            size=case["size"],
            lot=case["lot"],
            bidder=case["bidder"],
            bidder_public_key=bytes.fromhex(case["bidder_public_key_spki"]),
            rescue_public_key=bytes.fromhex(case["rescue_public_key_spki"]) if case["rescue_public_key_spki"] else None,
            chunk_size=case["chunk_size"],
            _data_key=bytes.fromhex(case["data_key"]),
            _nonce_prefix=bytes.fromhex(case["nonce_prefix"]),
            _ephemeral=[pkcs8(e) for e in case["ephemeral_private_keys_pkcs8"]],
            _ivs=[bytes.fromhex(iv) for iv in case["ivs"]],
        )
    )
    assert sealed.hex() == case["envelope"]
    assert hashlib.sha256(sealed).hexdigest() == case["envelope_sha256"]
    assert len(sealed) == case["envelope_size"]


@pytest.mark.parametrize("name", list(CASES))
def test_vector_opens(name):
    case = CASES[name]
    sealed = bytes.fromhex(case["envelope"])
    header = header_of(sealed)
    assert header.raw[12:].decode() == case["header"] and len(header.raw) == case["header_length"]
    assert envelope.key_id(bytes.fromhex(case["bidder_public_key_spki"])) == case["bidder_kid"]
    if case["rescue_public_key_spki"]:
        assert envelope.key_id(bytes.fromhex(case["rescue_public_key_spki"])) == case["rescue_kid"]
    assert header.binding.hex() == case["binding"]
    assert unwrap(header, pkcs8(case["bidder_private_key_pkcs8"]), case["lot"], case["bidder"]).hex() == case["data_key"]
    if case["rescue_private_key_pkcs8"]:
        assert unwrap(header, pkcs8(case["rescue_private_key_pkcs8"]), case["lot"], case["bidder"]).hex() == case["data_key"]
    envelope.check_binding(header, bytes.fromhex(case["data_key"]), case["lot"], case["bidder"])
    assert open_all(sealed, bytes.fromhex(case["data_key"])).hex() == case["plaintext"]


@pytest.mark.parametrize("negative", VECTORS["negative"], ids=[n["name"] for n in VECTORS["negative"]])
def test_negative_vector(negative):
    sealed = apply_patch(bytes.fromhex(CASES[negative["case"]]["envelope"]), negative["patch"])
    assert hashlib.sha256(sealed).hexdigest() == negative["envelope_sha256"]

    def open_it():
        header = header_of(sealed)
        lot, bidder = negative["lot"], negative["bidder"]
        if "private_key_pkcs8" in negative["open_with"]:
            data_key = unwrap(header, pkcs8(negative["open_with"]["private_key_pkcs8"]), lot, bidder)
        else:
            data_key = bytes.fromhex(negative["open_with"]["data_key"])
        envelope.check_binding(header, data_key, lot, bidder)
        return header, data_key

    def decrypt_it():
        header, data_key = open_it()
        for _ in envelope.decrypt_chunks(header, data_key, irregular(sealed[len(header.raw) :])):
            pass

    def verify_it():
        header, data_key = open_it()
        envelope.verify_chunks(header, data_key, irregular(sealed[len(header.raw) :]))

    for attempt in (decrypt_it, verify_it):
        error = expect_code(negative["expect"], attempt)
        assert (error.zh, error.en) == envelope._MESSAGES[negative["expect"]]


def test_the_negative_vectors_cover_every_code():
    assert {n["expect"] for n in VECTORS["negative"]} == set(envelope._MESSAGES)
    assert set(envelope._MESSAGES) == {"not_sealed", "wrong_key", "tampered", "truncated", "no_recipient", "wrong_envelope"}


# Attacks ----------------------------------------------------------------------------------------------------------


def test_a_tampered_chunk_stops_the_stream_there(bidder_key):
    plaintext = os.urandom(4 * CHUNK)
    sealed = bytearray(seal(plaintext, bidder_key[1]))
    header = header_of(bytes(sealed))
    sealed[len(header.raw) + 2 * (CHUNK + 16) + 5] ^= 0x80  # chunk 2
    chunks = envelope.decrypt_chunks(header, unwrap(header, bidder_key[0]), [bytes(sealed[len(header.raw) :])])
    assert [next(chunks), next(chunks)] == [plaintext[:CHUNK], plaintext[CHUNK : 2 * CHUNK]]  # authentic so far
    error = expect_code("tampered", lambda: next(chunks))
    assert error.detail == "chunk 2 fails authentication"


def test_splicing_a_chunk_from_another_envelope_under_the_same_data_key_fails(bidder_key):
    data_key = os.urandom(32)
    one = b"".join(
        envelope.seal(
            [os.urandom(3 * CHUNK)],
            size=3 * CHUNK,
            lot=LOT,
            bidder=BIDDER,
            bidder_public_key=bidder_key[1],
            chunk_size=CHUNK,
            _data_key=data_key,
        )
    )
    two = b"".join(
        envelope.seal(
            [os.urandom(3 * CHUNK)],
            size=3 * CHUNK,
            lot=LOT,
            bidder=BIDDER,
            bidder_public_key=bidder_key[1],
            chunk_size=CHUNK,
            _data_key=data_key,
        )
    )
    # Same nonce prefix too, another lot: only the header differs.
    prefix = header_of(one).nonce_prefix
    three = b"".join(
        envelope.seal(
            [os.urandom(3 * CHUNK)],
            size=3 * CHUNK,
            lot=OTHER_LOT,
            bidder=BIDDER,
            bidder_public_key=bidder_key[1],
            chunk_size=CHUNK,
            _data_key=data_key,
            _nonce_prefix=prefix,
        )
    )
    start, full = len(header_of(one).raw), CHUNK + 16
    for other in (two, three):
        other_start = len(header_of(other).raw)
        spliced = one[: start + full] + other[other_start + full : other_start + 2 * full] + one[start + 2 * full :]
        assert len(spliced) == len(one)
        error = expect_code("tampered", lambda spliced=spliced: open_all(spliced, data_key))
        assert error.detail == "chunk 1 fails authentication"


def test_truncation_at_every_chunk_boundary_and_inside_chunks_is_detected(bidder_key):
    sealed = seal(os.urandom(3 * CHUNK + 100), bidder_key[1])
    header = header_of(sealed)
    data_key = unwrap(header, bidder_key[0])
    start = len(header.raw)
    for end in [start, start + 1, start + CHUNK + 16, start + CHUNK + 17, start + 3 * (CHUNK + 16), len(sealed) - 1]:
        expect_code("truncated", lambda end=end: open_all(sealed[:end], data_key))
    expect_code("truncated", lambda: open_all(sealed + b"\x00", data_key))
    expect_code("truncated", lambda: open_all(sealed + sealed[start:], data_key))
    for end in [0, 7]:
        expect_code("not_sealed", lambda end=end: header_of(sealed[:end]))
    for end in [8, 11, 12, start - 1]:
        expect_code("truncated", lambda end=end: header_of(sealed[:end]))


def test_a_changed_header_fails_every_chunk(bidder_key, rescue_key):
    plaintext = os.urandom(2 * CHUNK)
    sealed = seal(plaintext, bidder_key[1], rescue_public_key=rescue_key[1])
    header = header_of(sealed)
    data_key = unwrap(header, bidder_key[0])
    stranger = envelope.generate_key_pair()
    swapped = envelope.wrap_key(data_key, envelope.load_public_key(stranger[1]), type_="rescue", lot=LOT, bidder=BIDDER)
    relabelled = envelope.binding(data_key, header.nonce_prefix, OTHER_LOT, BIDDER)  # only the key's holders can
    changed = [
        with_fields(sealed, binding=envelope._b64(relabelled)),  # relabelled for another lot
        with_fields(sealed, recipients=[header.recipients[0].to_json(), swapped.to_json()]),  # rescue recipient swapped
        with_fields(sealed, recipients=[header.recipients[0].to_json()]),  # rescue recipient removed
    ]
    for forged in changed:
        forged_header = header_of(forged)
        assert forged_header.nonce_prefix == header.nonce_prefix and forged_header.commitment == header.commitment
        envelope.check_key(forged_header, data_key)  # the key still matches: only the chunks can tell
        _, chunks = envelope.open_envelope([forged], data_key)
        error = expect_code("tampered", lambda chunks=chunks: next(chunks))  # nothing comes out
        assert error.detail == "chunk 0 fails authentication"
    # The platform's stranger key opens the swapped recipient, but the chunks refuse the header it is in.
    assert unwrap(header_of(changed[1]), stranger[0]) == data_key
    envelope.check_binding(header_of(changed[0]), data_key, OTHER_LOT, BIDDER)  # the relabelled binding checks...
    expect_code("tampered", lambda: open_all(changed[0], data_key))  # ...but the chunks refuse it
    # The wrapped keys are bound to lot and bidder: unwrapped for another lot or bidder, none opens.
    expect_code("no_recipient", lambda: unwrap(header, bidder_key[0], OTHER_LOT))
    expect_code("no_recipient", lambda: unwrap(header, rescue_key[0], LOT, vectors.OTHER_BIDDER))


def test_a_wrong_key_is_refused_before_any_decryption(bidder_key):
    sealed = seal(os.urandom(CHUNK), bidder_key[1])
    header = header_of(sealed)
    touched = []

    def body():
        touched.append(True)
        yield sealed[len(header.raw) :]

    for wrong in [os.urandom(32), b"", unwrap(header, bidder_key[0])[:31]]:
        expect_code("wrong_key", lambda wrong=wrong: envelope.decrypt_chunks(header, wrong, body()))
        expect_code("wrong_key", lambda wrong=wrong: envelope.check_key(header, wrong))
        expect_code("wrong_key", lambda wrong=wrong: envelope.open_envelope([sealed], wrong))
    assert touched == []


def test_a_recipient_that_wraps_another_key_fails_the_commitment(bidder_key, rescue_key):
    """A bidder could wrap another key for the rescue recipient, to open differently under each: refused."""
    sealed = seal(os.urandom(100), bidder_key[1], rescue_public_key=rescue_key[1])
    header = header_of(sealed)
    forked = envelope.wrap_key(os.urandom(32), envelope.load_public_key(rescue_key[1]), type_="rescue", lot=LOT, bidder=BIDDER)
    forged = header_of(with_fields(sealed, recipients=[header.recipients[0].to_json(), forked.to_json()]))
    error = expect_code("wrong_key", lambda: unwrap(forged, rescue_key[0]))
    assert error.detail == "the data key does not match the commitment"
    assert len(unwrap(forged, bidder_key[0])) == 32


def test_unwrap_with_a_key_that_is_no_recipient(bidder_key, rescue_key):
    header = header_of(seal(b"x", bidder_key[1]))
    expect_code("no_recipient", lambda: unwrap(header, envelope.generate_key_pair()[0]))
    expect_code("no_recipient", lambda: unwrap(header, rescue_key[0]))  # a rescue key, but not in this envelope
    error = expect_code("no_recipient", lambda: unwrap(header, bidder_key[0], OTHER_LOT))
    assert "kid" not in error.detail and LOT not in str(error)


def test_unwrap_tries_each_recipient_the_bidder_first(bidder_key, rescue_key, monkeypatch):
    header = header_of(seal(b"x", bidder_key[1], rescue_public_key=rescue_key[1]))
    tried = []
    real = envelope._kek
    monkeypatch.setattr(envelope, "_kek", lambda shared, epk, point: tried.append(epk) or real(shared, epk, point))
    data_key = unwrap(header, rescue_key[0])
    assert tried == [header.recipients[0].epk, header.recipients[1].epk]
    tried.clear()
    assert unwrap(header, bidder_key[0]) == data_key
    assert tried == [header.recipients[0].epk]
    with pytest.raises(ValueError, match="P-256"):
        envelope.unwrap_key(header, ec.generate_private_key(ec.SECP384R1()), lot=LOT, bidder=BIDDER)
    with pytest.raises(TypeError):
        envelope.unwrap_key(header, bidder_key[0])  # lot and bidder are required: the wrap is bound to them


# Binding to lot and bidder ----------------------------------------------------------------------------------------


def test_check_binding(bidder_key):
    header = header_of(seal(b"bid", bidder_key[1]))
    data_key = unwrap(header, bidder_key[0])
    assert envelope.check_binding(header, data_key, LOT, BIDDER) is None
    assert header.binding == envelope.binding(data_key, header.nonce_prefix, LOT, BIDDER)
    assert (
        header.binding
        == hmac.new(
            data_key, b"trading-sealed-bid/v1/binding" + header.nonce_prefix + LOT.encode() + b"\x1f" + BIDDER.encode(), "sha256"
        ).digest()
    )
    for lot, bidder in [(OTHER_LOT, BIDDER), (LOT, vectors.OTHER_BIDDER), (OTHER_LOT, vectors.OTHER_BIDDER), (BIDDER, LOT)]:
        error = expect_code(
            "wrong_envelope", lambda lot=lot, bidder=bidder: envelope.check_binding(header, data_key, lot, bidder)
        )
        assert (error.zh, error.en) == envelope._MESSAGES["wrong_envelope"]
    # A wrong key is a wrong key, not another lot: the commitment is checked first.
    for wrong in [os.urandom(32), data_key[:31], b""]:
        expect_code("wrong_key", lambda wrong=wrong: envelope.check_binding(header, wrong, LOT, BIDDER))
    with pytest.raises(ValueError):
        envelope.check_binding(header, data_key, LOT.encode(), BIDDER)


def test_a_binding_inconsistent_with_the_wrap_is_refused_at_unwrap(bidder_key):
    """An envelope whose key is wrapped for one lot but bound to another: unwrap_key does not return its key."""
    data_key, prefix = os.urandom(32), os.urandom(7)
    sealed = b"".join(
        envelope.seal(
            [b"bid"], size=3, lot=LOT, bidder=BIDDER, bidder_public_key=bidder_key[1], _data_key=data_key, _nonce_prefix=prefix
        )
    )
    forged = with_fields(sealed, binding=envelope._b64(envelope.binding(data_key, prefix, OTHER_LOT, BIDDER)))
    expect_code("wrong_envelope", lambda: unwrap(header_of(forged), bidder_key[0]))
    expect_code("no_recipient", lambda: unwrap(header_of(forged), bidder_key[0], OTHER_LOT))
    expect_code("tampered", lambda: open_all(forged, data_key))


# Rescue key from Shamir shares ------------------------------------------------------------------------------------


def test_the_rescue_key_rebuilt_from_k_shares_unwraps_and_k_minus_1_do_not(bidder_key):
    rescue_private, rescue_public = envelope.generate_key_pair()
    shares = [shamir.encode_share(s) for s in shamir.split(envelope.scalar_of(rescue_private), 3, 5)]
    del rescue_private  # the ceremony destroys it: only the shares remain
    plaintext = os.urandom(CHUNK + 1)
    sealed = seal(plaintext, bidder_key[1], rescue_public_key=rescue_public)
    header = header_of(sealed)
    data_key = unwrap(header, bidder_key[0])

    for chosen in itertools.combinations(shares, 3):
        rebuilt = envelope.private_key_from_scalar(shamir.combine([shamir.decode_share(s) for s in chosen]))
        assert envelope.public_key_der(rebuilt.public_key()) == rescue_public
        assert unwrap(header, rebuilt) == data_key
    assert open_all(sealed, data_key) == plaintext

    for chosen in itertools.combinations(shares, 2):
        scalar = shamir.combine([shamir.decode_share(s) for s in chosen])
        rebuilt = envelope.private_key_from_scalar(scalar)  # in range but another key (out of range: p < 2^-128)
        assert envelope.public_key_der(rebuilt.public_key()) != rescue_public
        expect_code("no_recipient", lambda rebuilt=rebuilt: unwrap(header, rebuilt))


# Memory -----------------------------------------------------------------------------------------------------------


def test_seal_and_decrypt_64_mib_in_constant_memory(bidder_key):
    size = 64 << 20
    block = memoryview(os.urandom(2 << 20))
    sizes = [300_001, 1, 777_777, 65_536, 1 << 20]

    def plaintext():
        sent = 0
        for n in itertools.cycle(sizes):
            if sent == size:
                return
            n = min(n, size - sent)
            yield block[sent % (1 << 20) :][:n]
            sent += n

    expected = hashlib.sha256()
    for piece in plaintext():
        expected.update(piece)

    tracemalloc.start()
    try:
        sealed = envelope.seal(plaintext(), size=size, lot=LOT, bidder=BIDDER, bidder_public_key=bidder_key[1])
        first = next(sealed)
        data_key = unwrap(header_of(first), bidder_key[0])
        header, chunks = envelope.open_envelope(itertools.chain([first], sealed), data_key)
        got = hashlib.sha256()
        total = 0
        for chunk in chunks:
            got.update(chunk)
            total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert header.size == total == size and header.chunk_count == 64
    assert got.digest() == expected.digest()
    assert peak < 8 << 20, f"peak {peak / (1 << 20):.1f} MiB"


# Refusals ---------------------------------------------------------------------------------------------------------


def _valid_fields(bidder_key, rescue_key) -> tuple[bytes, dict]:
    sealed = seal(b"", bidder_key[1], rescue_public_key=rescue_key[1])
    return sealed, json.loads(header_of(sealed).raw[12:])


def _raw(body: bytes) -> bytes:
    return envelope.MAGIC + struct.pack(">I", len(body)) + body


def _recipients(fields, change):
    recipients = [dict(r) for r in fields["recipients"]]
    change(recipients)
    return {**fields, "recipients": recipients}


HEADER_REFUSALS = {
    "unknown field": lambda f: {**f, "note": "x"},
    "missing field": lambda f: {k: v for k, v in f.items() if k != "commitment"},
    "other format": lambda f: {**f, "format": "trading-sealed"},
    "version 2": lambda f: {**f, "version": 2},
    "version true": lambda f: {**f, "version": True},
    "size float": lambda f: {**f, "size": 0.0},
    "size negative": lambda f: {**f, "size": -1},
    "size beyond 2^53": lambda f: {**f, "size": 1 << 53},
    "chunk_size not a power of two": lambda f: {**f, "chunk_size": 65536 + 1},
    "chunk_size too small": lambda f: {**f, "chunk_size": 32768},
    "chunk_size too large": lambda f: {**f, "chunk_size": 1 << 25},
    "a lot field": lambda f: {**f, "lot": LOT},
    "a bidder field": lambda f: {**f, "bidder": BIDDER},
    "missing binding": lambda f: {k: v for k, v in f.items() if k != "binding"},
    "binding of 31 bytes": lambda f: {**f, "binding": envelope._b64(bytes(31))},
    "binding in hex": lambda f: {**f, "binding": "00" * 32},
    "nonce_prefix of 8 bytes": lambda f: {**f, "nonce_prefix": "AAAAAAAAAAA="},
    "nonce_prefix unpadded": lambda f: {**f, "nonce_prefix": f["nonce_prefix"].rstrip("=")},
    "commitment url-safe base64": lambda f: {**f, "commitment": "-" + f["commitment"][1:]},
    "commitment not canonical": lambda f: {**f, "commitment": f["commitment"][:42] + "B="},
    "no recipients": lambda f: {**f, "recipients": []},
    "recipients not a list": lambda f: {**f, "recipients": f["recipients"][0]},
    "three recipients": lambda f: {**f, "recipients": [*f["recipients"], f["recipients"][1]]},
    "rescue first": lambda f: {**f, "recipients": f["recipients"][::-1]},
    "two bidders": lambda f: _recipients(f, lambda r: r[1].update(type="bidder")),
    "rescue only": lambda f: {**f, "recipients": [{**f["recipients"][1]}]},
    "recipient with a kid": lambda f: _recipients(f, lambda r: r[0].update(kid="0" * 32)),
    "recipient without a type": lambda f: _recipients(f, lambda r: r[1].pop("type")),
    "other alg": lambda f: _recipients(f, lambda r: r[0].update(alg="ECDH-ES+A256KW")),
    "epk compressed": lambda f: _recipients(f, lambda r: r[0].update(epk="Ag" + r[0]["epk"][2:])),
    "epk off the curve": lambda f: _recipients(f, lambda r: r[0].update(epk=envelope._b64(b"\x04" + bytes(63) + b"\x01"))),
    "iv of 16 bytes": lambda f: _recipients(f, lambda r: r[0].update(iv=envelope._b64(bytes(16)))),
    "wrapped of 32 bytes": lambda f: _recipients(f, lambda r: r[0].update(wrapped=envelope._b64(bytes(32)))),
    "recipient with an extra field": lambda f: _recipients(f, lambda r: r[0].update(x5c=[])),
}


@pytest.mark.parametrize("change", list(HEADER_REFUSALS))
def test_read_header_refuses(change, bidder_key, rescue_key):
    _, fields = _valid_fields(bidder_key, rescue_key)
    raw = _raw(envelope.canonical_json(HEADER_REFUSALS[change](fields)))
    expect_code("not_sealed", lambda: header_of(raw))


def test_read_header_refuses_non_canonical_json(bidder_key, rescue_key):
    sealed, fields = _valid_fields(bidder_key, rescue_key)
    assert header_of(_raw(envelope.canonical_json(fields))).raw == header_of(sealed).raw
    body = envelope.canonical_json(fields)
    for other in [
        json.dumps(fields, sort_keys=True).encode(),  # spaces
        json.dumps(dict(reversed(fields.items())), separators=(",", ":")).encode(),  # unsorted
        body + b" ",
        b"\xef\xbb\xbf" + body,  # BOM
        body.replace(b'"size":0', b'"size":0,"size":0'),  # duplicate key
        body.replace(b'"size":0', b'"size":-0'),
        body.replace(b'"trading-sealed-bid"', b'"trading-sealed-\\u0062id"'),  # escaped, same value
        b"[]",
        b"\xff",
    ]:
        expect_code("not_sealed", lambda other=other: header_of(_raw(other)))


def test_read_header_refuses_a_header_over_64_kib_without_reading_it():
    reads = []
    stream = io.BytesIO(envelope.MAGIC + struct.pack(">I", 64 * 1024 + 1) + b"{" * (64 * 1024 + 1))

    def read(n):
        reads.append(n)
        return stream.read(n)

    expect_code("not_sealed", lambda: envelope.read_header(read))
    assert reads == [12]
    expect_code("not_sealed", lambda: header_of(envelope.MAGIC + bytes(4)))


def test_read_header_reads_exactly_the_header_with_short_reads(bidder_key):
    sealed = seal(os.urandom(10), bidder_key[1])
    stream = io.BytesIO(sealed)
    header = envelope.read_header(lambda n: stream.read(min(n, 5)))
    assert stream.tell() == len(header.raw) == envelope.PREFIX_SIZE + int.from_bytes(sealed[8:12], "big")
    assert len(envelope.MAGIC) == 8 and envelope.MAX_PREFIX == 12 + 64 * 1024


def test_seal_refuses_input_that_does_not_match_size_and_never_writes_the_last_chunk(bidder_key):
    def sealer(pieces, size):
        return envelope.seal(pieces, size=size, lot=LOT, bidder=BIDDER, bidder_public_key=bidder_key[1], chunk_size=CHUNK)

    longer = sealer([b"a" * (2 * CHUNK)], 2 * CHUNK - 1)
    assert next(longer).startswith(envelope.MAGIC)
    with pytest.raises(ValueError, match="longer than size=131071"):
        next(longer)

    shorter = sealer([b"a" * (2 * CHUNK)], 3 * CHUNK)
    assert [len(next(shorter)) for _ in range(3)][1:] == [CHUNK + 16, CHUNK + 16]  # header, two full chunks
    with pytest.raises(ValueError, match="has 131072 bytes, size=196608"):
        next(shorter)  # the last chunk (with its flag) is never produced

    exact_then_more = sealer([b"a" * CHUNK, b"b"], CHUNK)  # the last chunk is complete before the extra byte
    next(exact_then_more)
    with pytest.raises(ValueError, match="longer"):
        next(exact_then_more)

    empty = sealer([b"x"], 0)
    next(empty)
    with pytest.raises(ValueError, match="longer"):
        next(empty)


def test_seal_refuses_bad_arguments_at_once(bidder_key):
    p384 = envelope.public_key_der(ec.generate_private_key(ec.SECP384R1()).public_key())
    ed = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    good = {"size": 1, "lot": LOT, "bidder": BIDDER, "bidder_public_key": bidder_key[1]}
    for bad in [
        {"lot": LOT[:29]},
        {"lot": LOT.lower()},
        {"bidder": BIDDER[:17] + "O"},
        {"size": -1},
        {"size": 1.0},
        {"size": 1 << 53},
        {"chunk_size": 100_000},
        {"chunk_size": 1 << 15},
        {"chunk_size": 1 << 25},
        {"bidder_public_key": p384},
        {"bidder_public_key": ed},
        {"bidder_public_key": b"not a key"},
        {"rescue_public_key": bidder_key[1]},
        {"rescue_public_key": p384},
        {"_data_key": bytes(16)},
        {"_nonce_prefix": bytes(8)},
        {"_ivs": [bytes(12), bytes(12)]},
    ]:
        with pytest.raises(ValueError):
            envelope.seal([b"x"], **{**good, **bad})


# Keys -------------------------------------------------------------------------------------------------------------


def test_key_ids_are_over_the_canonical_spki(bidder_key):
    private_key, spki = bidder_key
    assert len(spki) == 91
    kid = envelope.key_id(spki)
    assert kid == hashlib.sha256(spki).hexdigest()[:32]
    public_key = private_key.public_key()
    pem = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    compressed = public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    spki_compressed = b"\x30\x39" + spki[2:23] + b"\x03\x22\x00" + compressed  # the same key, compressed point
    assert envelope.key_id(pem) == envelope.key_id(spki_compressed) == kid
    assert envelope.public_key_der(envelope.load_public_key(spki_compressed)) == spki
    with pytest.raises(ValueError, match="P-256"):
        envelope.load_public_key(envelope.public_key_der(ec.generate_private_key(ec.SECP384R1()).public_key()))


def test_private_key_export_with_a_passphrase(bidder_key):
    private_key, spki = bidder_key
    pem = envelope.export_private_key(private_key, b"\xe5\xaf\x86\xe7\xa0\x81 passphrase")
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    loaded = envelope.import_private_key(pem, b"\xe5\xaf\x86\xe7\xa0\x81 passphrase")
    assert envelope.public_key_der(loaded.public_key()) == spki
    for passphrase in [b"wrong", None]:
        with pytest.raises(ValueError):
            envelope.import_private_key(pem, passphrase)
    with pytest.raises(ValueError):
        envelope.export_private_key(private_key, b"")
    p384 = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ValueError, match="P-256"):
        envelope.import_private_key(p384)


def test_scalars(bidder_key):
    private_key, spki = bidder_key
    scalar = envelope.scalar_of(private_key)
    assert len(scalar) == 32
    assert envelope.public_key_der(envelope.private_key_from_scalar(scalar).public_key()) == spki
    order = envelope._N
    assert envelope.scalar_of(envelope.private_key_from_scalar((order - 1).to_bytes(32, "big"))) == (order - 1).to_bytes(
        32, "big"
    )
    for bad in [bytes(32), order.to_bytes(32, "big"), b"\xff" * 32, scalar[:31]]:
        with pytest.raises(ValueError):
            envelope.private_key_from_scalar(bad)


def test_errors_carry_code_and_both_languages():
    error = EnvelopeError("tampered", "chunk 3 fails authentication")
    assert (error.code, error.zh, error.en, error.detail) == (
        "tampered",
        "投标文件内容已被篡改",
        "the envelope has been tampered with",
        "chunk 3 fails authentication",
    )
    assert str(error) == "投标文件内容已被篡改 / the envelope has been tampered with (chunk 3 fails authentication)"
    assert set(envelope._MESSAGES) == {"not_sealed", "wrong_key", "tampered", "truncated", "no_recipient", "wrong_envelope"}
    error = EnvelopeError("wrong_envelope")
    assert (error.zh, error.en) == ("该投标文件是为其他标段或投标人密封的", "the envelope was sealed for another lot or bidder")


def test_the_library_does_not_import_django():
    for name in ("envelope.py", "shamir.py", "vectors.py"):
        tree = ast.parse((ROOT / "bidding" / name).read_text(encoding="utf-8"))
        imported = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        imported += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
        assert imported and not [m for m in imported if m.split(".")[0] == "django"], name
