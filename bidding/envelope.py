"""Sealed-bid envelope, format v1: a bid the platform cannot read before opening (法22, 法36).

The bidder's program encrypts the bid to the bidder's own P-256 key (and, optionally, to the tender's rescue
key, whose private half exists only as Shamir shares held by the opening officers: bidding/shamir.py).
The platform stores ciphertext and checks its clear header, which names neither lot, bidder nor key (法22:
whoever reads the store must not learn who bid), and can decrypt only with a data key released at opening;
then check_binding proves the envelope was sealed for that lot and bidder.

Layout, fields and every check: docs/sealed-bid-format.md. Vectors: docs/sealed-bid-vectors.json
(bidding/vectors.py); frontend/web/src/sealed/envelope.ts implements the same format with WebCrypto.

Pure library: no Django, so the bidder's tools and the opening station can use it as is.
"""

import base64
import contextlib
import functools
import hashlib
import hmac
import io
import json
import os
import re
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"TRSEAL\x00\x01"
FORMAT = "trading-sealed-bid"
VERSION = 1
ALG = "ECDH-ES-P256+HKDF-SHA256+A256GCM"
COMMIT_LABEL = b"trading-sealed-bid/v1/commit"
WRAP_LABEL = b"trading-sealed-bid/v1/wrap"
BINDING_LABEL = b"trading-sealed-bid/v1/binding"

PREFIX_SIZE = 12  # magic (8) + header length (4)
MAX_HEADER = 64 * 1024
MAX_PREFIX = PREFIX_SIZE + MAX_HEADER  # read at most this much to get a header
MIN_CHUNK_SIZE = 1 << 16
MAX_CHUNK_SIZE = 1 << 24
DEFAULT_CHUNK_SIZE = 1 << 20
MAX_SIZE = (1 << 53) - 1  # exact in a JavaScript number
MAX_CHUNKS = 1 << 32  # the chunk index is a u32
TAG_SIZE = 16
KEY_SIZE = 32
NONCE_PREFIX_SIZE = 7
IV_SIZE = 12
POINT_SIZE = 65
WRAPPED_SIZE = KEY_SIZE + TAG_SIZE

_HEADER_KEYS = frozenset({"format", "version", "size", "chunk_size", "nonce_prefix", "commitment", "binding", "recipients"})
_RECIPIENT_KEYS = frozenset({"type", "alg", "epk", "iv", "wrapped"})
_LOT = re.compile(r"[0-9A-Z]{30}")  # unified transaction code (trading/codes.py checks the check character)
_BIDDER = re.compile(r"[0-9A-HJ-NP-RTUWXY]{18}")  # unified social credit code, GB 32100-2015 charset
_CURVE = ec.SECP256R1()
# P-256 group order: a private scalar is 1..N-1.
_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

_MESSAGES = {
    "not_sealed": ("不是有效的密封投标文件", "not a sealed bid envelope"),
    "wrong_key": ("密钥与该投标文件不符", "wrong key for this envelope"),
    "tampered": ("投标文件内容已被篡改", "the envelope has been tampered with"),
    "truncated": ("投标文件不完整或含多余数据", "the envelope is truncated or has trailing bytes"),
    "no_recipient": ("该密钥不是此投标文件的接收方", "this key is not a recipient of the envelope"),
    "wrong_envelope": ("该投标文件是为其他标段或投标人密封的", "the envelope was sealed for another lot or bidder"),
}


class EnvelopeError(Exception):
    """The envelope cannot be read: `code` is one of _MESSAGES; `zh` and `en` say why; `detail` says where."""

    def __init__(self, code: str, detail: str = ""):
        self.code = code
        self.zh, self.en = _MESSAGES[code]
        self.detail = detail
        super().__init__(f"{self.zh} / {self.en}" + (f" ({detail})" if detail else ""))


@dataclass(frozen=True)
class Recipient:
    type: str  # "bidder" or "rescue"
    alg: str
    epk: bytes  # ephemeral public key, uncompressed point (65 bytes)
    iv: bytes  # 12 bytes
    wrapped: bytes  # AES-256-GCM(KEK, iv, data key): 48 bytes

    def to_json(self) -> dict:
        return {
            "type": self.type,
            "alg": self.alg,
            "epk": _b64(self.epk),
            "iv": _b64(self.iv),
            "wrapped": _b64(self.wrapped),
        }


@dataclass(frozen=True)
class Header:
    size: int
    chunk_size: int
    nonce_prefix: bytes
    commitment: bytes
    binding: bytes  # HMAC-SHA256(data key, label || nonce prefix || lot || 0x1F || bidder): check_binding()
    recipients: tuple[Recipient, ...]
    raw: bytes  # the exact bytes 0..12+L: magic, length and header JSON

    @functools.cached_property
    def digest(self) -> bytes:
        """SHA-256 of `raw`: the associated data of every chunk."""
        return hashlib.sha256(self.raw).digest()

    @property
    def chunk_count(self) -> int:
        return _chunk_count(self.size, self.chunk_size)

    @property
    def envelope_size(self) -> int:
        return len(self.raw) + self.size + TAG_SIZE * self.chunk_count


# Keys ------------------------------------------------------------------------------------------------------------


def generate_key_pair() -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    """A new P-256 key: the private key and its public key as SubjectPublicKeyInfo DER."""
    private_key = ec.generate_private_key(_CURVE)
    return private_key, public_key_der(private_key.public_key())


def load_public_key(spki_der_or_pem: bytes) -> ec.EllipticCurvePublicKey:
    """A P-256 public key from SubjectPublicKeyInfo (DER or PEM); anything else is refused with ValueError."""
    data = bytes(spki_der_or_pem)
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(data)
        else:
            key = serialization.load_der_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ValueError("不是 P-256 公钥 / not a P-256 public key (SubjectPublicKeyInfo, DER or PEM)") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("不是 P-256 公钥 / not a P-256 public key (SubjectPublicKeyInfo, DER or PEM)")
    return key


def public_key_der(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """The canonical SubjectPublicKeyInfo DER (named curve, uncompressed point: 91 bytes)."""
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id(spki_der: bytes) -> str:
    """First 32 hex characters of SHA-256 over the canonical SPKI DER of a P-256 public key.

    For the platform's registry of keys only: envelopes do not carry key ids."""
    return hashlib.sha256(public_key_der(load_public_key(spki_der))).hexdigest()[:32]


def export_private_key(private_key: ec.EllipticCurvePrivateKey, passphrase: bytes) -> bytes:
    """PKCS#8 PEM encrypted with the passphrase: the file the bidder keeps."""
    if not passphrase:
        raise ValueError("口令不能为空 / the passphrase must not be empty")
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(bytes(passphrase))
    )


def import_private_key(data: bytes, passphrase: bytes | None = None) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key from PKCS#8 (PEM or DER, encrypted or not). Wrong passphrase or key type: ValueError."""
    data = bytes(data)
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_private_key(data, passphrase)
        else:
            key = serialization.load_der_private_key(data, passphrase)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ValueError(
            "无法读取私钥（口令错误或格式不符） / cannot load the private key (wrong passphrase or format)"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("不是 P-256 私钥 / not a P-256 private key")
    return key


def private_key_from_scalar(scalar: bytes) -> ec.EllipticCurvePrivateKey:
    """The P-256 private key whose scalar is these 32 big-endian bytes (e.g. recombined Shamir shares)."""
    if len(scalar) != 32:
        raise ValueError("私钥标量应为32字节 / the private scalar must be 32 bytes")
    value = int.from_bytes(scalar, "big")
    if not 0 < value < _N:
        raise ValueError("私钥标量超出范围 / the private scalar is out of range")
    return ec.derive_private_key(value, _CURVE)


def scalar_of(private_key: ec.EllipticCurvePrivateKey) -> bytes:
    """The private scalar as 32 big-endian bytes (what bidding/shamir.py splits)."""
    return private_key.private_numbers().private_value.to_bytes(32, "big")


# Sealing --------------------------------------------------------------------------------------------------------


def seal(
    chunks: Iterable[bytes],
    *,
    size: int,
    lot: str,
    bidder: str,
    bidder_public_key: bytes,
    rescue_public_key: bytes | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    _data_key: bytes | None = None,
    _nonce_prefix: bytes | None = None,
    _ephemeral: list[ec.EllipticCurvePrivateKey] | None = None,
    _ivs: list[bytes] | None = None,
) -> Iterator[bytes]:
    """Encrypts `size` bytes given as pieces of any sizes; yields the header, then one ciphertext chunk at a time.

    Arguments are checked at once (ValueError). If the pieces add up to more or less than `size`, the iterator
    raises ValueError before yielding the last chunk: discard what it produced. The underscored parameters fix
    the randoms, for test vectors only.
    """
    header, data_key = _prepare(
        size=size,
        lot=lot,
        bidder=bidder,
        bidder_public_key=bidder_public_key,
        rescue_public_key=rescue_public_key,
        chunk_size=chunk_size,
        data_key=_data_key,
        nonce_prefix=_nonce_prefix,
        ephemeral=_ephemeral,
        ivs=_ivs,
    )
    return _seal_stream(header, data_key, chunks)


def seal_file(path: str | os.PathLike, out_path: str | os.PathLike, **kw) -> Header:
    """Seals the file at `path` into `out_path` (removed again if sealing fails); `kw` as for seal()."""
    size = os.path.getsize(path)
    piece = kw.get("chunk_size", DEFAULT_CHUNK_SIZE)
    with open(path, "rb") as src:
        stream = seal(iter(functools.partial(src.read, piece), b""), size=size, **kw)
        try:
            with open(out_path, "wb") as dst:
                first = next(stream)
                dst.write(first)
                for part in stream:
                    dst.write(part)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(out_path)
            raise
    return read_header(io.BytesIO(first).read)


def _prepare(*, size, lot, bidder, bidder_public_key, rescue_public_key, chunk_size, data_key, nonce_prefix, ephemeral, ivs):
    if type(size) is not int or not 0 <= size <= MAX_SIZE:
        raise ValueError(f"size must be an int from 0 to {MAX_SIZE}")
    if type(chunk_size) is not int or not _valid_chunk_size(chunk_size):
        raise ValueError("chunk_size must be a power of two from 65536 to 16777216")
    if not isinstance(lot, str) or not _LOT.fullmatch(lot):
        raise ValueError("lot must be a 30-character unified transaction code")
    if not isinstance(bidder, str) or not _BIDDER.fullmatch(bidder):
        raise ValueError("bidder must be an 18-character unified social credit code")
    keys = [("bidder", load_public_key(bidder_public_key))]
    if rescue_public_key is not None:
        keys.append(("rescue", load_public_key(rescue_public_key)))
        if _point(keys[1][1]) == _point(keys[0][1]):
            raise ValueError("the rescue key must differ from the bidder's key")
    data_key = os.urandom(KEY_SIZE) if data_key is None else bytes(data_key)
    nonce_prefix = os.urandom(NONCE_PREFIX_SIZE) if nonce_prefix is None else bytes(nonce_prefix)
    ephemeral = [None] * len(keys) if ephemeral is None else list(ephemeral)
    ivs = [None] * len(keys) if ivs is None else list(ivs)
    if (
        len(data_key) != KEY_SIZE
        or len(nonce_prefix) != NONCE_PREFIX_SIZE
        or len(ephemeral) != len(keys)
        or len(ivs) != len(keys)
    ):
        raise ValueError("fixed randoms: 32-byte data key, 7-byte nonce prefix, one ephemeral key and one iv per recipient")
    recipients = tuple(
        wrap_key(data_key, public_key, type_=type_, lot=lot, bidder=bidder, _ephemeral=e, _iv=iv)
        for (type_, public_key), e, iv in zip(keys, ephemeral, ivs, strict=True)
    )
    body = {
        "format": FORMAT,
        "version": VERSION,
        "size": size,
        "chunk_size": chunk_size,
        "nonce_prefix": _b64(nonce_prefix),
        "commitment": _b64(commitment(data_key, nonce_prefix)),
        "binding": _b64(binding(data_key, nonce_prefix, lot, bidder)),
        "recipients": [r.to_json() for r in recipients],
    }
    try:
        header = encode_header(body)
    except EnvelopeError as error:  # the writer only writes what the reader accepts
        raise ValueError(error.detail) from None
    return header, data_key


def encode_header(fields: dict) -> Header:
    """The header for these JSON fields, written canonically and checked as a reader would."""
    body = canonical_json(fields)
    return _parse(MAGIC + struct.pack(">I", len(body)) + body)


def canonical_json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def commitment(data_key: bytes, nonce_prefix: bytes) -> bytes:
    """HMAC-SHA256(data key, label || nonce prefix): binds the header to one data key (AES-GCM does not)."""
    return hmac.new(data_key, COMMIT_LABEL + nonce_prefix, hashlib.sha256).digest()


def binding(data_key: bytes, nonce_prefix: bytes, lot: str, bidder: str) -> bytes:
    """HMAC-SHA256(data key, label || nonce prefix || lot || 0x1F || bidder): whom the envelope was sealed for.

    Without the data key it says nothing (a PRF output), so the stored envelope does not name lot or bidder."""
    return hmac.new(data_key, BINDING_LABEL + nonce_prefix + _wrap_aad(lot, bidder), hashlib.sha256).digest()


def wrap_key(
    data_key: bytes,
    public_key: ec.EllipticCurvePublicKey,
    *,
    type_: str,
    lot: str,
    bidder: str,
    _ephemeral: ec.EllipticCurvePrivateKey | None = None,
    _iv: bytes | None = None,
) -> Recipient:
    """The data key wrapped for one recipient: ECDH with a fresh ephemeral key, HKDF, AES-256-GCM.

    The KEK is bound to the recipient's public key (HKDF salt and info) and the wrap to lot and bidder (AAD);
    nothing in the result names the recipient."""
    ephemeral = ec.generate_private_key(_CURVE) if _ephemeral is None else _ephemeral
    iv = os.urandom(IV_SIZE) if _iv is None else bytes(_iv)
    if len(iv) != IV_SIZE:
        raise ValueError("iv must be 12 bytes")
    epk = _point(ephemeral.public_key())
    kek = _kek(ephemeral.exchange(ec.ECDH(), public_key), epk, _point(public_key))
    wrapped = AESGCM(kek).encrypt(iv, data_key, _wrap_aad(lot, bidder))
    return Recipient(type=type_, alg=ALG, epk=epk, iv=iv, wrapped=wrapped)


def _seal_stream(header: Header, data_key: bytes, chunks: Iterable[bytes]) -> Iterator[bytes]:
    aead = AESGCM(data_key)
    aad = header.digest
    prefix = header.nonce_prefix
    size, chunk_size, count = header.size, header.chunk_size, header.chunk_count
    last_size = size - (count - 1) * chunk_size
    yield header.raw
    buffer = None  # allocated once, only if pieces do not fall on chunk boundaries
    filled = index = total = 0
    want = chunk_size if count > 1 else last_size
    held = None  # the last chunk, yielded only once the input is known to end there
    for piece in chunks:
        view = memoryview(piece)
        total += len(view)
        if total > size:
            raise ValueError(f"the input is longer than size={size}")
        while len(view):
            if not filled and len(view) >= want:
                plain, view = view[:want], view[want:]
            else:
                if buffer is None:
                    buffer = memoryview(bytearray(chunk_size))
                take = min(want - filled, len(view))
                buffer[filled : filled + take] = view[:take]
                filled += take
                view = view[take:]
                if filled < want:
                    break
                plain, filled = buffer[:want], 0
            last = index == count - 1
            sealed = aead.encrypt(prefix + struct.pack(">IB", index, last), plain, aad)
            if last:
                held = sealed
            else:
                yield sealed
            index += 1
            want = chunk_size if index < count - 1 else last_size
    if total != size:
        raise ValueError(f"the input has {total} bytes, size={size}")
    if size == 0:
        held = aead.encrypt(prefix + struct.pack(">IB", 0, 1), b"", aad)
    yield held


# Reading --------------------------------------------------------------------------------------------------------


def read_header(read: Callable[[int], bytes]) -> Header:
    """Reads exactly the magic, length and header through `read(n)` (which may return short) and checks them all."""
    prefix = _read_exactly(read, PREFIX_SIZE)
    if len(prefix) < 8 or prefix[:8] != MAGIC:
        raise EnvelopeError("not_sealed", "bad magic")
    if len(prefix) < PREFIX_SIZE:
        raise EnvelopeError("truncated", "the stream ends inside the prefix")
    (length,) = struct.unpack(">I", prefix[8:])
    if not 0 < length <= MAX_HEADER:
        raise EnvelopeError("not_sealed", f"header length {length} is not 1..{MAX_HEADER}")
    body = _read_exactly(read, length)
    if len(body) < length:
        raise EnvelopeError("truncated", "the stream ends inside the header")
    return _parse(prefix + body)


def unwrap_key(header: Header, private_key: ec.EllipticCurvePrivateKey, *, lot: str, bidder: str) -> bytes:
    """The data key, unwrapped with a recipient's private key for the envelope of `lot` and `bidder`.

    The envelope names no recipient, so each one is tried (the bidder first). A wrap opens only with the
    recipient's key and the lot and bidder it was sealed for: if none opens, no_recipient. The key that opens
    is checked against the commitment (wrong_key) and the binding (wrong_envelope) before it is returned.
    """
    if not isinstance(private_key, ec.EllipticCurvePrivateKey) or not isinstance(private_key.curve, ec.SECP256R1):
        raise ValueError("not a P-256 private key")
    if not isinstance(lot, str) or not isinstance(bidder, str):
        raise ValueError("lot and bidder must be strings")
    point = _point(private_key.public_key())
    aad = _wrap_aad(lot, bidder)
    for recipient in header.recipients:
        epk = ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, recipient.epk)
        kek = _kek(private_key.exchange(ec.ECDH(), epk), recipient.epk, point)
        try:
            data_key = AESGCM(kek).decrypt(recipient.iv, recipient.wrapped, aad)
        except InvalidTag:
            continue
        check_binding(header, data_key, lot, bidder)  # the commitment first (wrong_key), then the binding
        return data_key
    raise EnvelopeError("no_recipient", "no recipient unwraps with this key for this lot and bidder")


def check_key(header: Header, data_key: bytes) -> None:
    """Raises wrong_key unless the header's commitment is for this data key (constant-time comparison)."""
    if len(data_key) != KEY_SIZE or not hmac.compare_digest(commitment(bytes(data_key), header.nonce_prefix), header.commitment):
        raise EnvelopeError("wrong_key", "the data key does not match the commitment")


def check_binding(header: Header, data_key: bytes, lot: str, bidder: str) -> None:
    """Raises wrong_envelope unless the envelope was sealed for this lot and bidder (constant-time comparison).

    The data key is checked against the commitment first (wrong_key), so wrong_envelope always means another
    lot or bidder, never a wrong key. The platform can check this only once it has the data key, at opening.
    """
    if not isinstance(lot, str) or not isinstance(bidder, str):
        raise ValueError("lot and bidder must be strings")
    check_key(header, data_key)
    if not hmac.compare_digest(binding(bytes(data_key), header.nonce_prefix, lot, bidder), header.binding):
        raise EnvelopeError("wrong_envelope", "the binding is not for this lot and bidder")


def decrypt_chunks(header: Header, data_key: bytes, body: Iterable[bytes]) -> Iterator[bytes]:
    """Plaintext chunk by chunk from the ciphertext after the header, given in pieces of any sizes.

    The key is checked against the commitment now, before any decryption. Each yielded chunk is authentic;
    the bid is complete only if the iterator ends without EnvelopeError (tampered, truncated), so write the
    plaintext somewhere temporary and keep it only then. The last chunk is held back until the body ends.
    """
    check_key(header, data_key)
    return _decrypt_stream(header, bytes(data_key), body)


def open_envelope(pieces: Iterable[bytes], data_key: bytes) -> tuple[Header, Iterator[bytes]]:
    """The header and the plaintext chunks of a whole envelope given in pieces of any sizes."""
    reader = _PieceReader(pieces)
    header = read_header(reader.read)
    return header, decrypt_chunks(header, data_key, reader.rest())


def _sealed_chunks(header: Header, body: Iterable[bytes]) -> Iterator[tuple[int, bool, memoryview]]:
    """(index, last, sealed chunk) from the ciphertext after the header, given in pieces of any sizes. A view is
    valid until the next item. Raises truncated if the body ends early or goes on after the last chunk."""
    count = header.chunk_count
    full = header.chunk_size + TAG_SIZE
    last_size = header.size - (count - 1) * header.chunk_size + TAG_SIZE
    buffer = None  # allocated once, only if pieces do not fall on chunk boundaries
    filled = index = 0
    want = full if count > 1 else last_size
    for piece in body:
        view = memoryview(piece)
        while len(view):
            if index == count:
                raise EnvelopeError("truncated", "trailing bytes after the last chunk")
            if not filled and len(view) >= want:
                sealed, view = view[:want], view[want:]
            else:
                if buffer is None:
                    buffer = memoryview(bytearray(want))
                take = min(want - filled, len(view))
                buffer[filled : filled + take] = view[:take]
                filled += take
                view = view[take:]
                if filled < want:
                    break
                sealed, filled = buffer[:want], 0
            yield index, index == count - 1, sealed
            index += 1
            want = full if index < count - 1 else last_size
    if index < count:
        raise EnvelopeError("truncated", f"the body ends after {index} of {count} chunks")


def verify_envelope(pieces: Iterable[bytes], data_key: bytes) -> tuple[Header, int]:
    """The header and the plaintext size of a whole envelope given in pieces, every chunk authenticated."""
    reader = _PieceReader(pieces)
    header = read_header(reader.read)
    return header, verify_chunks(header, data_key, reader.rest())


def _decrypt_stream(header: Header, data_key: bytes, body: Iterable[bytes]) -> Iterator[bytes]:
    aead = AESGCM(data_key)
    aad = header.digest
    prefix = header.nonce_prefix
    held = None  # the last plaintext chunk, yielded once the body is known to end there
    for index, last, sealed in _sealed_chunks(header, body):
        try:
            plain = aead.decrypt(prefix + struct.pack(">IB", index, last), sealed, aad)
        except InvalidTag:
            raise EnvelopeError("tampered", f"chunk {index} fails authentication") from None
        if last:
            held = plain
        else:
            yield plain
    yield held


def body_length(header: Header) -> int:
    """The length of the ciphertext after the header: every chunk with its tag."""
    return header.size + header.chunk_count * TAG_SIZE


def chunk_verifier(header: Header, data_key: bytes) -> Callable[[int, memoryview], int]:
    """verify(index, sealed chunk) -> plaintext length, raising tampered: each chunk decrypted into one reused
    buffer and its tag checked, nothing kept. The key is checked against the commitment first."""
    check_key(header, data_key)
    key = algorithms.AES(bytes(data_key))
    aad = header.digest
    prefix = header.nonce_prefix
    last_index = header.chunk_count - 1
    out = bytearray(header.chunk_size + 15)  # update_into wants room for a block more

    def verify(index: int, sealed: memoryview) -> int:
        nonce = prefix + struct.pack(">IB", index, index == last_index)
        decryptor = Cipher(key, modes.GCM(nonce, bytes(sealed[-TAG_SIZE:]))).decryptor()
        decryptor.authenticate_additional_data(aad)
        n = decryptor.update_into(sealed[:-TAG_SIZE], out)
        try:
            decryptor.finalize()
        except InvalidTag:
            raise EnvelopeError("tampered", f"chunk {index} fails authentication") from None
        return n

    return verify


def verify_chunks(header: Header, data_key: bytes, body: Iterable[bytes]) -> int:
    """Authenticates every chunk of the ciphertext after the header and returns the plaintext size, keeping no
    plaintext: decrypt_chunks' checks (commitment first, then tampered, truncated)."""
    verify = chunk_verifier(header, data_key)
    return sum(verify(index, sealed) for index, _, sealed in _sealed_chunks(header, body))


class _PieceReader:
    """`read(n)` over an iterable of pieces, then the rest of the pieces."""

    def __init__(self, pieces: Iterable[bytes]):
        self._pieces = iter(pieces)
        self._pending = memoryview(b"")

    def read(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            if not len(self._pending):
                try:
                    self._pending = memoryview(next(self._pieces))
                except StopIteration:
                    break
            take = min(n - len(out), len(self._pending))
            out += self._pending[:take]
            self._pending = self._pending[take:]
        return bytes(out)

    def rest(self) -> Iterator[bytes]:
        if len(self._pending):
            yield self._pending
        self._pending = memoryview(b"")
        yield from self._pieces


def _parse(raw: bytes) -> Header:
    """Every check on the prefix and header; `raw` is exactly bytes 0..12+L."""

    def need(condition: bool, detail: str) -> None:
        if not condition:
            raise EnvelopeError("not_sealed", detail)

    need(raw[:8] == MAGIC and len(raw) >= PREFIX_SIZE, "bad magic")
    (length,) = struct.unpack(">I", raw[8:PREFIX_SIZE])
    need(0 < length <= MAX_HEADER and len(raw) == PREFIX_SIZE + length, "bad header length")
    body = raw[PREFIX_SIZE:]
    try:
        fields = json.loads(body.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError):
        raise EnvelopeError("not_sealed", "the header is not JSON") from None
    need(isinstance(fields, dict) and set(fields) == _HEADER_KEYS, "header fields missing or unknown")
    need(fields["format"] == FORMAT, "format is not trading-sealed-bid")
    need(type(fields["version"]) is int and fields["version"] == VERSION, "unsupported version")
    size, chunk_size = fields["size"], fields["chunk_size"]
    need(type(size) is int and 0 <= size <= MAX_SIZE, "bad size")
    need(type(chunk_size) is int and _valid_chunk_size(chunk_size), "bad chunk_size")
    need(_chunk_count(size, chunk_size) <= MAX_CHUNKS, "too many chunks")
    nonce_prefix = _unb64(fields["nonce_prefix"], NONCE_PREFIX_SIZE, "nonce_prefix")
    commit = _unb64(fields["commitment"], 32, "commitment")
    bind = _unb64(fields["binding"], 32, "binding")
    entries = fields["recipients"]
    need(isinstance(entries, list) and 1 <= len(entries) <= 2, "recipients: one bidder, at most one rescue")
    recipients = []
    for position, entry in enumerate(entries):
        need(isinstance(entry, dict) and set(entry) == _RECIPIENT_KEYS, "recipient fields missing or unknown")
        need(entry["type"] == ("bidder", "rescue")[position], "recipients: the bidder first, then at most one rescue")
        need(entry["alg"] == ALG, "unsupported alg")
        epk = _unb64(entry["epk"], POINT_SIZE, "epk")
        need(epk[0] == 4, "epk is not an uncompressed point")
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, epk)
        except ValueError:
            raise EnvelopeError("not_sealed", "epk is not a P-256 point") from None
        iv = _unb64(entry["iv"], IV_SIZE, "iv")
        wrapped = _unb64(entry["wrapped"], WRAPPED_SIZE, "wrapped")
        recipients.append(Recipient(type=entry["type"], alg=ALG, epk=epk, iv=iv, wrapped=wrapped))
    need(canonical_json(fields) == body, "the header is not canonical JSON")
    return Header(
        size=size,
        chunk_size=chunk_size,
        nonce_prefix=nonce_prefix,
        commitment=commit,
        binding=bind,
        recipients=tuple(recipients),
        raw=bytes(raw),
    )


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key")
    return result


def _no_constant(name: str) -> None:
    raise ValueError(name)


def _unb64(value: object, size: int, name: str) -> bytes:
    """Strict base64 (standard alphabet, padded, canonical) of exactly `size` bytes."""
    if isinstance(value, str) and value.isascii():
        try:
            data = base64.b64decode(value, validate=True)
        except ValueError:
            data = None
        if data is not None and len(data) == size and _b64(data) == value:
            return data
    raise EnvelopeError("not_sealed", f"{name} is not base64 of {size} bytes")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _valid_chunk_size(chunk_size: int) -> bool:
    return MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE and chunk_size & (chunk_size - 1) == 0


def _chunk_count(size: int, chunk_size: int) -> int:
    return max(1, -(-size // chunk_size))


def _point(public_key: ec.EllipticCurvePublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def _kek(shared: bytes, epk: bytes, recipient_point: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=epk + recipient_point, info=WRAP_LABEL + recipient_point)
    return hkdf.derive(shared)


def _wrap_aad(lot: str, bidder: str) -> bytes:
    return lot.encode() + b"\x1f" + bidder.encode()


def _read_exactly(read: Callable[[int], bytes], n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        piece = read(n - len(out))
        if not piece:
            break
        out += piece
    return bytes(out)
