"""decrypt_object and verify_object stream: a 64 MiB bid costs them a few reads' worth at the peak (tracemalloc).

Measured on the local-disk store: the test's S3 endpoint (moto) runs in this very process and keeps every object
in memory, so tracemalloc would count the server's copy of the bid, not the decryption's."""

import hashlib
import io
import os
import tracemalloc

import pytest

from bidding import envelope
from bidding.services.opening import decrypt_object, verify_object

MiB = 1024 * 1024
LOT = "91450102000000057020261030001I"
BIDDER = "914501020000000091"


def _sealed_64_mib(local_store, tmp_path) -> tuple[bytes, str]:
    """A 64 MiB random bid stored sealed at bids/large: (its data key, the plaintext's SHA-256)."""
    plain, sealed = tmp_path / "bid.zip", tmp_path / "bid.sealed"
    digest = hashlib.sha256()
    with open(plain, "wb") as f:
        for _ in range(64):
            block = os.urandom(MiB)
            digest.update(block)
            f.write(block)
    private_key, spki = envelope.generate_key_pair()
    header = envelope.seal_file(plain, sealed, lot=LOT, bidder=BIDDER, bidder_public_key=spki)
    with open(sealed, "rb") as f:
        local_store.put("bids/large", f, length=sealed.stat().st_size)
    return envelope.unwrap_key(header, private_key, lot=LOT, bidder=BIDDER), digest.hexdigest()


def _peak(function, *args):
    tracemalloc.start()
    try:
        result = function(*args)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


def test_decrypting_a_64_mib_bid_stays_under_16_mib(local_store, tmp_path):
    data_key, sha256 = _sealed_64_mib(local_store, tmp_path)
    (_, size, stored_sha256), peak = _peak(decrypt_object, local_store, "bids/large", "opened/large", data_key)
    assert (size, stored_sha256) == (64 * MiB, sha256)
    assert local_store.stat("opened/large").size == 64 * MiB
    assert peak < 16 * MiB, f"peak {peak / MiB:.1f} MiB"


def test_verifying_a_64_mib_bid_stays_under_24_mib(local_store, tmp_path):
    """At most PREFETCH queued reads, one being read and one being decrypted (4 MiB each), and one chunk."""
    data_key, _ = _sealed_64_mib(local_store, tmp_path)
    (header, size), peak = _peak(verify_object, local_store, "bids/large", data_key)
    assert size == header.size == 64 * MiB
    assert peak < 24 * MiB, f"peak {peak / MiB:.1f} MiB"


def test_a_failed_decryption_leaves_no_object(local_store, tmp_path):
    plain, sealed = tmp_path / "bid.zip", tmp_path / "bid.sealed"
    plain.write_bytes(os.urandom(3 * 65536 + 10))
    private_key, spki = envelope.generate_key_pair()
    header = envelope.seal_file(plain, sealed, lot=LOT, bidder=BIDDER, bidder_public_key=spki, chunk_size=65536)
    data_key = envelope.unwrap_key(header, private_key, lot=LOT, bidder=BIDDER)
    data = bytearray(sealed.read_bytes())
    data[-5] ^= 1  # the last chunk's tag: found only once everything before it has been written
    local_store.put("bids/spoilt", io.BytesIO(bytes(data)), length=len(data))
    with pytest.raises(envelope.EnvelopeError) as error:
        decrypt_object(local_store, "bids/spoilt", "opened/spoilt", data_key)
    assert error.value.code == "tampered"
    assert not local_store.exists("opened/spoilt")
    with pytest.raises(envelope.EnvelopeError) as error:
        verify_object(local_store, "bids/spoilt", data_key)
    assert error.value.code == "tampered"
