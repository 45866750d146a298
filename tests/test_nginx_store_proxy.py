"""deploy/nginx.conf run by a real nginx in front of the app (daphne) and the S3 test endpoint, as in compose.yaml.

The file is used as is, except for addresses: `web:8000` and `minio:9000` become the test's daphne and the store,
`listen 8000` a free loopback port, and the pid, temp and log paths a temporary directory. Between nginx and moto
sits tests/s3shim.py with `verify=True`: it checks presigned signatures, expiry and the Host header as MinIO does
(moto checks none of them), so a proxy that forwarded the wrong Host, re-encoded a path or let unsigned requests
through would fail here. The app signs for S3_PUBLIC_ENDPOINT = the proxy's address, as compose.yaml sets it.

Skipped, saying why, when nginx is not installed (`apt-get install -y nginx-light`).
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import time_machine

from bidding import services as bidding
from tests import factories
from tests.frontend.conftest import AsgiLiveServer
from tests.s3shim import StoreShim
from trading.objectstore import MIN_PART_SIZE, MinioStore, UploadedPart, get_store
from trading.rules import LOCAL

ROOT = Path(__file__).resolve().parent.parent
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
BUCKET = "trading"  # compose.yaml fixes S3_BUCKET: it is the proxy's path prefix

pytestmark = pytest.mark.skipif(not os.access(NGINX, os.X_OK), reason="nginx is not installed (apt-get install -y nginx-light)")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect, urllib.request.ProxyHandler({}))


def call(method: str, url: str, data: bytes | None = None, headers: dict | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with _opener.open(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Stack:
    url: str
    host: str
    shim: StoreShim
    store: MinioStore


@pytest.fixture
def stack(s3_endpoint, transactional_db, settings):
    shim = StoreShim(
        s3_endpoint["endpoint"], access_key=s3_endpoint["access_key"], secret_key=s3_endpoint["secret_key"], verify=True
    ).start()
    web = AsgiLiveServer().start()
    work = Path(tempfile.mkdtemp(prefix="proxy-test-"))
    work.chmod(0o755)  # nginx's workers run as nobody and create their temp directories in here
    port = free_port()
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    for old, new in {
        "listen 8000;": f"listen 127.0.0.1:{port};",
        "http://web:8000": f"http://127.0.0.1:{web.port}",
        "http://minio:9000": f"http://{shim.endpoint}",
        "pid /tmp/nginx.pid;": f"pid {work}/nginx.pid;",
        "/tmp/nginx-": f"{work}/nginx-",
        "error_log /dev/stderr": f"error_log {work}/error.log",
        "access_log /dev/stdout": f"access_log {work}/access.log",
    }.items():
        assert old in conf, old
        conf = conf.replace(old, new)
    (work / "nginx.conf").write_text(conf)
    nginx = subprocess.Popen(
        [NGINX, "-p", str(work), "-c", str(work / "nginx.conf"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            if nginx.poll() is not None:
                pytest.fail(f"nginx did not start: {nginx.stderr.read().decode()}")
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        settings.S3_BUCKET = BUCKET
        settings.S3_PUBLIC_ENDPOINT = f"127.0.0.1:{port}"
        settings.S3_PUBLIC_SECURE = False
        store = get_store()
        store.ensure_bucket()
        yield Stack(f"http://127.0.0.1:{port}", f"127.0.0.1:{port}", shim, store)
    finally:
        nginx.terminate()
        nginx.wait(10)
        web.stop()
        shim.stop()
        shutil.rmtree(work, ignore_errors=True)


def test_signed_download_goes_through_the_proxy_and_only_signed(stack, parties):
    issued = datetime(2026, 11, 4, 10, tzinfo=LOCAL)
    with time_machine.travel(issued, tick=True):  # the app, the presigner and the shim's expiry check share the clock
        lot = factories.lot(parties, stage="published", issued=datetime(2026, 11, 2, 9, tzinfo=LOCAL))
        document = lot.documents.get()
        bidding.enrolment_create(lot=lot, actor=parties.bidders[0], contact_name="甲", contact_phone="1")
        link = bidding.document_link(document=document, actor=parties.bidders[0])["url"]

        status, headers, _ = call("GET", stack.url + link)  # location / -> daphne
        assert status == 302
        signed = headers["Location"]
        assert signed.startswith(f"{stack.url}/{BUCKET}/{document.object_key}?")  # absolute, to the public host
        assert "X-Amz-SignedHeaders=host" in signed

        status, headers, body = call("GET", signed)
        assert (status, body) == (200, b"tender documents v1")
        assert "filename*=UTF-8''" in headers["Content-Disposition"]
        arrived = stack.shim.seen[-1]
        assert (arrived.method, arrived.headers["Host"], arrived.status) == ("GET", stack.host, 200)
        assert call("HEAD", signed)[0] == 403  # passed by nginx, refused by the store: signed for GET only

        path, _, query = signed.partition("?")
        other_key = path.rsplit("/", 1)[0] + "/other.pdf"
        refused_by_store = [
            ("unsigned", "GET", path, {}),
            ("other key", "GET", f"{other_key}?{query}", {}),
            ("signature altered", "GET", signed[:-1] + ("0" if signed[-1] != "0" else "1"), {}),
            ("expiry altered", "GET", signed.replace("X-Amz-Expires=60", "X-Amz-Expires=6000"), {}),
            ("another host", "GET", signed, {"Host": f"localhost:{urlsplit(stack.url).port}"}),
        ]
        for name, method, url, extra in refused_by_store:
            before = len(stack.shim.seen)
            status, _, body = call(method, url, headers=extra)
            assert status == 403, name
            assert [seen.status for seen in stack.shim.seen[before:]] == [403], name
        # Methods other than GET/HEAD/PUT never reach the store.
        before = len(stack.shim.seen)
        for method in ("DELETE", "POST", "OPTIONS", "PATCH"):
            assert call(method, signed, data=b"" if method in {"POST", "PATCH"} else None)[0] == 403, method
        assert call("PUT", signed, data=b"replaced")[0] == 403  # a PUT that is not a part upload
        assert stack.shim.seen[before:] == []

    assert b"".join(stack.store.iter_chunks(document.object_key)) == b"tender documents v1"


def test_part_uploads_go_through_the_proxy_and_only_signed(stack):
    key = f"bids/{uuid.uuid4().hex}/sealed.bin"
    upload_id = stack.store.multipart_create(key)
    first, last = os.urandom(MIN_PART_SIZE), b"the last part"
    urls = {n: stack.store.multipart_part_url(key, upload_id, n, timedelta(minutes=5)) for n in (1, 2)}
    assert urls[1].startswith(f"{stack.url}/{BUCKET}/{key}?")  # what upload.ts's putPart() PUTs to, as is

    # As the page sends it (api.ts putPart): Content-Type set, the site's cookies along (same origin).
    browser = {"Content-Type": "application/octet-stream", "Cookie": "sessionid=secret-session; csrftoken=x"}
    for number, data in ((1, first), (2, last)):
        status, headers, _ = call("PUT", urls[number], data=data, headers=browser)
        assert status == 200, number
        assert headers["ETag"]
    arrived = stack.shim.seen[-1]
    assert (arrived.method, arrived.headers["Host"], arrived.status) == ("PUT", stack.host, 200)
    assert "Cookie" not in arrived.headers  # the session cookie stays with the platform

    path, _, query = urls[2].partition("?")
    refused_by_store = [
        ("unsigned", f"{path}?partNumber=3&uploadId={upload_id}"),
        ("part number altered", urls[2].replace("partNumber=2", "partNumber=3")),
        ("signature altered", urls[2][:-1] + ("0" if urls[2][-1] != "0" else "1")),
        ("other key", f"{path.rsplit('/', 1)[0]}/other.bin?{query}"),
    ]
    for name, url in refused_by_store:
        before = len(stack.shim.seen)
        assert call("PUT", url, data=b"forged", headers=browser)[0] == 403, name
        assert [seen.status for seen in stack.shim.seen[before:]] == [403], name
    # The multipart calls other than part PUTs go through the API only: the proxy refuses them from browsers.
    before = len(stack.shim.seen)
    assert call("POST", f"{stack.url}/{BUCKET}/{key}?uploads", data=b"")[0] == 403
    assert call("POST", f"{stack.url}/{BUCKET}/{key}?uploadId={upload_id}", data=b"<x/>")[0] == 403
    assert call("DELETE", f"{stack.url}/{BUCKET}/{key}?uploadId={upload_id}")[0] == 403
    assert call("PUT", f"{stack.url}/{BUCKET}/{key}", data=b"whole object", headers=browser)[0] == 403
    assert stack.shim.seen[before:] == []

    parts = stack.store.multipart_list_parts(key, upload_id)
    assert [(p.part_number, p.size) for p in parts] == [(1, MIN_PART_SIZE), (2, len(last))]
    assert all(isinstance(p, UploadedPart) for p in parts)
    stored = stack.store.multipart_complete(key, upload_id, [(p.part_number, p.etag) for p in parts])
    assert stored.size == MIN_PART_SIZE + len(last)

    status, _, body = call("GET", stack.store.presigned_get_url(key, expires=timedelta(minutes=1)))
    assert (status, body) == (200, first + last)


@pytest.mark.browser
def test_chromium_puts_a_part_through_the_proxy_as_the_bidder_page_does(stack):
    """The XHR of frontend/web/src/areas/bidder/api.ts putPart(), run by Chromium on a page of the proxy's origin:
    the absolute part URL is same-origin (no CORS preflight), and the browser's own Host header matches the one
    signed."""
    from tests.frontend.conftest import CHROMIUM, CHROMIUM_ARGS, _why_no_browser

    reason = _why_no_browser()
    if reason:
        pytest.skip(f"browser test skipped: {reason}")
    from playwright.sync_api import sync_playwright

    key = f"bids/{uuid.uuid4().hex}/sealed.bin"
    upload_id = stack.store.multipart_create(key)
    url = stack.store.multipart_part_url(key, upload_id, 1, timedelta(minutes=5))
    put_part = """async ([url, size]) => await new Promise((resolve) => {
        const xhr = new XMLHttpRequest();
        xhr.open("PUT", url);
        xhr.setRequestHeader("Content-Type", "application/octet-stream");
        xhr.onload = () => resolve(xhr.status);
        xhr.onerror = () => resolve("network error");
        xhr.send(new Uint8Array(size).fill(7));
    })"""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(stack.url + "/nginx-health")
            before = len(stack.shim.seen)
            assert page.evaluate(put_part, [url, 1000]) == 200
            forged = url.replace("partNumber=1", "partNumber=2")
            assert page.evaluate(put_part, [forged, 1000]) == 403
        finally:
            browser.close()

    assert [(seen.method, seen.headers["Host"], seen.status) for seen in stack.shim.seen[before:]] == [
        ("PUT", stack.host, 200),
        ("PUT", stack.host, 403),
    ]
    assert [(p.part_number, p.size) for p in stack.store.multipart_list_parts(key, upload_id)] == [(1, 1000)]
