"""k-of-n Shamir secret sharing over GF(256) (bidding/shamir.py)."""

import itertools
import os
import random

import pytest

from bidding import shamir


@pytest.mark.parametrize(("k", "n"), [(2, 2), (2, 3), (3, 5), (4, 7), (5, 5), (7, 10), (255, 255)])
def test_any_k_shares_rebuild_the_secret_and_k_minus_1_do_not(k, n):
    secret = os.urandom(32)
    shares = shamir.split(secret, k, n)
    assert [x for x, _ in shares] == list(range(1, n + 1))
    assert all(len(y) == 32 for _, y in shares)
    subsets = list(itertools.combinations(shares, k))
    for subset in random.sample(subsets, min(len(subsets), 60)):
        assert shamir.combine(random.sample(list(subset), k)) == secret  # in any order
    assert shamir.combine(shares) == secret  # more than k is fine
    fewer = list(itertools.combinations(shares, k - 1)) if k > 2 else []
    for subset in random.sample(fewer, min(len(fewer), 60)):
        assert shamir.combine(list(subset)) != secret  # equal by chance: 2^-256


@pytest.mark.parametrize("length", [1, 2, 31, 32, 33, 1000])
def test_secrets_of_any_length(length):
    secret = os.urandom(length)
    shares = shamir.split(secret, 3, 4)
    assert shamir.combine(shares[1:]) == secret
    assert shamir.combine([shares[3], shares[0], shares[2]]) == secret


def test_known_answer_with_the_aes_field():
    # k=2, secret 0x42, coefficient 0x57: f(x) = 0x42 ^ 0x57*x. FIPS-197 §4.2: 0x57 * 0x83 = 0xc1; and 0x57 * 1 = 0x57.
    assert shamir.combine([(1, bytes([0x42 ^ 0x57])), (0x83, bytes([0x42 ^ 0xC1]))]) == b"\x42"
    assert shamir._mul(0x57, 0x13) == 0xFE  # FIPS-197 §4.2.1
    assert shamir._mul(0x53, 0xCA) == 1  # inverses (FIPS-197 §5.1.1 example)


def test_coefficients_come_from_the_secrets_module(monkeypatch):
    calls = []

    def token_bytes(n):
        calls.append(n)
        return bytes(n)  # all-zero coefficients: every share equals the secret

    monkeypatch.setattr(shamir.secrets, "token_bytes", token_bytes)
    assert shamir.split(b"\x01\x02\x03", 4, 6) == [(x, b"\x01\x02\x03") for x in range(1, 7)]
    assert calls == [3, 3, 3]


def test_two_splits_of_the_same_secret_differ():
    secret = os.urandom(32)
    assert shamir.split(secret, 2, 3) != shamir.split(secret, 2, 3)


def test_split_refuses_bad_parameters():
    for k, n in [(1, 3), (0, 0), (4, 3), (2, 256), (2.0, 3), (True, 3)]:
        with pytest.raises(ValueError):
            shamir.split(b"secret", k, n)
    with pytest.raises(ValueError):
        shamir.split(b"", 2, 3)


def test_combine_refuses_duplicates_unequal_lengths_and_bad_numbers():
    shares = shamir.split(os.urandom(32), 2, 3)
    for bad in [
        [shares[0], shares[0]],  # duplicate x
        [shares[0], (shares[0][0], shares[1][1])],  # duplicate x, other value
        [shares[0], (shares[1][0], shares[1][1][:31])],  # unequal lengths
        [(0, shares[0][1]), shares[1]],  # x = 0 is the secret itself
        [(256, shares[0][1]), shares[1]],
        [(1, b""), (2, b"")],
        [shares[0]],
        [],
    ]:
        with pytest.raises(ValueError):
            shamir.combine(bad)


def test_share_text_encoding():
    shares = shamir.split(os.urandom(32), 3, 255)
    for share in shares[:3] + shares[-3:]:
        text = shamir.encode_share(share)
        assert text == f"{share[0]}-{share[1].hex()}"
        assert shamir.decode_share(text) == share
        assert shamir.decode_share(f"  {text.upper()}\n") == share
    for bad in ["", "1", "1-", "0-ab", "256-ab", "01-ab", "1-abc", "1-zz", "x-ab", "1_ab", "-1-ab"]:
        with pytest.raises(ValueError):
            shamir.decode_share(bad)
    for bad in [(0, b"a"), (256, b"a"), (1, b"")]:
        with pytest.raises(ValueError):
            shamir.encode_share(bad)
