"""Sealing: data that nobody may read before a lot's bid deadline (法22), not even a database reader.

Keys derive from settings.SEALING_KEY with HKDF-SHA256, one per purpose and scope, so a sealed row
carries neither the lot nor the party in clear. Sealed rows hold AES-256-GCM ciphertext (12-byte
random nonce || ciphertext+tag); the scope is bound as associated data. Blind indexes (HMAC-SHA256)
let a party find its own row without revealing it to anybody else.
"""

import hashlib
import hmac
import json
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder


class SealBroken(Exception):
    """The ciphertext does not open with this key: another scope's row, or tampered."""


def derive_key(purpose: str, scope: str = "") -> bytes:
    info = f"trading/{purpose}/{scope}".encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(settings.SEALING_KEY)


def seal(purpose: str, scope: str, payload: dict) -> bytes:
    nonce = os.urandom(12)
    data = json.dumps(payload, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":")).encode()
    return nonce + AESGCM(derive_key(purpose, scope)).encrypt(nonce, data, f"{purpose}/{scope}".encode())


def unseal(purpose: str, scope: str, blob: bytes) -> dict:
    blob = bytes(blob)
    try:
        data = AESGCM(derive_key(purpose, scope)).decrypt(blob[:12], blob[12:], f"{purpose}/{scope}".encode())
    except (InvalidTag, ValueError):
        raise SealBroken(purpose) from None
    return json.loads(data)


def blind_index(purpose: str, *parts: object) -> str:
    message = "\x1f".join(str(p) for p in parts).encode()
    return hmac.new(derive_key(purpose, "index"), message, hashlib.sha256).hexdigest()
