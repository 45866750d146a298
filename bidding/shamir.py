"""k-of-n Shamir secret sharing over GF(2^8) (AES polynomial x^8 + x^4 + x^3 + x + 1, 0x11B), byte by byte.

Used for a tender's rescue key: the 32-byte private scalar of a P-256 key (bidding.envelope.scalar_of) is split
among the opening officers and the key itself is destroyed; any k of them rebuild it at opening
(bidding.envelope.private_key_from_scalar), fewer learn nothing about it. Pure library: no Django.

Each byte of the secret is the constant term of its own random polynomial of degree k-1; share x (1..n) holds
the polynomials' values at x. Shares are written "x-hex" (x in decimal), e.g. "3-9f0c...".
A wrong or foreign share is not detected here: it rebuilds another secret, which then matches no key id.
"""

import functools
import re
import secrets


def _xtime(a: int) -> int:
    a <<= 1
    return a ^ 0x11B if a & 0x100 else a


# Powers of the generator 3 and their logarithms.
_EXP = [0] * 255
_LOG = [0] * 256
_value = 1
for _power in range(255):
    _EXP[_power] = _value
    _LOG[_value] = _power
    _value ^= _xtime(_value)  # times 3
del _value, _power


def _mul(a: int, b: int) -> int:
    if a == 0 or b == 0:
        return 0
    return _EXP[(_LOG[a] + _LOG[b]) % 255]


def _div(a: int, b: int) -> int:
    if b == 0:
        raise ZeroDivisionError("division by zero in GF(256)")
    if a == 0:
        return 0
    return _EXP[(_LOG[a] - _LOG[b]) % 255]


@functools.cache
def _times(c: int) -> bytes:
    """The table of v -> v*c, so that bytes.translate multiplies a whole byte string by c."""
    return bytes(_mul(v, c) for v in range(256))


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


def split(secret: bytes, k: int, n: int) -> list[tuple[int, bytes]]:
    """n shares (x = 1..n) of which any k rebuild `secret`; coefficients come from the `secrets` module."""
    secret = bytes(secret)
    if not secret:
        raise ValueError("the secret must not be empty")
    if type(k) is not int or type(n) is not int or not 2 <= k <= n <= 255:
        raise ValueError("need 2 <= k <= n <= 255")
    # coefficients[0] is the secret; the others are uniformly random.
    coefficients = [secret] + [secrets.token_bytes(len(secret)) for _ in range(k - 1)]
    shares = []
    for x in range(1, n + 1):
        table = _times(x)
        value = coefficients[-1]
        for coefficient in reversed(coefficients[:-1]):  # Horner
            value = _xor(value.translate(table), coefficient)
        shares.append((x, value))
    return shares


def combine(shares: list[tuple[int, bytes]]) -> bytes:
    """The secret from k (or more) shares: Lagrange interpolation at 0. Duplicate x or unequal lengths: ValueError."""
    shares = [(x, bytes(y)) for x, y in shares]
    if len(shares) < 2:
        raise ValueError("need at least 2 shares")
    xs = [x for x, _ in shares]
    if any(type(x) is not int or not 1 <= x <= 255 for x in xs):
        raise ValueError("share numbers must be 1..255")
    if len(set(xs)) != len(xs):
        raise ValueError("duplicate share numbers")
    length = len(shares[0][1])
    if length == 0 or any(len(y) != length for _, y in shares):
        raise ValueError("shares of unequal or zero length")
    secret = bytes(length)
    for i, (xi, yi) in enumerate(shares):
        weight = 1  # prod over j != i of x_j / (x_j - x_i); minus is xor in GF(2^8)
        for j, xj in enumerate(xs):
            if j != i:
                weight = _mul(weight, _div(xj, xj ^ xi))
        secret = _xor(secret, yi.translate(_times(weight)))
    return secret


_SHARE = re.compile(r"([1-9][0-9]{0,2})-((?:[0-9a-fA-F]{2})+)")


def encode_share(share: tuple[int, bytes]) -> str:
    x, y = share
    if type(x) is not int or not 1 <= x <= 255 or not y:
        raise ValueError("a share is (x in 1..255, non-empty bytes)")
    return f"{x}-{bytes(y).hex()}"


def decode_share(text: str) -> tuple[int, bytes]:
    match = _SHARE.fullmatch(text.strip())
    if match is None or int(match[1]) > 255:
        raise ValueError('not a share: expected "x-hex" with x in 1..255')
    return int(match[1]), bytes.fromhex(match[2])
