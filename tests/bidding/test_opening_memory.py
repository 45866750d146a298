"""decrypt_object streams: decrypting a 64 MiB bid allocates less than 16 MiB at its peak (tracemalloc).

Measured on the local-disk store: the test's S3 endpoint (moto) runs in this very process and keeps every object
in memory, so tracemalloc would count the server's copy of the bid, not the decryption's."""

import hashlib
import io
import os
import tracemalloc

import pytest

from bidding import envelope
from bidding.services.opening import decrypt_object

MiB = 1024 * 1024
LOT = "91450102000000057020261030001I"
BIDDER = "914501020000000091"


def test_decrypting_a_64_mib_bid_stays_under_16_mib(local_store, tmp_path):
    plain, sealed = tmp_path / "bid.zip", tmp_path / "bid.sealed"
    digest = hashlib.sha256()
    with open(plain, "wb") as f:
        for _ in range(64):
            block = os.urandom(MiB)
            digest.update(block)
            f.write(block)
    private_key, spki = envelope.generate_key_pair()
    header = envelope.seal_file(plain, sealed, lot=LOT, bidder=BIDDER, bidder_public_key=spki)
    data_key = envelope.unwrap_key(header, private_key, lot=LOT, bidder=BIDDER)
    with open(sealed, "rb") as f:
        local_store.put("bids/large", f, length=sealed.stat().st_size)

    tracemalloc.start()
    try:
        _, size, sha256 = decrypt_object(local_store, "bids/large", "opened/large", data_key)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (size, sha256) == (64 * MiB, digest.hexdigest())
    assert local_store.stat("opened/large").size == 64 * MiB
    assert peak < 16 * MiB, f"peak {peak / MiB:.1f} MiB"


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
