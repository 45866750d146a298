"""The draw's pure core (evaluation/draw_random.py) against its specification, its vectors, and a bias test."""

import hashlib
import hmac
import json
import struct
from collections import Counter
from pathlib import Path

import pytest

from evaluation import draw_random, vectors

ROOT = Path(__file__).resolve().parents[2]
VECTORS = json.loads((ROOT / "docs" / "expert-draw-vectors.json").read_text(encoding="utf-8"))


def test_vectors_file_is_current():
    assert (ROOT / "docs" / "expert-draw-vectors.json").read_text(encoding="utf-8") == vectors.dumps()


# --- An independent re-implementation from the text of docs/experts.md, checked against the vectors -------------


def _enc(b: bytes) -> bytes:
    return len(b).to_bytes(4, "big") + b


def _drbg(entropy: bytes, personalization: bytes):
    """SP 800-90A HMAC_DRBG written out again, to check the module against the spec rather than against itself."""
    k, v = b"\0" * 32, b"\1" * 32

    def h(key, data):
        return hmac.new(key, data, hashlib.sha256).digest()

    def update(data):
        nonlocal k, v
        k = h(k, v + b"\0" + data)
        v = h(k, v)
        if data:
            k = h(k, v + b"\1" + data)
            v = h(k, v)

    update(entropy + personalization)

    def generate(n):
        nonlocal v
        out = b""
        while len(out) < n:
            v = h(k, v)
            out += v
        update(b"")
        return out[:n]

    return generate


def _order(seed: bytes, code: str, ids: list[int], k: int) -> list[int]:
    gen = _drbg(seed, f"trading/expert-draw/v1/line/{code}".encode())
    a = list(ids)
    out = []
    for i in range(min(k, len(a))):
        n = len(a) - i
        while True:
            r = int.from_bytes(gen(8), "big")
            if r < 2**64 - 2**64 % n:
                break
        j = i + r % n
        a[i], a[j] = a[j], a[i]
        out.append(a[i])
    return out


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: c["name"])
def test_vector_reproduced_independently(case):
    seed = bytes.fromhex(case["seed"])
    snapshot = _enc(b"trading/expert-draw/v1/eligible") + struct.pack(">I", len(case["lines"]))
    for line in case["lines"]:
        ids = line["eligible_ids"]
        snapshot += (
            _enc(line["specialty_code"].encode()) + struct.pack(">I", len(ids)) + b"".join(i.to_bytes(8, "big") for i in ids)
        )
    digest = hashlib.sha256(snapshot).digest()
    assert digest.hex() == case["snapshot_sha256"]
    message = (
        _enc(b"trading/expert-draw/v1/commit")
        + _enc(seed)
        + _enc(str(case["draw_id"]).encode())
        + _enc(case["transaction_code"].encode())
        + _enc(digest)
    )
    assert hashlib.sha256(message).hexdigest() == case["commitment"]
    for line in case["lines"]:
        expected = case["order"][line["specialty_code"]]
        assert _order(seed, line["specialty_code"], line["eligible_ids"], len(expected)) == expected


def test_drbg_vector_reproduced_independently():
    drbg = VECTORS["drbg"]
    gen = _drbg(bytes.fromhex(drbg["seed"]), drbg["personalization"].encode())
    assert gen(64).hex() == drbg["first_generate_64_bytes"]


def test_hmac_drbg_matches_nist_cavp():
    """NIST CAVP HMAC_DRBG.rsp, [SHA-256], no reseed, no personalization, COUNT 0: instantiate, generate 1024 bits
    twice, the second output is ReturnedBits."""
    drbg = draw_random.HmacDrbg(
        bytes.fromhex("ca851911349384bffe89de1cbdc46e6831e44d34a4fb935ee285dd14b71a7488"),
        bytes.fromhex("659ba96c601dc69fc902940805ec0ca8"),
    )
    drbg.generate(128)
    assert drbg.generate(128).hex() == (
        "e528e9abf2dece54d47c7e75e5fe302149f817ea9fb4bee6f4199697d04d5b89d54fbb978a15b5c443c9ec21036d2460"
        "b6f73ebad0dc2aba6e624abf07745bc107694bb7547bb0995f70de25d6b29e2d3011bb19d27676c07162c8b5ccde0668"
        "961df86803482cb37ed6d5c0bb8d50cf1f50d476aa0458bdaba806f48be9dcb8"
    )


def test_snapshot_round_trip_and_refusals():
    lines = [("A08", [1, 2, 2**63]), ("B02", [])]
    data = draw_random.encode_snapshot(lines)
    assert draw_random.decode_snapshot(data) == [("A08", [1, 2, 2**63]), ("B02", [])]
    with pytest.raises(ValueError, match="trailing"):
        draw_random.decode_snapshot(data + b"\0")
    with pytest.raises(ValueError, match="truncated"):
        draw_random.decode_snapshot(data[:-1])
    with pytest.raises(ValueError, match="ascending"):
        draw_random.encode_snapshot([("A08", [2, 1])])
    with pytest.raises(ValueError, match="ascending"):
        draw_random.encode_snapshot([("A08", [1, 1])])


def test_commitment_binds_every_input():
    seed = bytes(32)
    base = {"seed": seed, "draw_id": 1, "transaction_code": "X", "eligible_hash": "00" * 32}
    reference = draw_random.commitment(**base)
    for change in [
        {"seed": b"\1" + bytes(31)},
        {"draw_id": 2},
        {"transaction_code": "Y"},
        {"eligible_hash": "01" + "00" * 31},
    ]:
        assert draw_random.commitment(**{**base, **change}) != reference
    with pytest.raises(ValueError):
        draw_random.commitment(**{**base, "seed": bytes(16)})


def test_stream_is_a_permutation_and_lines_are_independent():
    seed = bytes(range(32))
    ids = list(range(10, 60))
    order = list(draw_random.stream(seed, "A08", ids))
    assert sorted(order) == ids
    assert order != ids
    assert list(draw_random.stream(seed, "B02", ids)) != order
    # The stream is its own prefix: drawing more later gives the same first items (backups, replacements).
    assert draw_random.first(seed, "A08", ids, 5) == order[:5]
    assert draw_random.first(seed, "A08", ids, 500) == order
    assert list(draw_random.stream(seed, "A08", [])) == []


def test_randbelow_rejects_the_biased_tail():
    """n = 3·2^62: 2^64 mod n = 2^62, so values from 3·2^62 up are rejected and the next 8 bytes are used."""

    class Scripted:
        def __init__(self, values):
            self.values = list(values)

        def generate(self, n):
            return self.values.pop(0).to_bytes(8, "big")

    n = 3 * 2**62
    assert draw_random.randbelow(Scripted([2**64 - 1, 3 * 2**62, 5]), n) == 5
    assert draw_random.randbelow(Scripted([3 * 2**62 - 1]), n) == 3 * 2**62 - 1
    assert draw_random.randbelow(Scripted([2**64 - 1]), 1) == 0
    with pytest.raises(ValueError):
        draw_random.randbelow(Scripted([]), 0)


# --- No bias: chi-square ----------------------------------------------------------------------------------------------

# Upper-tail critical values of the chi-square distribution at alpha = 0.001: the 0.999 quantile for df degrees of
# freedom (df 9: 27.877, as in the standard tables; df 119: 172.418, from the regularised incomplete gamma function).
CHI2_CRITICAL_0_001 = {9: 27.877, 119: 172.418}


def chi_square(observed: Counter, categories: list, expected: float) -> float:
    return sum((observed.get(c, 0) - expected) ** 2 / expected for c in categories)


def test_chi_square_no_bias_over_equally_eligible_experts():
    """Pearson's chi-square goodness of fit against the uniform distribution, two ways:

    (a) 10 equally eligible experts, 3 seats, 6,000 draws: each expert should sit 1,800 times (df = 9);
    (b) 5 experts, the whole stream, 12,000 draws: each of the 5! = 120 orders should come 100 times (df = 119).

    Seeds are SHA-256("chi2/<i>"): a fixed sequence, so the test gives the same answer on every run. The critical
    value is for alpha = 0.001: a fair draw exceeds it for one seed sequence in a thousand, so a pass says nothing
    is detectably biased and a failure would be strong evidence of bias. test_chi_square_catches_a_biased_shuffle
    shows that the same statistic does flag a subtly wrong shuffle.
    """
    ids = list(range(1, 11))
    counts = Counter()
    draws = 6000
    for i in range(draws):
        seed = hashlib.sha256(f"chi2/{i}".encode()).digest()
        counts.update(draw_random.first(seed, "A08", ids, 3))
    statistic = chi_square(counts, ids, draws * 3 / 10)
    assert statistic < CHI2_CRITICAL_0_001[9], (statistic, counts)

    five = [11, 22, 33, 44, 55]
    perms = Counter()
    rounds = 12000
    for i in range(rounds):
        seed = hashlib.sha256(f"chi2-perm/{i}".encode()).digest()
        perms[tuple(draw_random.first(seed, "B02", five, 5))] += 1
    import itertools

    outcomes = list(itertools.permutations(five))
    assert len(perms) == 120
    statistic = chi_square(perms, outcomes, rounds / 120)
    assert statistic < CHI2_CRITICAL_0_001[119], statistic


def test_chi_square_catches_a_biased_shuffle():
    """The same statistic on a deliberately biased shuffle (j drawn from [i, n-1) instead of [i, n): the last
    expert can never come first) is far above the critical value, so the test above can fail."""
    five = [11, 22, 33, 44, 55]
    perms = Counter()
    rounds = 12000
    for i in range(rounds):
        drbg = draw_random.line_generator(hashlib.sha256(f"biased/{i}".encode()).digest(), "B02")
        a = list(five)
        for k in range(4):
            j = k + draw_random.randbelow(drbg, max(1, len(a) - k - 1))
            a[k], a[j] = a[j], a[k]
        perms[tuple(a)] += 1
    import itertools

    statistic = chi_square(perms, list(itertools.permutations(five)), rounds / 120)
    assert statistic > CHI2_CRITICAL_0_001[119] * 10
