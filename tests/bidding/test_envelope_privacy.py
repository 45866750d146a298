"""What a reader of the object store learns from a sealed bid (docs/sealed-bid-format.md, "What the stored envelope
reveals"): that it is one, its size, the chunk size, whether there is a rescue recipient, and random values. Never
the lot, the bidder or the key (法22: before the deadline nobody may learn who bid)."""

import base64
import hashlib
import io
import json
import os
from pathlib import Path

import pytest

from bidding import envelope, vectors

LOT, OTHER_LOT, BIDDER, OTHER_BIDDER = vectors.LOT, vectors.OTHER_LOT, vectors.BIDDER, vectors.OTHER_BIDDER
VECTORS = json.loads((Path(__file__).resolve().parents[2] / "docs" / "sealed-bid-vectors.json").read_text(encoding="utf-8"))


def _forms(text: str) -> list[bytes]:
    """The ways a code could appear in the bytes: as text (any case, UTF-16 too), hex or base64 of its text."""
    raw = text.encode()
    forms = [raw, raw.lower(), text.encode("utf-16-le"), text.encode("utf-16-be"), raw.hex().encode()]
    forms += [base64.b64encode(raw)[:-4], base64.urlsafe_b64encode(raw)[:-4]]  # without the padding-dependent end
    return forms


def _key_forms(spki: bytes) -> list[bytes]:
    """A public key's id (text, bytes), its SPKI DER and its point: anything that names the key."""
    kid = envelope.key_id(spki)
    point = spki[-65:]
    return [
        *_forms(kid),
        kid.upper().encode(),
        bytes.fromhex(kid),
        hashlib.sha256(spki).digest()[:16],
        spki,
        point,
        point[1:33],  # x coordinate
        base64.b64encode(point)[:40],
    ]


def _assert_names_nothing(sealed: bytes, lot: str, bidder: str, spkis: list[bytes]) -> None:
    for needle in [*_forms(lot), *_forms(bidder)]:
        assert needle not in sealed, needle
    for spki in spkis:
        for needle in _key_forms(spki):
            assert needle not in sealed, needle
    header = envelope.read_header(io.BytesIO(sealed).read)
    fields = json.loads(header.raw[envelope.PREFIX_SIZE :])
    assert set(fields) == {"format", "version", "size", "chunk_size", "nonce_prefix", "commitment", "binding", "recipients"}
    assert all(set(r) == {"type", "alg", "epk", "iv", "wrapped"} for r in fields["recipients"])


@pytest.mark.parametrize("rescue", [False, True])
def test_the_envelope_names_neither_lot_nor_bidder_nor_key(rescue):
    bidder_private, bidder_spki = envelope.generate_key_pair()
    rescue_private, rescue_spki = envelope.generate_key_pair()
    plaintext = os.urandom(3 * 65536 + 5)
    sealed = b"".join(
        envelope.seal(
            [plaintext],
            size=len(plaintext),
            lot=LOT,
            bidder=BIDDER,
            bidder_public_key=bidder_spki,
            rescue_public_key=rescue_spki if rescue else None,
            chunk_size=65536,
        )
    )
    _assert_names_nothing(sealed, LOT, BIDDER, [bidder_spki, rescue_spki])
    # ... and yet it is the bid for this lot and bidder, as the data key shows.
    header = envelope.read_header(io.BytesIO(sealed).read)
    data_key = envelope.unwrap_key(header, bidder_private, lot=LOT, bidder=BIDDER)
    envelope.check_binding(header, data_key, LOT, BIDDER)
    if rescue:
        assert envelope.unwrap_key(header, rescue_private, lot=LOT, bidder=BIDDER) == data_key


def test_a_plaintext_naming_lot_and_bidder_does_not_show_through():
    _, spki = envelope.generate_key_pair()
    plaintext = (f"{LOT} {BIDDER} {envelope.key_id(spki)} " * 5000).encode()
    sealed = b"".join(envelope.seal([plaintext], size=len(plaintext), lot=LOT, bidder=BIDDER, bidder_public_key=spki))
    _assert_names_nothing(sealed, LOT, BIDDER, [spki])


@pytest.mark.parametrize("case", VECTORS["cases"], ids=[c["name"] for c in VECTORS["cases"]])
def test_the_vectors_name_neither_lot_nor_bidder_nor_key(case):
    spkis = [bytes.fromhex(case["bidder_public_key_spki"])]
    if case["rescue_public_key_spki"]:
        spkis.append(bytes.fromhex(case["rescue_public_key_spki"]))
    _assert_names_nothing(bytes.fromhex(case["envelope"]), case["lot"], case["bidder"], spkis)


def test_the_header_is_the_same_shape_whoever_seals_for_whichever_lot():
    """Lot, bidder and key change no header field but the random ones: same length, same clear fields."""
    shapes = set()
    for lot, bidder in [(LOT, BIDDER), (OTHER_LOT, BIDDER), (LOT, OTHER_BIDDER), (OTHER_LOT, OTHER_BIDDER)]:
        for _ in range(2):
            _, spki = envelope.generate_key_pair()
            _, rescue = envelope.generate_key_pair()
            sealed = b"".join(
                envelope.seal([b"x" * 1000], size=1000, lot=lot, bidder=bidder, bidder_public_key=spki, rescue_public_key=rescue)
            )
            header = envelope.read_header(io.BytesIO(sealed).read)
            fields = json.loads(header.raw[envelope.PREFIX_SIZE :])
            clear = {k: v for k, v in fields.items() if k not in ("nonce_prefix", "commitment", "binding", "recipients")}
            recipients = [{k: v for k, v in r.items() if k in ("type", "alg")} for r in fields["recipients"]]
            shapes.add((len(header.raw), len(sealed), json.dumps(clear, sort_keys=True), json.dumps(recipients)))
    assert len(shapes) == 1, shapes
    ((_, _, clear, recipients),) = shapes
    assert json.loads(clear) == {"format": "trading-sealed-bid", "version": 1, "size": 1000, "chunk_size": 1 << 20}
    assert [r["type"] for r in json.loads(recipients)] == ["bidder", "rescue"]
