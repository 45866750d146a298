"""Test vectors for the expert draw (docs/experts.md, "Draw"; evaluation/draw_random.py).

    python -m evaluation.vectors > docs/expert-draw-vectors.json

Deterministic: each seed is SHAKE-256 of a label, so the output is the same byte for byte on every run.
Pure library: no Django.
"""

import hashlib
import json
import sys

from evaluation import draw_random

LOT = "91450102000000001X20261123001M"

# name, draw id, [(specialty code, eligible ids)], how many items of each stream to list
CASES = [
    ("one-line-small", 1, [("A08", [3, 5, 8, 13, 21, 34, 55, 89])], 8),
    ("two-lines", 42, [("A08", list(range(101, 131))), ("B02", [7, 101, 102, 250, 999, 1000, 12345])], 10),
    ("single-expert", 7, [("C0101", [4242])], 1),
    ("large-ids", 1000000, [("A0801", [2**40 + i * 977 for i in range(50)])], 12),
]


def seed_for(label: str) -> bytes:
    return hashlib.shake_256(f"trading/expert-draw/v1/test-vector/{label}".encode()).digest(32)


def case(name: str, draw_id: int, lines: list, k: int) -> dict:
    seed = seed_for(name)
    snapshot = draw_random.encode_snapshot(lines)
    digest = draw_random.snapshot_hash(snapshot)
    return {
        "name": name,
        "seed": seed.hex(),
        "draw_id": draw_id,
        "transaction_code": LOT,
        "lines": [{"specialty_code": code, "eligible_ids": ids} for code, ids in lines],
        "snapshot_sha256": digest,
        "commitment": draw_random.commitment(seed=seed, draw_id=draw_id, transaction_code=LOT, eligible_hash=digest),
        "order": {code: draw_random.first(seed, code, ids, k) for code, ids in lines},
    }


def drbg_case() -> dict:
    """The generator alone: the first 64 bytes of one line's HMAC_DRBG, then five randbelow(10) from a fresh one."""
    seed = seed_for("drbg")
    first = draw_random.line_generator(seed, "A08").generate(64)
    fresh = draw_random.line_generator(seed, "A08")
    return {
        "seed": seed.hex(),
        "personalization": "trading/expert-draw/v1/line/A08",
        "first_generate_64_bytes": first.hex(),
        "randbelow_10_x5": [draw_random.randbelow(fresh, 10) for _ in range(5)],
    }


def vectors() -> dict:
    return {
        "format": "trading/expert-draw/v1",
        "note": "see docs/experts.md, section Draw",
        "drbg": drbg_case(),
        "cases": [case(*c) for c in CASES],
    }


def dumps() -> str:
    return json.dumps(vectors(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(dumps())
