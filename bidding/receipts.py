"""Bid receipts (回执): canonical JSON signed by the platform with Ed25519, verifiable offline.

No Django here beyond `platform_private_key`, so `python -m bidding.client verify-receipt` can use it anywhere.
"""

import base64
import hashlib
import json

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


def canonical(payload: dict) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def platform_private_key() -> Ed25519PrivateKey:
    from django.conf import settings

    return Ed25519PrivateKey.from_private_bytes(settings.PLATFORM_SIGNING_KEY)


def public_key_pem(private_key: Ed25519PrivateKey) -> str:
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def public_key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def sign(payload: dict, private_key: Ed25519PrivateKey) -> dict:
    """The receipt as handed out: the payload plus `signature` (base64 Ed25519 over the canonical payload)."""
    payload = {**payload, "platform_key": public_key_id(private_key.public_key())}
    return {**payload, "signature": base64.b64encode(private_key.sign(canonical(payload))).decode()}


def verify(receipt: dict, public_key_pem_text: str) -> bool:
    public_key = serialization.load_pem_public_key(public_key_pem_text.encode())
    if not isinstance(public_key, Ed25519PublicKey):
        return False
    payload = {k: v for k, v in receipt.items() if k != "signature"}
    try:
        public_key.verify(base64.b64decode(receipt["signature"]), canonical(payload))
    except (InvalidSignature, KeyError, ValueError):
        return False
    return True
