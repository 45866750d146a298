"""The verifiable random expert draw: seed, commitment, generator and shuffle. Pure: no Django, no database.

Everything here is specified byte for byte in docs/experts.md ("Draw") so that a supervisor can reimplement
it and re-run a draw (`manage.py draw_verify`); docs/expert-draw-vectors.json holds test vectors.

- Seed: 32 bytes from `secrets.token_bytes` (the operating system's CSPRNG), kept sealed until revealed.
- Encoding `enc(x)`: 4-byte big-endian length of x, then x. Strings are UTF-8.
- Eligible snapshot (bytes): enc("trading/expert-draw/v1/eligible") ‖ u32(number of lines) ‖ for each line in
  the request's order: enc(specialty code) ‖ u32(n) ‖ n × u64 (the eligible expert ids, ascending).
  Its hash is SHA-256 over those bytes.
- Commitment: SHA-256(enc("trading/expert-draw/v1/commit") ‖ enc(seed) ‖ enc(draw id as decimal) ‖
  enc(lot transaction code) ‖ enc(snapshot hash, 32 raw bytes)), hex.
- Generator: HMAC_DRBG with SHA-256 (NIST SP 800-90A Rev. 1, 10.1.2), instantiated with entropy_input = seed,
  nonce = empty, personalization_string = "trading/expert-draw/v1/line/" + specialty code; no reseed, no
  additional input, no prediction resistance. One stream per line.
- randbelow(n): Generate 8 bytes, r = big-endian integer; accept if r < 2^64 - (2^64 mod n) and return r mod n,
  else generate again (rejection sampling: every residue is exactly equally likely).
- Stream: a lazy Fisher–Yates over the line's ascending ids a[0..N-1]: step i (0, 1, 2, ...) takes
  j = i + randbelow(N - i), swaps a[i] and a[j], and yields a[i]. The first `count` items are the members,
  the next `backups` the backups, and any later replacement is simply the next item.
"""

import hashlib
import hmac
import itertools
import secrets
import struct
from collections.abc import Iterator, Sequence

SEED_BYTES = 32
DOMAIN = "trading/expert-draw/v1"
_TWO64 = 1 << 64


def new_seed() -> bytes:
    return secrets.token_bytes(SEED_BYTES)


def enc(value: bytes | str) -> bytes:
    data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    return struct.pack(">I", len(data)) + data


# --- Snapshot and commitment ----------------------------------------------------------------------------------


def encode_snapshot(lines: Sequence[tuple[str, Sequence[int]]]) -> bytes:
    """The canonical bytes of the eligible lists: [(specialty code, ids)], ids strictly ascending."""
    parts = [enc(f"{DOMAIN}/eligible"), struct.pack(">I", len(lines))]
    for code, ids in lines:
        if any(b <= a for a, b in itertools.pairwise(ids)):
            raise ValueError(f"eligible ids of line {code} are not strictly ascending")
        parts.append(enc(code))
        parts.append(struct.pack(">I", len(ids)))
        parts.append(struct.pack(f">{len(ids)}Q", *ids))
    return b"".join(parts)


def decode_snapshot(data: bytes) -> list[tuple[str, list[int]]]:
    """The inverse of encode_snapshot; refuses trailing or missing bytes."""
    data = bytes(data)
    pos = 0

    def take(n: int) -> bytes:
        nonlocal pos
        if pos + n > len(data):
            raise ValueError("truncated snapshot")
        chunk = data[pos : pos + n]
        pos += n
        return chunk

    def take_enc() -> bytes:
        (length,) = struct.unpack(">I", take(4))
        return take(length)

    if take_enc() != f"{DOMAIN}/eligible".encode():
        raise ValueError("not an eligible snapshot")
    (count,) = struct.unpack(">I", take(4))
    lines = []
    for _ in range(count):
        code = take_enc().decode("utf-8")
        (n,) = struct.unpack(">I", take(4))
        lines.append((code, list(struct.unpack(f">{n}Q", take(8 * n)))))
    if pos != len(data):
        raise ValueError("trailing bytes after the snapshot")
    return lines


def snapshot_hash(snapshot: bytes) -> str:
    return hashlib.sha256(snapshot).hexdigest()


def commitment(*, seed: bytes, draw_id: int, transaction_code: str, eligible_hash: str) -> str:
    if len(seed) != SEED_BYTES:
        raise ValueError("the seed is 32 bytes")
    message = b"".join(
        [enc(f"{DOMAIN}/commit"), enc(seed), enc(str(int(draw_id))), enc(transaction_code), enc(bytes.fromhex(eligible_hash))]
    )
    return hashlib.sha256(message).hexdigest()


# --- HMAC_DRBG (SP 800-90A Rev. 1, 10.1.2), SHA-256 -------------------------------------------------------------


class HmacDrbg:
    """HMAC_DRBG, SHA-256, without reseeding, additional input or prediction resistance."""

    RESEED_INTERVAL = 1 << 48
    MAX_BYTES_PER_REQUEST = 1 << 16  # 2^19 bits

    def __init__(self, entropy_input: bytes, nonce: bytes = b"", personalization: bytes = b""):
        self._key = b"\x00" * 32
        self._value = b"\x01" * 32
        self._update(bytes(entropy_input) + bytes(nonce) + bytes(personalization))
        self._reseed_counter = 1

    def _hmac(self, data: bytes) -> bytes:
        return hmac.new(self._key, data, hashlib.sha256).digest()

    def _update(self, provided: bytes) -> None:
        self._key = self._hmac(self._value + b"\x00" + provided)
        self._value = self._hmac(self._value)
        if provided:
            self._key = self._hmac(self._value + b"\x01" + provided)
            self._value = self._hmac(self._value)

    def generate(self, n: int) -> bytes:
        if not 0 < n <= self.MAX_BYTES_PER_REQUEST:
            raise ValueError("request between 1 and 65536 bytes")
        if self._reseed_counter > self.RESEED_INTERVAL:
            raise RuntimeError("reseed required")  # 2^48 requests: never reached by a draw
        out = b""
        while len(out) < n:
            self._value = self._hmac(self._value)
            out += self._value
        self._update(b"")
        self._reseed_counter += 1
        return out[:n]


def line_generator(seed: bytes, specialty_code: str) -> HmacDrbg:
    return HmacDrbg(seed, b"", f"{DOMAIN}/line/{specialty_code}".encode())


def randbelow(drbg: HmacDrbg, n: int) -> int:
    """A uniform integer in [0, n) by rejection sampling over 64-bit draws."""
    if not 0 < n <= _TWO64:
        raise ValueError("n must be in 1..2^64")
    limit = _TWO64 - (_TWO64 % n)
    while True:
        r = int.from_bytes(drbg.generate(8), "big")
        if r < limit:
            return r % n


def stream(seed: bytes, specialty_code: str, ids: Sequence[int]) -> Iterator[int]:
    """The line's draw order: a lazy (partial) Fisher–Yates shuffle of `ids` (ascending), one item at a time.

    Only the positions touched so far are remembered, so k items out of N cost O(k) time and memory.
    """
    drbg = line_generator(seed, specialty_code)
    n = len(ids)
    moved: dict[int, int] = {}  # position -> id now there, for positions a swap has touched
    for i in range(n):
        j = i + randbelow(drbg, n - i)
        at_i = moved.get(i, ids[i])
        at_j = moved.get(j, ids[j])
        moved[j] = at_i
        moved.pop(i, None)
        yield at_j


def first(seed: bytes, specialty_code: str, ids: Sequence[int], k: int) -> list[int]:
    """The first k items of the line's stream (fewer when the list is shorter)."""
    out = []
    for expert_id in stream(seed, specialty_code, ids):
        if len(out) == k:
            break
        out.append(expert_id)
    return out
