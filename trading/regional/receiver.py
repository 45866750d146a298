"""A reference receiver for the regional link: what the regional platform must do with a push, small enough to read
in one go and run as its own process (docs/regional-exchange.md, "What the receiver must do").

    python -m trading.regional.receiver --listen 127.0.0.1:8790 --db var/regional.sqlite3 --key 450102=centre.pem

It verifies each push's Ed25519 signature with the sending centre's public key, stores it once (the delivery id is
the idempotency key: a repeat is answered as a duplicate, not stored again), and accepts a lot's pushes only in seq
order (a gap is refused with the expected seq, so the sender retries in order). Standard library and
`cryptography` only: no Django, no database server."""

import argparse
import base64
import contextlib
import hashlib
import json
import sqlite3
import sys
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

PATH = "/api/v1/deliveries"
MAX_BODY = 10 * 1024 * 1024
FIELDS = {"spec", "delivery_id", "centre", "lot", "seq", "table", "event", "occurred_at", "data"}
TEXT_FIELDS = ("spec", "delivery_id", "centre", "lot", "table", "event", "occurred_at")
SPEC_MAJOR = "1"  # a receiver of spec 1.x takes every 1.y push: minor versions only add fields
SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    delivery_id TEXT PRIMARY KEY,
    centre TEXT NOT NULL,
    lot TEXT NOT NULL,
    seq INTEGER NOT NULL,
    tbl TEXT NOT NULL,
    event TEXT NOT NULL,
    body TEXT NOT NULL,
    body_sha256 TEXT NOT NULL,
    received_at TEXT NOT NULL,
    UNIQUE (centre, lot, seq)
);
"""


class Store:
    def __init__(self, path: str):
        self.path = path
        with self.connect() as db:
            db.executescript(SCHEMA)

    def connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def accept(self, push: dict, body: bytes) -> tuple[int, dict]:
        digest = hashlib.sha256(body).hexdigest()
        db = self.connect()
        try:
            db.execute("BEGIN IMMEDIATE")  # one writer at a time: the seq check and the insert are one step
            known = db.execute("SELECT body_sha256 FROM deliveries WHERE delivery_id = ?", (push["delivery_id"],)).fetchone()
            if known:
                db.execute("ROLLBACK")
                if known[0] != digest:
                    return 409, {"error": "delivery_id_reused", "delivery_id": push["delivery_id"]}
                return 200, {"delivery_id": push["delivery_id"], "status": "duplicate"}
            (last,) = db.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM deliveries WHERE centre = ? AND lot = ?", (push["centre"], push["lot"])
            ).fetchone()
            if push["seq"] != last + 1:
                db.execute("ROLLBACK")
                return 409, {"error": "out_of_order", "expected_seq": last + 1, "delivery_id": push["delivery_id"]}
            db.execute(
                "INSERT INTO deliveries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    push["delivery_id"],
                    push["centre"],
                    push["lot"],
                    push["seq"],
                    push["table"],
                    push["event"],
                    body.decode(),
                    digest,
                    datetime.now(UTC).isoformat(),
                ),
            )
            db.execute("COMMIT")
            return 201, {"delivery_id": push["delivery_id"], "status": "stored", "seq": push["seq"]}
        finally:
            db.close()

    def listing(self, centre: str | None, lot: str | None) -> list[dict]:
        where, args = [], []
        for column, value in (("centre", centre), ("lot", lot)):
            if value:
                where.append(f"{column} = ?")
                args.append(value)
        sql = "SELECT delivery_id, centre, lot, seq, tbl, event, body, received_at FROM deliveries"
        sql += (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY centre, lot, seq"
        db = self.connect()
        try:
            rows = db.execute(sql, args).fetchall()
        finally:
            db.close()
        keys = ["delivery_id", "centre", "lot", "seq", "table", "event", "body", "received_at"]
        return [{**dict(zip(keys, row, strict=True)), "data": json.loads(row[6])["data"]} for row in rows]


def load_keys(pairs: list[str]) -> dict[str, Ed25519PublicKey]:
    keys = {}
    for pair in pairs:
        centre, _, path = pair.partition("=")
        with open(path, "rb") as f:
            key = serialization.load_pem_public_key(f.read())
        if not isinstance(key, Ed25519PublicKey):
            raise SystemExit(f"{path}: not an Ed25519 public key")
        keys[centre] = key
    return keys


def well_formed(push, delivery_header: str | None) -> bool:
    """The envelope of docs/regional-exchange.md: exactly its fields, with their types, and the delivery id of the
    X-Regional-Delivery header."""
    return (
        isinstance(push, dict)
        and set(push) == FIELDS
        and all(isinstance(push[name], str) and push[name] for name in TEXT_FIELDS)
        and type(push["seq"]) is int
        and push["seq"] >= 1
        and isinstance(push["data"], dict)
        and push["delivery_id"] == delivery_header
    )


def make_handler(store: Store, keys: dict[str, Ed25519PublicKey]):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):
            sys.stderr.write("receiver: " + (format % args) + "\n")

        def answer(self, status: int, payload) -> None:
            body = json.dumps(payload, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            url = urlsplit(self.path)
            if url.path == "/health":
                return self.answer(200, {"ok": True})
            if url.path == PATH:
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                return self.answer(200, store.listing(query.get("centre"), query.get("lot")))
            return self.answer(404, {"error": "not_found"})

        def do_POST(self):
            if urlsplit(self.path).path != PATH:
                return self.answer(404, {"error": "not_found"})
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if not 0 < length <= MAX_BODY:
                self.close_connection = True  # the body is left unread: the connection cannot carry another request
                return self.answer(413 if length > MAX_BODY else 400, {"error": "bad_length"})
            body = self.rfile.read(length)
            try:
                push = json.loads(body)
                signature = base64.b64decode(self.headers.get("X-Regional-Signature", ""), validate=True)
            except ValueError:
                return self.answer(400, {"error": "malformed"})
            if not well_formed(push, self.headers.get("X-Regional-Delivery")):
                return self.answer(400, {"error": "malformed"})
            if push["spec"].split(".")[0] != SPEC_MAJOR:
                return self.answer(400, {"error": "unsupported_spec", "supported": f"{SPEC_MAJOR}.x"})
            key = keys.get(push["centre"])
            if key is None:
                return self.answer(403, {"error": "unknown_centre"})
            try:
                key.verify(signature, body)
            except InvalidSignature:
                return self.answer(401, {"error": "bad_signature"})
            status, answer = store.accept(push, body)
            return self.answer(status, answer)

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Reference receiver of the regional link")
    parser.add_argument("--listen", default="127.0.0.1:8790", help="host:port (port 0: any free port)")
    parser.add_argument("--db", required=True, help="SQLite file that stores the pushes")
    parser.add_argument("--key", action="append", default=[], required=True, help="CENTRE=public-key.pem (repeatable)")
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    server = ThreadingHTTPServer((host, int(port)), make_handler(Store(args.db), load_keys(args.key)))
    print(f"listening on http://{host}:{server.server_address[1]}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
