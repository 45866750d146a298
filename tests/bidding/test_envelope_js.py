"""The WebCrypto envelope of the web UI (frontend/web/src/sealed/envelope.ts) and the Python one open what the other
sealed. The TypeScript module passes the shared vectors in Vitest (`make frontend-test`, part of `make test`); here it
is transpiled with the app's own TypeScript compiler and run by node.

Node and the web UI's packages are part of `make test`: without them these tests fail, they do not skip.
"""

import hashlib
import io
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from bidding import envelope, vectors

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "frontend" / "web"
SOURCE = WEB / "src" / "sealed" / "envelope.ts"

TRANSPILE_SCRIPT = """
const { createRequire } = await import("node:module");
const { readFileSync, writeFileSync } = await import("node:fs");
const [web, source, out] = process.argv.slice(1);
const ts = createRequire(web + "/package.json")("typescript");
const options = { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } };
writeFileSync(out, ts.transpileModule(readFileSync(source, "utf8"), options).outputText);
"""

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
            "node (>= 20) is required to test frontend/web/src/sealed/envelope.ts but is not on PATH: install it (apt-get install nodejs)"
        )
    return path


def run_node(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([node(), *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def module(tmp_path_factory) -> str:
    """envelope.ts as an ES module node can import."""
    if not (WEB / "node_modules" / "typescript").is_dir():
        pytest.fail("frontend/web/node_modules is missing: run `make frontend` (npm ci in frontend/web) first")
    out = tmp_path_factory.mktemp("envelope") / "envelope.mjs"
    run_node("--input-type=module", "-e", TRANSPILE_SCRIPT, str(WEB), str(SOURCE), str(out))
    return out.as_uri()


def test_python_opens_what_webcrypto_sealed(module, tmp_path):
    private_key, spki = envelope.generate_key_pair()
    rescue_private, rescue_spki = envelope.generate_key_pair()
    out = tmp_path / "bid.sealed"
    run_node(
        "--input-type=module", "-e", SEAL_SCRIPT, module, spki.hex(), rescue_spki.hex(), vectors.LOT, vectors.BIDDER, str(out)
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


def test_webcrypto_opens_what_python_sealed(module, tmp_path):
    private_key, spki = envelope.generate_key_pair()
    plaintext = bytes((i * 13 + 1) % 256 for i in range(2 * 65536 + 3))
    sealed = tmp_path / "bid.sealed"
    stream = envelope.seal(
        [plaintext], size=len(plaintext), lot=vectors.LOT, bidder=vectors.BIDDER, bidder_public_key=spki, chunk_size=65536
    )
    sealed.write_bytes(b"".join(stream))
    der = private_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    result = run_node("--input-type=module", "-e", DECRYPT_SCRIPT, module, str(sealed), der.hex(), vectors.LOT, vectors.BIDDER)
    assert result.stdout.split() == [str(len(plaintext)), hashlib.sha256(plaintext).hexdigest()]
    # Decrypted as a bid for another lot, the WebCrypto side refuses it too.
    other = subprocess.run(
        [node(), "--input-type=module", "-e", DECRYPT_SCRIPT, module, str(sealed), der.hex(), vectors.OTHER_LOT, vectors.BIDDER],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert other.returncode != 0 and "no_recipient" in other.stderr + other.stdout
