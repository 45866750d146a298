"""A small HTTP server in front of the S3 test endpoint (moto), for what moto does not do.

- `verify=True`: checks requests the way MinIO does for a private bucket. A presigned request (query
  authentication, AWS Signature V4) must carry a valid signature for the method, the path as received, the query
  and the signed headers (the `Host` header as received: what a reverse proxy forwards matters), and must not have
  expired; anything else without an `Authorization` header is anonymous and refused. Both answer 403 with S3's error
  codes. moto's server accepts forged and expired presigned URLs, so without this a test of the proxy could not fail.
  Requests with an `Authorization` header (the SDK's own) are passed on unchecked.
- `hold(predicate, seconds)`: answers to requests matching predicate(method, query) are held back that long.

Everything else is forwarded to the endpoint as is (with the endpoint's Host, so that moto sees path-style
requests) and every request is recorded in `seen`: method, path?query, headers as received, the status answered.
"""

import hashlib
import hmac
import http.client
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


def _encode(value: str) -> str:
    return quote(value, safe="-_.~")


def presigned_error(
    method: str, target: str, headers: dict[str, str], *, access_key: str, secret_key: str, now: datetime
) -> str | None:
    """Why this presigned SigV4 request is refused (an S3 error code), or None when it is valid."""
    path, _, raw_query = target.partition("?")
    params: list[tuple[str, str]] = []
    for item in raw_query.split("&") if raw_query else []:
        name, _, value = item.partition("=")
        params.append((unquote(name), unquote(value)))
    query = dict(params)
    if query.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" or "X-Amz-Signature" not in query:
        return "AccessDenied"
    try:
        key_id, day, region, service, terminator = query["X-Amz-Credential"].split("/")
        signed_at = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        expires = int(query["X-Amz-Expires"])
        signed_headers = query["X-Amz-SignedHeaders"].split(";")
    except (KeyError, ValueError):
        return "AuthorizationQueryParametersError"
    if key_id != access_key or terminator != "aws4_request" or service != "s3":
        return "InvalidAccessKeyId"
    if now > signed_at + timedelta(seconds=expires):
        return "AccessDenied"  # "Request has expired"
    lower = {name.lower(): value for name, value in headers.items()}
    if "host" not in signed_headers or any(name not in lower for name in signed_headers):
        return "SignatureDoesNotMatch"
    canonical_query = "&".join(
        f"{_encode(name)}={_encode(value)}"
        for name, value in sorted((name, value) for name, value in params if name != "X-Amz-Signature")
    )
    canonical_headers = "".join(f"{name}:{' '.join(lower[name].split())}\n" for name in signed_headers)
    canonical_request = "\n".join(
        [method, path, canonical_query, canonical_headers, ";".join(signed_headers), "UNSIGNED-PAYLOAD"]
    )
    scope = f"{day}/{region}/{service}/{terminator}"
    string_to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", query["X-Amz-Date"], scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = f"AWS4{secret_key}".encode()
    for piece in (day, region, service, terminator):
        key = hmac.new(key, piece.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, query["X-Amz-Signature"]):
        return "SignatureDoesNotMatch"
    return None


@dataclass(frozen=True)
class Seen:
    method: str
    target: str
    headers: dict[str, str]
    status: int


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that gave up (a timeout under test) while its answer was held back


class StoreShim:
    def __init__(self, upstream: str, *, access_key: str, secret_key: str, verify: bool = False):
        self.upstream = upstream
        self.access_key, self.secret_key, self.verify = access_key, secret_key, verify
        self.seen: list[Seen] = []
        self._holds: list[tuple[Callable[[str, str], bool], float]] = []
        shim = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                shim._serve(self)

            do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_OPTIONS = _handle

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="s3-shim", daemon=True)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "StoreShim":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def hold(self, predicate: Callable[[str, str], bool], seconds: float) -> None:
        self._holds.append((predicate, seconds))

    def _reply(self, handler, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        handler.send_response(status)
        for name, value in headers:
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(body)

    def _serve(self, handler) -> None:
        method, target = handler.command, handler.path
        received = dict(handler.headers.items())
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        if self.verify and "Authorization" not in handler.headers:
            error = presigned_error(
                method,
                target,
                received,
                access_key=self.access_key,
                secret_key=self.secret_key,
                now=datetime.now(UTC),
            )
            if error:
                self.seen.append(Seen(method, target, received, 403))
                xml = f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{error}</Code></Error>'.encode()
                self._reply(handler, 403, [("Content-Type", "application/xml")], xml)
                return
        query = target.partition("?")[2]
        for predicate, seconds in self._holds:
            if predicate(method, query):
                time.sleep(seconds)
        headers = {name: value for name, value in handler.headers.items() if name.lower() not in HOP_BY_HOP | {"host"}}
        headers["Host"] = self.upstream
        connection = http.client.HTTPConnection(self.upstream, timeout=60)
        try:
            connection.request(method, target, body=body if body or method in {"PUT", "POST"} else None, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            passed = [(n, v) for n, v in response.getheaders() if n.lower() not in HOP_BY_HOP | {"content-length"}]
        finally:
            connection.close()
        self.seen.append(Seen(method, target, received, response.status))
        if method == "HEAD":
            passed.append(("Content-Length", response.getheader("Content-Length", "0")))
            handler.send_response(response.status)
            for name, value in passed:
                handler.send_header(name, value)
            handler.end_headers()
            return
        self._reply(handler, response.status, passed, payload)
