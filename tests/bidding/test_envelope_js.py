"""The WebCrypto envelope (frontend/sealed/envelope.mjs) passes the same vectors, and each side opens the other's.

Node is part of these machines: without it these tests fail, they do not skip.
"""

import hashlib
import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from bidding import envelope, vectors

ROOT = Path(__file__).resolve().parents[2]
MODULE = (ROOT / "frontend" / "sealed" / "envelope.mjs").as_uri()

SEAL_SCRIPT = """
const { sealChunks } = await import(process.argv[1]);
const { writeFileSync } = await import("node:fs");
const [spki, rescue, lot, bidder, out] = process.argv.slice(2);
const plaintext = new Uint8Array(3 * 65536 + 77).map((_, i) => (i * 31 + 7) % 251);
const options = { plaintext: new Blob([plaintext]), lot, bidder, chunkSize: 65536,
  bidderPublicKeySpki: Buffer.from(spki, "hex"), rescuePublicKeySpki: Buffer.from(rescue, "hex") };
const parts = [];
for await (const part of sealChunks(options)) parts.push(part);
writeFileSync(out, Buffer.concat(parts));
"""

DECRYPT_SCRIPT = """
const { decrypt } = await import(process.argv[1]);
const { readFileSync } = await import("node:fs");
const [path, pkcs8, lot, bidder] = process.argv.slice(2);
const options = { privateKeyPkcs8: Buffer.from(pkcs8, "hex"), lot, bidder };
const plaintext = await decrypt(new Blob([readFileSync(path)]), options);
const digest = Buffer.from(await crypto.subtle.digest("SHA-256", plaintext)).toString("hex");
console.log(plaintext.length, digest);
"""


def node() -> str:
    path = shutil.which("node")
    if path is None:
        pytest.fail(
            "node (>= 20) is required to test frontend/sealed/envelope.mjs but is not on PATH: install it (apt-get install nodejs)"
        )
    return path


def run_node(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([node(), *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_webcrypto_envelope_passes_the_vectors():
    result = run_node("frontend/sealed/envelope.test.mjs")
    assert "0 failed" in result.stdout
    last = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"\d+ passed, 0 failed", last), result.stdout
    assert int(last.split()[0]) >= 40  # every case, every negative vector, and the extras


def test_python_opens_what_webcrypto_sealed(tmp_path):
    private_key, spki = envelope.generate_key_pair()
    rescue_private, rescue_spki = envelope.generate_key_pair()
    out = tmp_path / "bid.sealed"
    run_node(
        "--input-type=module", "-e", SEAL_SCRIPT, MODULE, spki.hex(), rescue_spki.hex(), vectors.LOT, vectors.BIDDER, str(out)
    )
    sealed = out.read_bytes()
    header = envelope.read_header(io.BytesIO(sealed).read)
    assert (header.chunk_count, header.envelope_size) == (4, len(sealed))
    for text in (vectors.LOT, vectors.BIDDER, envelope.key_id(spki), envelope.key_id(rescue_spki)):
        assert text.encode() not in sealed
    who = {"lot": vectors.LOT, "bidder": vectors.BIDDER}
    data_key = envelope.unwrap_key(header, private_key, **who)
    assert envelope.unwrap_key(header, rescue_private, **who) == data_key
    envelope.check_binding(header, data_key, vectors.LOT, vectors.BIDDER)
    with pytest.raises(envelope.EnvelopeError) as caught:
        envelope.check_binding(header, data_key, vectors.OTHER_LOT, vectors.BIDDER)
    assert caught.value.code == "wrong_envelope"
    _, chunks = envelope.open_envelope([sealed], data_key)
    assert b"".join(chunks) == bytes((i * 31 + 7) % 251 for i in range(3 * 65536 + 77))


def test_webcrypto_opens_what_python_sealed(tmp_path):
    private_key, spki = envelope.generate_key_pair()
    plaintext = bytes((i * 13 + 1) % 256 for i in range(2 * 65536 + 3))
    sealed = tmp_path / "bid.sealed"
    stream = envelope.seal(
        [plaintext], size=len(plaintext), lot=vectors.LOT, bidder=vectors.BIDDER, bidder_public_key=spki, chunk_size=65536
    )
    sealed.write_bytes(b"".join(stream))
    der = private_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    result = run_node("--input-type=module", "-e", DECRYPT_SCRIPT, MODULE, str(sealed), der.hex(), vectors.LOT, vectors.BIDDER)
    assert result.stdout.split() == [str(len(plaintext)), hashlib.sha256(plaintext).hexdigest()]
    # Decrypted as a bid for another lot, the WebCrypto side refuses it too.
    other = subprocess.run(
        [node(), "--input-type=module", "-e", DECRYPT_SCRIPT, MODULE, str(sealed), der.hex(), vectors.OTHER_LOT, vectors.BIDDER],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert other.returncode != 0 and "no_recipient" in other.stderr + other.stdout
