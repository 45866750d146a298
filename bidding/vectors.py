"""Test vectors for the sealed-bid envelope v1 (docs/sealed-bid-format.md, "Test vectors").

    python -m bidding.vectors > docs/sealed-bid-vectors.json

Deterministic: every "random" (keys, data key, nonce prefix, ivs, plaintext) is SHAKE-256 of a label, so the
output is the same byte for byte on every run. The private keys are for tests only. Pure library: no Django.
"""

import hashlib
import io
import json
import struct
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bidding import envelope

LOT = "91350100MA2Y00017520261125001M"
OTHER_LOT = "91350100MA2Y00017520261125002K"
BIDDER = "91350100MA2Y00001H"
OTHER_BIDDER = "91350100MA2Y00002F"

# name, description, plaintext size, chunk_size, with a rescue recipient
CASES = [
    ("empty", "empty plaintext: one empty last chunk; bidder only", 0, 1 << 20, False),
    ("one-byte", "one byte; bidder and rescue", 1, 1 << 20, True),
    ("one-full-chunk", "exactly one chunk of 65536 bytes; bidder only", 1 << 16, 1 << 16, False),
    (
        "three-and-a-half-chunks",
        "3.5 chunks of 65536 bytes (three full, one of 32768); bidder and rescue",
        7 << 15,
        1 << 16,
        True,
    ),
]
NEGATIVE_BASE = "three-and-a-half-chunks"


def _bytes(label: str, n: int) -> bytes:
    return hashlib.shake_256(f"trading-sealed-bid/v1/test-vector/{label}".encode()).digest(n)


def _key(label: str) -> ec.EllipticCurvePrivateKey:
    # A scalar in 1..n-1 for any label: reduce 48 bytes modulo n-1 (negligible bias, test keys only).
    value = int.from_bytes(_bytes(f"key/{label}", 48), "big") % (envelope._N - 1) + 1
    return envelope.private_key_from_scalar(value.to_bytes(32, "big"))


def _pkcs8(private_key: ec.EllipticCurvePrivateKey) -> str:
    return private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).hex()


def _spki(private_key: ec.EllipticCurvePrivateKey) -> bytes:
    return envelope.public_key_der(private_key.public_key())


def _case(name: str, description: str, size: int, chunk_size: int, rescue: bool) -> dict:
    bidder_key = _key("bidder")
    rescue_key = _key("rescue") if rescue else None
    count = 2 if rescue else 1
    plaintext = _bytes(f"{name}/plaintext", size)
    data_key = _bytes(f"{name}/data-key", 32)
    nonce_prefix = _bytes(f"{name}/nonce-prefix", 7)
    ephemeral = [_key(f"{name}/ephemeral/{i}") for i in range(count)]
    ivs = [_bytes(f"{name}/iv/{i}", 12) for i in range(count)]
    pieces = [plaintext[i : i + 10007] for i in range(0, size, 10007)]  # re-chunked by seal()
    sealed = b"".join(
        envelope.seal(
            pieces,
            size=size,
            lot=LOT,
            bidder=BIDDER,
            bidder_public_key=_spki(bidder_key),
            rescue_public_key=_spki(rescue_key) if rescue_key else None,
            chunk_size=chunk_size,
            _data_key=data_key,
            _nonce_prefix=nonce_prefix,
            _ephemeral=ephemeral,
            _ivs=ivs,
        )
    )
    header = envelope.read_header(io.BytesIO(sealed).read)
    return {
        "name": name,
        "description": description,
        "lot": LOT,
        "bidder": BIDDER,
        "size": size,
        "chunk_size": chunk_size,
        "plaintext": plaintext.hex(),
        "bidder_private_key_pkcs8": _pkcs8(bidder_key),
        "bidder_public_key_spki": _spki(bidder_key).hex(),
        "bidder_kid": envelope.key_id(_spki(bidder_key)),  # key_id() vectors: envelopes carry no key ids
        "rescue_private_key_pkcs8": _pkcs8(rescue_key) if rescue_key else None,
        "rescue_public_key_spki": _spki(rescue_key).hex() if rescue_key else None,
        "rescue_kid": envelope.key_id(_spki(rescue_key)) if rescue_key else None,
        "data_key": data_key.hex(),
        "nonce_prefix": nonce_prefix.hex(),
        "ephemeral_private_keys_pkcs8": [_pkcs8(e) for e in ephemeral],
        "ivs": [iv.hex() for iv in ivs],
        "header_length": len(header.raw),
        "header": header.raw[envelope.PREFIX_SIZE :].decode(),
        "binding": header.binding.hex(),
        "chunk_count": header.chunk_count,
        "envelope": sealed.hex(),
        "envelope_size": len(sealed),
        "envelope_sha256": hashlib.sha256(sealed).hexdigest(),
    }


def _patch(envelope_bytes: bytes, offset: int, remove: int, insert: bytes) -> tuple[dict, bytes]:
    result = envelope_bytes[:offset] + insert + envelope_bytes[offset + remove :]
    return {"offset": offset, "remove": remove, "insert": insert.hex()}, result


def _with_header(sealed: bytes, header: envelope.Header, fields: dict) -> tuple[dict, bytes]:
    """A patch replacing the length and header JSON by these fields, written canonically."""
    body = envelope.canonical_json(fields)
    return _patch(sealed, 8, 4 + len(header.raw) - envelope.PREFIX_SIZE, struct.pack(">I", len(body)) + body)


def _negatives(base: dict) -> list[dict]:
    sealed = bytes.fromhex(base["envelope"])
    header = envelope.read_header(io.BytesIO(sealed).read)
    fields = json.loads(base["header"])
    start = len(header.raw)
    full = header.chunk_size + envelope.TAG_SIZE
    chunk = [sealed[start + i * full : start + (i + 1) * full] for i in range(header.chunk_count)]
    data_key = {"data_key": base["data_key"]}
    rescue = {"private_key_pkcs8": base["rescue_private_key_pkcs8"]}
    negatives = []

    def add(name: str, description: str, patch: tuple[dict, bytes], open_with: dict, expect: str, lot=LOT, bidder=BIDDER) -> None:
        spec, result = patch
        negatives.append(
            {
                "name": name,
                "description": description,
                "case": base["name"],
                "patch": spec,
                "envelope_sha256": hashlib.sha256(result).hexdigest(),
                "lot": lot,
                "bidder": bidder,
                "open_with": open_with,
                "expect": expect,
            }
        )

    offset = start + 100
    add(
        "flipped-ciphertext-bit",
        "bit 0 of byte 100 of chunk 0 flipped",
        _patch(sealed, offset, 1, bytes([sealed[offset] ^ 1])),
        data_key,
        "tampered",
    )
    last = len(sealed) - (header.size - (header.chunk_count - 1) * header.chunk_size + envelope.TAG_SIZE)
    add(
        "last-chunk-dropped",
        "the last chunk removed: ends after a chunk without the last flag",
        _patch(sealed, last, len(sealed) - last, b""),
        data_key,
        "truncated",
    )
    add(
        "chunks-swapped",
        "chunks 1 and 2 swapped",
        _patch(sealed, start + full, 2 * full, chunk[2] + chunk[1]),
        data_key,
        "tampered",
    )
    relabelled = envelope.binding(bytes.fromhex(base["data_key"]), header.nonce_prefix, OTHER_LOT, BIDDER)
    add(
        "binding-rewritten-for-another-lot",
        "the binding rewritten (with the data key) for another lot, opened as a bid for that lot; chunks unchanged",
        _with_header(sealed, header, {**fields, "binding": envelope._b64(relabelled)}),
        data_key,
        "tampered",
        lot=OTHER_LOT,
    )
    other = _key("stranger-rescue")
    swapped = envelope.wrap_key(
        bytes.fromhex(base["data_key"]),
        other.public_key(),
        type_="rescue",
        lot=LOT,
        bidder=BIDDER,
        _ephemeral=_key("swap/ephemeral"),
        _iv=_bytes("swap/iv", 12),
    )
    add(
        "rescue-recipient-swapped",
        "the rescue recipient replaced by one for another key, wrapping the same data key",
        _with_header(sealed, header, {**fields, "recipients": [fields["recipients"][0], swapped.to_json()]}),
        data_key,
        "tampered",
    )
    add(
        "wrong-data-key",
        "opened with another data key",
        _patch(sealed, 0, 0, b""),
        {"data_key": _bytes("wrong-data-key", 32).hex()},
        "wrong_key",
    )
    rescue_entry = fields["recipients"][1]
    forked = envelope.wrap_key(
        _bytes("forked-data-key", 32),
        _key("rescue").public_key(),
        type_="rescue",
        lot=LOT,
        bidder=BIDDER,
        _ephemeral=_key("fork/ephemeral"),
        _iv=_bytes("fork/iv", 12),
    )
    assert forked.to_json().keys() == rescue_entry.keys()
    add(
        "rescue-wraps-another-key",
        "the rescue recipient wraps a different data key: unwraps, but fails the commitment",
        _with_header(sealed, header, {**fields, "recipients": [fields["recipients"][0], forked.to_json()]}),
        rescue,
        "wrong_key",
    )
    add("trailing-byte", "one zero byte appended", _patch(sealed, len(sealed), 0, b"\x00"), data_key, "truncated")
    add(
        "cut-inside-chunk",
        "the envelope ends 10 bytes into chunk 1",
        _patch(sealed, start + full + 10, len(sealed) - start - full - 10, b""),
        data_key,
        "truncated",
    )
    add("bad-magic", "the version byte of the magic changed to 2", _patch(sealed, 7, 1, b"\x02"), data_key, "not_sealed")
    add(
        "unknown-header-field",
        'the header has an extra field "note"',
        _with_header(sealed, header, {**fields, "note": ""}),
        data_key,
        "not_sealed",
    )
    spaced = json.dumps(fields, sort_keys=True, ensure_ascii=False).encode()  # ", " and ": " separators
    add(
        "non-canonical-header",
        "the same header fields written with spaces",
        _patch(sealed, 8, 4 + len(header.raw) - envelope.PREFIX_SIZE, struct.pack(">I", len(spaced)) + spaced),
        data_key,
        "not_sealed",
    )
    add(
        "header-length-over-64-kib",
        "the header length field says 65537",
        _patch(sealed, 8, 4, struct.pack(">I", envelope.MAX_HEADER + 1)),
        data_key,
        "not_sealed",
    )
    add(
        "stranger-private-key",
        "opened with a private key that is no recipient",
        _patch(sealed, 0, 0, b""),
        {"private_key_pkcs8": _pkcs8(_key("stranger"))},
        "no_recipient",
    )
    add(
        "binding-for-another-lot",
        "unchanged envelope, opened as a bid for another lot",
        _patch(sealed, 0, 0, b""),
        data_key,
        "wrong_envelope",
        lot=OTHER_LOT,
    )
    add(
        "binding-for-another-bidder",
        "unchanged envelope, opened as another bidder's bid",
        _patch(sealed, 0, 0, b""),
        data_key,
        "wrong_envelope",
        bidder=OTHER_BIDDER,
    )
    add(
        "unwrap-for-another-lot",
        "unchanged envelope, the bidder's key unwrapping it as a bid for another lot (the wrap AAD differs)",
        _patch(sealed, 0, 0, b""),
        {"private_key_pkcs8": base["bidder_private_key_pkcs8"]},
        "no_recipient",
        lot=OTHER_LOT,
    )
    return negatives


def build() -> dict:
    cases = [_case(*case) for case in CASES]
    base = next(c for c in cases if c["name"] == NEGATIVE_BASE)
    return {
        "format": envelope.FORMAT,
        "version": envelope.VERSION,
        "description": "Test vectors for the sealed-bid envelope v1; see docs/sealed-bid-format.md. Test keys only.",
        "cases": cases,
        "negative": _negatives(base),
    }


def render() -> str:
    return json.dumps(build(), indent=1, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
