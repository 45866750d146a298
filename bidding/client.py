"""The bidder's program: key pair, sealing, resumable upload, receipts, and the data key at opening.

    python -m bidding.client keygen --out company.key
    python -m bidding.client register-key --server URL --token T --public company.key.pub --expires 2027-12-31
    python -m bidding.client seal --lot CODE --bidder CREDIT_CODE --public company.key.pub bid.zip bid.sealed
    python -m bidding.client upload --server URL --token T --lot 12 bid.sealed      (again to resume)
    python -m bidding.client verify-receipt bid.sealed.receipt.json --platform-key platform.pem
    python -m bidding.client unwrap --key company.key --lot CODE --bidder CREDIT_CODE bid.sealed   (the data key)
    python -m bidding.client submit-key --server URL --token T --bid BID_ID --key company.key bid.sealed
                                                                 (at opening: sign in, unwrap here, hand the key in)

Needs no Django: only this package's envelope and receipts modules, `cryptography` and the standard library.
Parts go straight to the object store through presigned URLs; the state file next to the sealed bid lets a
broken upload resume where it stopped.
"""

import argparse
import base64
import getpass
import hashlib
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from bidding import envelope, receipts

Transport = Callable[..., tuple[int, dict | list | None]]


class ClientError(Exception):
    def __init__(self, status: int, body):
        self.status, self.body = status, body
        code = body.get("code") if isinstance(body, dict) else None
        detail = body.get("detail") if isinstance(body, dict) else body
        super().__init__(f"HTTP {status} {code}: {detail}")
        self.code = code


def http_transport(server: str, token: str, timeout: float = 60) -> Transport:
    """Calls the platform's API with a token (programs need no CSRF)."""

    def call(method: str, path: str, *, json_body=None, data: bytes | None = None, headers: dict | None = None):
        body = json.dumps(json_body).encode() if json_body is not None else data
        request = urllib.request.Request(server.rstrip("/") + path, data=body, method=method)
        request.add_header("Authorization", f"Token {token}")
        request.add_header("Content-Type", "application/json" if json_body is not None else "application/octet-stream")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                raw = response.read()
                return response.status, (json.loads(raw) if raw else None)
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                return error.code, json.loads(raw)
            except ValueError:
                return error.code, {"detail": raw.decode(errors="replace")}

    return call


def put_part(url: str, data: bytes, timeout: float = 300) -> str:
    """PUT one part to a presigned URL; returns the ETag."""
    request = urllib.request.Request(url, data=data, method="PUT")
    request.add_header("Content-Type", "application/octet-stream")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.headers.get("ETag", "").strip('"')


def file_sha256(path: Path, block: int = 8 * 1024 * 1024) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while piece := f.read(block):
            digest.update(piece)
    return digest.hexdigest()


HEAD_BYTES = 64 * 1024


def head_sha256(path: Path) -> str:
    """What names a file for a resume: the SHA-256 of its first 64 KiB, which hold a sealed bid's header (a fresh
    data key and nonces each time a file is sealed). The whole file's hash is checked by the platform anyway."""
    with open(path, "rb") as f:
        return hashlib.sha256(f.read(HEAD_BYTES)).hexdigest()


def machine_fingerprint() -> str:
    """A stable, non-identifying fingerprint of this machine, recorded with each upload (collusion checks)."""
    source = ""
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        if os.path.exists(path):
            source = Path(path).read_text().strip()
            break
    source = source or f"{os.uname().nodename}-{os.getuid() if hasattr(os, 'getuid') else ''}"
    return hashlib.sha256(b"trading-client/" + source.encode()).hexdigest()[:32]


@dataclass
class Uploader:
    """`concurrency` parts go to the object store at once (presigned URLs), like the minio SDK's 3 parallel
    uploads: memory holds at most concurrency + 1 parts. Parts through the API (no presigned URL) go one by one
    on the calling thread, so `call` need not be thread-safe; `put` must be."""

    call: Transport
    put: Callable[[str, bytes], str] = put_part
    progress: Callable[[int, int], None] | None = None
    concurrency: int = 3

    def __post_init__(self):
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")

    def _checked(self, status: int, body, expected: int = 200):
        if status != expected:
            raise ClientError(status, body)
        return body

    def upload(self, lot: int, path: Path, state_path: Path | None = None, *, stop_after_parts: int | None = None) -> dict:
        """Uploads a sealed bid and returns the receipt. Resumes from `state_path` if it names an open upload of the
        same file. The file is read once: each part is hashed as it is read, while earlier parts are being sent,
        and the SHA-256 is declared when completing. `stop_after_parts` simulates a broken connection (for tests
        and demonstrations)."""
        path = Path(path)
        state_path = state_path or path.with_name(path.name + ".upload.json")
        size = path.stat().st_size
        identity = {"size": size, "head_sha256": head_sha256(path)}
        bid = None
        if state_path.exists():
            state = json.loads(state_path.read_text())
            if {k: state.get(k) for k in identity} == identity:
                status, body = self.call("GET", f"/api/bids/{state['bid']}/")
                if status == 200 and body["status"] == "uploading":
                    bid = body
        if bid is None:
            bid = self._checked(
                *self.call(
                    "POST",
                    "/api/bids/",
                    json_body={"lot": lot, "size": size},
                    headers={"X-Client-Fingerprint": machine_fingerprint()},
                ),
                expected=201,
            )
            bid["uploaded_parts"] = []
            state_path.write_text(json.dumps({"bid": bid["id"], **identity}))
        done = {p["part"] for p in bid.get("uploaded_parts", [])}
        todo = [n for n in range(1, bid["parts"] + 1) if n not in done]
        if stop_after_parts is not None:
            todo = todo[:stop_after_parts]  # not one part more is started than the simulated break allows
        wanted = set(todo)
        part_size = bid["part_size"]
        sent = 0
        digest = hashlib.sha256()
        urls: dict[int, str | None] = {}

        def one_more() -> None:
            nonlocal sent
            sent += 1
            if self.progress:
                self.progress(len(done) + sent, bid["parts"])

        def finished(futures) -> None:
            for future in futures:
                future.result()  # a failed part raises here; the parts already stored stay for a resume
                one_more()

        with open(path, "rb") as f, ThreadPoolExecutor(self.concurrency, thread_name_prefix="bid-part") as pool:
            running: set[Future] = set()
            try:
                for number in range(1, bid["parts"] + 1):
                    if stop_after_parts is not None and (not todo or number > todo[-1]):
                        break  # the simulated break: nothing more is read
                    data = f.read(part_size)
                    digest.update(data)  # parts already stored are read for the hash only
                    if number not in wanted:
                        continue
                    if number not in urls:  # presigned URLs a hundred at a time
                        batch = [n for n in todo if n >= number][:100]
                        answer = self.call("POST", f"/api/bids/{bid['id']}/part-urls/", json_body={"parts": batch})
                        urls.update((item["part"], item["url"]) for item in self._checked(*answer))
                    url = urls.pop(number)
                    if url:
                        while len(running) >= self.concurrency:
                            ended, running = wait(running, return_when=FIRST_COMPLETED)
                            finished(ended)
                        running.add(pool.submit(self.put, url, data))
                    else:
                        self._checked(*self.call("PUT", f"/api/bids/{bid['id']}/parts/{number}/", data=data))
                        one_more()
                finished(wait(running).done)
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        if stop_after_parts is not None and sent >= stop_after_parts:
            raise ConnectionError(f"stopped after {sent} parts (simulated)")
        answer = self.call("POST", f"/api/bids/{bid['id']}/complete/", json_body={"sha256": digest.hexdigest()})
        receipt = self._checked(*answer)
        path.with_name(path.name + ".receipt.json").write_text(json.dumps(receipt, ensure_ascii=False, indent=2))
        state_path.unlink(missing_ok=True)
        return receipt


def submit_key(call: Transport, bid_id: str, sealed: Path, private_key) -> dict:
    """At opening: signs in to the bid's lot (again is harmless), unwraps the data key from the local sealed file
    with the bidder's own private key, and hands it in. Returns the bid as the platform then reports it.
    The private key never leaves this machine; the data key opens this one bid only."""
    status, bid = call("GET", f"/api/bids/{bid_id}/")
    if status != 200:
        raise ClientError(status, bid)
    with open(sealed, "rb") as f:
        header = envelope.read_header(f.read)
    # The envelope names neither lot nor bidder: the receipt does, and the wrap only opens for the right ones.
    receipt = bid.get("receipt") or {}
    data_key = envelope.unwrap_key(header, private_key, lot=bid["transaction_code"], bidder=receipt.get("bidder", ""))
    status, body = call("POST", f"/api/lots/{bid['lot']}/opening/sign-in/", json_body={})
    if status not in (200, 201):
        raise ClientError(status, body)
    status, body = call("POST", f"/api/bids/{bid_id}/decrypt/", json_body={"data_key": base64.b64encode(data_key).decode()})
    if status != 200:
        raise ClientError(status, body)
    return body


def _passphrase(args) -> bytes:
    if args.passphrase_env:
        return os.environ[args.passphrase_env].encode()
    return getpass.getpass("私钥口令 / private key passphrase: ").encode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bidding.client", description="投标客户端 / bidder's client")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("keygen", help="generate a P-256 key pair (private key encrypted with a passphrase)")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--passphrase-env")
    p = sub.add_parser("register-key", help="register the public key with the platform")
    p.add_argument("--server", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--public", required=True, type=Path)
    p.add_argument("--expires", required=True, help="ISO date or datetime")
    p = sub.add_parser("seal", help="seal a bid file for a lot")
    p.add_argument("--lot", required=True, help="the lot's transaction code")
    p.add_argument("--bidder", required=True, help="your unified social credit code")
    p.add_argument("--public", required=True, type=Path)
    p.add_argument("--rescue", type=Path, help="the tender's rescue public key, if the tender documents give one")
    p.add_argument("source", type=Path)
    p.add_argument("target", type=Path)
    p = sub.add_parser("upload", help="upload (or resume uploading) a sealed bid")
    p.add_argument("--server", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--lot", required=True, type=int, help="the lot's id on the platform")
    p.add_argument("sealed", type=Path)
    p = sub.add_parser("verify-receipt", help="check a receipt's signature offline")
    p.add_argument("receipt", type=Path)
    p.add_argument("--platform-key", required=True, type=Path, help="PEM from /api/platform-key/")
    p.add_argument("--sealed", type=Path, help="also check the receipt's hash against this sealed file")
    p = sub.add_parser("unwrap", help="print the data key of a sealed bid (submitted at opening)")
    p.add_argument("--lot", required=True, help="the lot's transaction code")
    p.add_argument("--bidder", required=True, help="your unified social credit code")
    p.add_argument("--key", required=True, type=Path)
    p.add_argument("--passphrase-env")
    p.add_argument("sealed", type=Path)
    p = sub.add_parser("submit-key", help="at opening: sign in, unwrap the data key here and hand it in")
    p.add_argument("--server", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--bid", required=True, help="the bid's id (on its receipt)")
    p.add_argument("--key", required=True, type=Path)
    p.add_argument("--passphrase-env")
    p.add_argument("sealed", type=Path)
    args = parser.parse_args(argv)

    if args.command == "keygen":
        private_key, spki = envelope.generate_key_pair()
        args.out.write_bytes(envelope.export_private_key(private_key, _passphrase(args)))
        pem = envelope.load_public_key(spki).public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        args.out.with_name(args.out.name + ".pub").write_bytes(pem)
        print(f"kid {envelope.key_id(spki)}")
    elif args.command == "register-key":
        call = http_transport(args.server, args.token)
        pem = args.public.read_text()
        expires = args.expires if "T" in args.expires else f"{args.expires}T23:59:59+08:00"
        status, body = call("POST", "/api/bidder-keys/", json_body={"public_key": pem, "expires_at": expires})
        if status != 201:
            raise ClientError(status, body)
        print(f"registered {body['kid']} until {body['expires_at']}")
    elif args.command == "seal":
        rescue = args.rescue.read_bytes() if args.rescue else None
        envelope.seal_file(
            args.source,
            args.target,
            lot=args.lot,
            bidder=args.bidder,
            bidder_public_key=args.public.read_bytes(),
            rescue_public_key=rescue,
        )
        print(f"sealed {args.target} sha256 {file_sha256(args.target)}")
    elif args.command == "upload":
        uploader = Uploader(
            http_transport(args.server, args.token),
            progress=lambda done, total: print(f"\r{done}/{total}", end="", file=sys.stderr),
        )
        receipt = uploader.upload(args.lot, args.sealed)
        print(f"\nreceipt saved: {args.sealed}.receipt.json received_at {receipt['received_at']}")
    elif args.command == "verify-receipt":
        receipt = json.loads(args.receipt.read_text())
        ok = receipts.verify(receipt, args.platform_key.read_text())
        if ok and args.sealed:
            ok = file_sha256(args.sealed) == receipt["sha256"] and args.sealed.stat().st_size == receipt["size"]
        print("回执有效 / receipt valid" if ok else "回执无效 / receipt INVALID")
        return 0 if ok else 1
    elif args.command == "unwrap":
        private_key = envelope.import_private_key(args.key.read_bytes(), _passphrase(args))
        with open(args.sealed, "rb") as f:
            header = envelope.read_header(f.read)
        print(base64.b64encode(envelope.unwrap_key(header, private_key, lot=args.lot, bidder=args.bidder)).decode())
    elif args.command == "submit-key":
        private_key = envelope.import_private_key(args.key.read_bytes(), _passphrase(args))
        body = submit_key(http_transport(args.server, args.token), args.bid, args.sealed, private_key)
        stored = f"sha256 {body['plaintext_sha256']}" if body["plaintext_sha256"] else "保存中 / being stored"
        print(f"已解密 / decrypted: {body['status']} size {body['plaintext_size']} {stored}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
