import hashlib
import http.server
import io
import random
import socket
import threading
import time
import tracemalloc
import urllib.request
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import override_settings

from trading.objectstore import (
    LocalStore,
    MiB,
    MinioStore,
    ObjectMissing,
    StoredObject,
    StoreUnavailable,
    UploadedPart,
    UploadMissing,
    get_store,
)

SIZE = 20_000_000
FILENAME = "招标文件 第1包.pdf"
DISPOSITION = (
    "attachment; filename=\"____ _1_.pdf\"; filename*=UTF-8''%E6%8B%9B%E6%A0%87%E6%96%87%E4%BB%B6%20%E7%AC%AC1%E5%8C%85.pdf"
)


def random_chunks(size, seed, chunk=65_521):
    """Deterministic random bytes (the same for any chunk size), produced on the fly in chunks of at most `chunk`."""
    rng = random.Random(seed)
    while size > 0:
        block = memoryview(rng.randbytes(min(64 * 1024, size)))
        size -= len(block)
        for start in range(0, len(block), chunk):
            yield bytes(block[start : start + chunk])


def random_bytes(size, seed):
    return b"".join(random_chunks(size, seed))


class GeneratorStream:
    """A file-like over a generator: short reads, no seek, no len, so the store has to stream.
    Raises RuntimeError once more than `fail_after` bytes have been handed out."""

    def __init__(self, chunks, fail_after=None):
        self._chunks = iter(chunks)
        self._buffer = memoryview(b"")
        self._fail_after = fail_after
        self.sent = 0

    def read(self, n=-1):
        if not self._buffer:
            self._buffer = memoryview(next(self._chunks, b""))
        n = len(self._buffer) if n < 0 else n
        data, self._buffer = bytes(self._buffer[:n]), self._buffer[n:]
        self.sent += len(data)
        if self._fail_after is not None and self.sent > self._fail_after:
            raise RuntimeError("client went away")
        return data


def md5(data):
    return hashlib.md5(data).hexdigest()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def s3_multipart_etag(parts):
    return md5(b"".join(hashlib.md5(p).digest() for p in parts)) + f"-{len(parts)}"


def is_minio(store):
    return isinstance(store, MinioStore)


def object_etag(store, parts):
    """What each backend reports as the etag of an object made of these parts."""
    if not is_minio(store):
        return sha256(b"".join(parts))
    return md5(parts[0]) if len(parts) == 1 else s3_multipart_etag(parts)


def part_etag(store, data):
    return md5(data) if is_minio(store) else sha256(data)


def read_all(store, key, **kwargs):
    return b"".join(store.iter_chunks(key, **kwargs))


def files_under(root: Path):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def pending_uploads(store, prefix):
    return [u.object_name for u in store.client._list_multipart_uploads(store.bucket, prefix=prefix).uploads]


@pytest.fixture(scope="module")
def payload():
    return random_bytes(SIZE, seed=1)


@pytest.fixture
def prefix():
    return f"tests/{uuid.uuid4().hex}"


@pytest.fixture(params=["minio", "local"])
def store(request, prefix):
    if request.param == "local":
        yield request.getfixturevalue("local_store")
        return
    store = get_store()
    assert is_minio(store)
    yield store
    for obj in store.client.list_objects(store.bucket, prefix=f"{prefix}/", recursive=True):
        store.client.remove_object(store.bucket, obj.object_name)
    for upload in store.client._list_multipart_uploads(store.bucket, prefix=prefix).uploads:
        store.client._abort_multipart_upload(store.bucket, upload.object_name, upload.upload_id)


def test_streamed_put_round_trips_with_sha256_and_ranged_reads(store, prefix, payload):
    key = f"{prefix}/标书/bid.pdf"
    stream = GeneratorStream(random_chunks(SIZE, seed=1))

    stored = store.put(key, stream, content_type="application/pdf", metadata={"Tender": "T-2026-001"})

    # Unknown length goes to MinIO in 16 MiB parts: the etag is that of a 2-part upload.
    etag = object_etag(store, [payload[: 16 * MiB], payload[16 * MiB :]])
    assert stored == StoredObject(key, SIZE, sha256(payload), etag, "application/pdf", {"tender": "T-2026-001"})
    assert stream.sent == SIZE
    assert store.stat(key) == StoredObject(
        key, SIZE, None if is_minio(store) else sha256(payload), etag, "application/pdf", {"tender": "T-2026-001"}
    )
    assert store.exists(key) is True

    chunks = list(store.iter_chunks(key))
    assert [len(c) for c in chunks] == [MiB] * 19 + [SIZE - 19 * MiB]
    assert b"".join(chunks) == payload

    ranged = list(store.iter_chunks(key, chunk_size=3 * MiB, offset=5_000_003, length=7_777_777))
    assert [len(c) for c in ranged] == [3 * MiB, 3 * MiB, 7_777_777 - 6 * MiB]
    assert b"".join(ranged) == payload[5_000_003:12_777_780]
    assert read_all(store, key, offset=SIZE - 10) == payload[-10:]
    assert read_all(store, key, length=1) == payload[:1]
    assert read_all(store, key, offset=SIZE - 5, length=100) == payload[-5:]
    assert read_all(store, key, offset=123, length=0) == b""
    assert read_all(store, key, offset=SIZE) == b""
    assert read_all(store, key, offset=SIZE + 1000, length=10) == b""


def test_put_with_length_stores_exactly_that_many_bytes(store, prefix):
    key = f"{prefix}/a.txt"
    data = random_bytes(1000, seed=2)

    stored = store.put(key, GeneratorStream(random_chunks(1000, seed=2, chunk=77)), length=600, content_type="text/plain")

    assert stored == StoredObject(key, 600, sha256(data[:600]), object_etag(store, [data[:600]]), "text/plain", {})
    assert read_all(store, key) == data[:600]


def test_empty_object(store, prefix):
    key = f"{prefix}/empty"

    stored = store.put(key, io.BytesIO(b""), length=0)

    assert stored == StoredObject(key, 0, sha256(b""), object_etag(store, [b""]), "application/octet-stream", {})
    assert list(store.iter_chunks(key)) == []


def test_stream_short_of_length_stores_nothing(store, prefix):
    key = f"{prefix}/short"

    with pytest.raises(OSError):
        store.put(key, io.BytesIO(b"x" * 600), length=1000)

    assert store.exists(key) is False


def test_stream_failing_midway_leaves_previous_object_and_no_parts(store, prefix, payload, tmp_path):
    key = f"{prefix}/bid.zip"
    before = store.put(key, io.BytesIO(b"version 1"), content_type="application/zip")
    new_key = f"{prefix}/new.zip"

    for target in (key, new_key):
        # Past the first 16 MiB part, so MinIO has a multipart upload open when the stream fails.
        with pytest.raises(RuntimeError, match="client went away"):
            store.put(target, GeneratorStream(random_chunks(SIZE, seed=1), fail_after=17 * MiB))

    assert store.stat(key) == StoredObject(
        key, 9, None if is_minio(store) else sha256(b"version 1"), before.etag, "application/zip", {}
    )
    assert read_all(store, key) == b"version 1"
    assert store.exists(new_key) is False
    if is_minio(store):
        assert pending_uploads(store, prefix) == []
    else:
        assert files_under(store.root) == [f".meta/{key}.json", key]


def test_delete_is_idempotent(store, prefix):
    key = f"{prefix}/doc.pdf"
    store.put(key, io.BytesIO(b"content"))

    store.delete(key)
    store.delete(key)
    store.delete(f"{prefix}/never-existed")

    assert store.exists(key) is False
    with pytest.raises(ObjectMissing):
        store.stat(key)


def test_missing_key_raises_object_missing(store, prefix):
    key = f"{prefix}/missing"

    with pytest.raises(ObjectMissing):
        store.stat(key)
    with pytest.raises(ObjectMissing):
        store.iter_chunks(key)  # at the call, before any chunk is asked for
    with pytest.raises(ObjectMissing):
        store.iter_chunks(key, length=0)
    with pytest.raises(ObjectMissing):
        store.iter_chunks(key, offset=10)
    assert store.exists(key) is False


def test_closing_a_partly_read_iterator_ends_it(store, prefix, payload):
    key = f"{prefix}/big"
    store.put(key, io.BytesIO(payload[: 3 * MiB]), length=3 * MiB)

    chunks = store.iter_chunks(key)
    assert next(chunks) == payload[:MiB]
    chunks.close()

    assert list(chunks) == []
    assert read_all(store, key) == payload[: 3 * MiB]  # the connection went back to the pool usable


@pytest.mark.parametrize(
    "bad_key",
    ["../x", "a/../../etc/passwd", "/etc/passwd", "a//b", "a/", "", ".multipart/x", ".meta/x.json", "a/./b", "a\\b", "a\x00b"],
)
def test_unsafe_keys_are_refused(store, prefix, tmp_path, bad_key):
    with pytest.raises(ValueError):
        store.put(bad_key, io.BytesIO(b"evil"))
    with pytest.raises(ValueError):
        store.stat(bad_key)
    with pytest.raises(ValueError):
        store.delete(bad_key)
    with pytest.raises(ValueError):
        store.iter_chunks(bad_key)
    with pytest.raises(ValueError):
        store.presigned_get_url(bad_key, expires=timedelta(minutes=5))
    with pytest.raises(ValueError):
        store.multipart_create(bad_key)

    if is_minio(store):
        assert list(store.client.list_objects(store.bucket, prefix=f"{prefix}/", recursive=True)) == []
    else:
        assert files_under(tmp_path) == []


def test_presigned_get_downloads_under_the_chinese_filename(store, prefix):
    key = f"{prefix}/notice.pdf"
    store.put(key, io.BytesIO(b"%PDF-1.7 tender notice"), content_type="application/pdf")

    url = store.presigned_get_url(key, expires=timedelta(minutes=5), filename=FILENAME)

    if not is_minio(store):
        assert url is None
        return
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"%PDF-1.7 tender notice"
        assert response.headers["Content-Disposition"] == DISPOSITION
        assert response.headers["Content-Type"] == "application/pdf"
    with urllib.request.urlopen(store.presigned_get_url(key, expires=timedelta(minutes=5)), timeout=10) as response:
        assert response.headers["Content-Disposition"] is None


def send_part(store, key, upload_id, number, data):
    """What a client does: PUT to the presigned URL if there is one, else through the app."""
    url = store.multipart_part_url(key, upload_id, number, timedelta(minutes=10))
    assert (url is None) is (not is_minio(store))
    if url is None:
        return store.multipart_upload_part(key, upload_id, number, data)
    request = urllib.request.Request(url, data=data, method="PUT", headers={"Content-Type": "application/octet-stream"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
        return response.headers["ETag"].strip('"')


def test_multipart_upload_resumes_from_listed_parts(store, prefix):
    key = f"{prefix}/sealed-bid.bin"
    parts = [random_bytes(5 * MiB, seed=3), random_bytes(5 * MiB, seed=4), random_bytes(1234, seed=5)]
    upload_id = store.multipart_create(key, "application/pdf")

    etags = [send_part(store, key, upload_id, 1, parts[0]), send_part(store, key, upload_id, 2, parts[1])]

    # The browser died; on resume the server tells which parts are already there.
    assert etags == [part_etag(store, parts[0]), part_etag(store, parts[1])]
    assert store.multipart_list_parts(key, upload_id) == [
        UploadedPart(1, etags[0], 5 * MiB),
        UploadedPart(2, etags[1], 5 * MiB),
    ]
    assert store.exists(key) is False

    etags.append(send_part(store, key, upload_id, 3, parts[2]))
    listed = store.multipart_list_parts(key, upload_id)
    assert listed == [UploadedPart(n + 1, part_etag(store, p), len(p)) for n, p in enumerate(parts)]

    stored = store.multipart_complete(key, upload_id, listed)

    content = b"".join(parts)
    assert stored == StoredObject(
        key, len(content), None if is_minio(store) else sha256(content), object_etag(store, parts), "application/pdf", {}
    )
    assert store.stat(key) == stored
    assert read_all(store, key) == content
    with pytest.raises(UploadMissing):
        store.multipart_list_parts(key, upload_id)
    if is_minio(store):
        assert pending_uploads(store, prefix) == []
    else:
        assert files_under(store.root / ".multipart") == []


def test_refused_multipart_complete_changes_nothing(store, prefix):
    key = f"{prefix}/bid.bin"
    first, last = random_bytes(5 * MiB, seed=6), b"tail"
    upload_id = store.multipart_create(key)
    small = store.multipart_upload_part(key, upload_id, 1, b"too small")
    etag_last = store.multipart_upload_part(key, upload_id, 2, last)
    before = store.multipart_list_parts(key, upload_id)

    with pytest.raises(ValueError):  # a part but the last under 5 MiB
        store.multipart_complete(key, upload_id, [(1, small), (2, etag_last)])
    etag_first = store.multipart_upload_part(key, upload_id, 1, first)  # re-sent part replaces the old one
    with pytest.raises(ValueError):  # etag of a part that is not there
        store.multipart_complete(key, upload_id, [(1, small), (2, etag_last)])

    assert before == [UploadedPart(1, part_etag(store, b"too small"), 9), UploadedPart(2, etag_last, 4)]
    assert store.multipart_list_parts(key, upload_id) == [UploadedPart(1, etag_first, 5 * MiB), UploadedPart(2, etag_last, 4)]
    assert store.exists(key) is False
    assert store.multipart_complete(key, upload_id, [(1, etag_first), (2, etag_last)]).size == 5 * MiB + 4


def test_multipart_abort_removes_parts(store, prefix):
    key = f"{prefix}/abandoned.bin"
    upload_id = store.multipart_create(key)
    store.multipart_upload_part(key, upload_id, 1, random_bytes(5 * MiB, seed=7))
    store.multipart_upload_part(key, upload_id, 2, b"rest")

    store.multipart_abort(key, upload_id)
    store.multipart_abort(key, upload_id)

    with pytest.raises(UploadMissing):
        store.multipart_list_parts(key, upload_id)
    if not is_minio(store):  # moto answers a part for an aborted upload with a 500 (KeyError), S3 with NoSuchUpload
        with pytest.raises(UploadMissing):
            store.multipart_upload_part(key, upload_id, 3, b"late")
    assert store.exists(key) is False
    if is_minio(store):
        assert pending_uploads(store, prefix) == []
    else:
        assert files_under(store.root) == []


def test_local_upload_id_cannot_walk_out_or_cross_keys(local_store, tmp_path):
    upload_id = local_store.multipart_create("tenders/1/a.bin")

    for bad_id in ["../../x", "../.meta", "", upload_id.upper()]:
        with pytest.raises(UploadMissing):
            local_store.multipart_upload_part("tenders/1/a.bin", bad_id, 1, b"x")
    with pytest.raises(UploadMissing):
        local_store.multipart_upload_part("tenders/1/other.bin", upload_id, 1, b"x")

    assert files_under(tmp_path) == [f"objects/.multipart/{upload_id}/upload.json"]


def test_local_key_cannot_be_object_and_prefix(local_store, tmp_path):
    local_store.put("tenders/1/a.pdf", io.BytesIO(b"a"))

    with pytest.raises(IsADirectoryError):
        local_store.put("tenders/1", io.BytesIO(b"b"))

    assert files_under(tmp_path) == ["objects/.meta/tenders/1/a.pdf.json", "objects/tenders/1/a.pdf"]
    with pytest.raises(ObjectMissing):
        local_store.stat("tenders/1")


def test_presigned_urls_can_be_signed_for_the_public_host(s3_endpoint):
    store = MinioStore(**s3_endpoint, presign_endpoint="files.example.cn")

    url = store.presigned_get_url("a/b.pdf", expires=timedelta(minutes=5))
    part_url = store.multipart_part_url("a/b.pdf", "upload-1", 2, timedelta(minutes=5))

    assert url.startswith(f"http://files.example.cn/{s3_endpoint['bucket']}/a/b.pdf?")
    assert part_url.startswith(f"http://files.example.cn/{s3_endpoint['bucket']}/a/b.pdf?")
    assert "partNumber=2" in part_url
    assert "uploadId=upload-1" in part_url


def test_presigned_urls_can_use_https_for_the_public_host_only(s3_endpoint):
    store = MinioStore(**s3_endpoint, presign_endpoint="tender.example.cn", presign_secure=True)

    part_url = store.multipart_part_url("a/b.pdf", "upload-1", 2, timedelta(minutes=5))

    assert part_url.startswith(f"https://tender.example.cn/{s3_endpoint['bucket']}/a/b.pdf?")
    assert store.client._base_url.is_https is False  # the store itself is still reached over plain HTTP
    assert store.exists("a/never-written.pdf") is False


def test_get_store_signs_for_the_public_endpoint_from_settings(s3_endpoint, settings):
    settings.S3_PUBLIC_ENDPOINT = "tender.example.cn:8443"
    settings.S3_PUBLIC_SECURE = True
    settings.S3_COMPLETE_TIMEOUT = 123
    store = get_store()

    url = store.presigned_get_url("a/b.pdf", expires=timedelta(minutes=1))
    part_url = store.multipart_part_url("a/b.pdf", "upload-1", 3, timedelta(minutes=5))

    assert url.startswith(f"https://tender.example.cn:8443/{s3_endpoint['bucket']}/a/b.pdf?")
    assert part_url.startswith(f"https://tender.example.cn:8443/{s3_endpoint['bucket']}/a/b.pdf?")
    assert "X-Amz-SignedHeaders=host" in part_url
    assert store._completer._http.connection_pool_kw["timeout"].read_timeout == 123
    assert store.client._http.connection_pool_kw["timeout"].read_timeout == 20


@pytest.fixture
def slow_store(s3_endpoint):
    """A MinioStore that waits 0.5 s for answers (1 s to complete uploads), through a shim that holds back the
    answers to requests on an open upload (list parts: GET ?uploadId=, complete: POST ?uploadId=) by 1.5 s."""
    from tests.s3shim import StoreShim

    shim = StoreShim(s3_endpoint["endpoint"], access_key=s3_endpoint["access_key"], secret_key=s3_endpoint["secret_key"])
    shim.hold(lambda method, query: method in {"GET", "POST"} and "uploadId=" in query, 1.5)
    shim.start()
    try:
        yield lambda complete_timeout: MinioStore(
            **{**s3_endpoint, "endpoint": shim.endpoint},
            read_timeout=0.5,
            complete_timeout=complete_timeout,
            retries=0,
        )
    finally:
        shim.stop()


def test_completing_an_upload_may_take_longer_than_other_requests(slow_store):
    store = slow_store(10)
    key = f"slow/{uuid.uuid4().hex}.bin"
    upload_id = store.multipart_create(key)
    etag = store.multipart_upload_part(key, upload_id, 1, b"sealed bid")

    with pytest.raises(StoreUnavailable):
        store.multipart_list_parts(key, upload_id)  # held 1.5 s: over the 0.5 s read timeout
    stored = store.multipart_complete(key, upload_id, [(1, etag)])  # held 1.5 s: within complete_timeout

    assert (stored.key, stored.size) == (key, len(b"sealed bid"))
    assert b"".join(store.iter_chunks(key)) == b"sealed bid"


def test_completing_an_upload_still_times_out(slow_store):
    store = slow_store(1)
    key = f"slow/{uuid.uuid4().hex}.bin"
    upload_id = store.multipart_create(key)
    etag = store.multipart_upload_part(key, upload_id, 1, b"sealed bid")

    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        store.multipart_complete(key, upload_id, [(1, etag)])

    assert 1 <= time.monotonic() - started < 1.5  # not retried


def test_local_stale_sidecar_is_detected(local_store):
    local_store.put("a/b.txt", io.BytesIO(b"old"))
    (local_store.root / "a" / "b.txt").unlink()
    (local_store.root / "a" / "b.txt").write_bytes(b"replaced by hand")  # new inode, old sidecar

    assert local_store.stat("a/b.txt").sha256 == sha256(b"replaced by hand")


def test_local_put_and_read_use_constant_memory(local_store):
    tracemalloc.start()
    try:
        local_store.put("big.bin", GeneratorStream(random_chunks(SIZE, seed=8)))
        digest = hashlib.sha256()
        for chunk in local_store.iter_chunks("big.bin"):
            digest.update(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert digest.hexdigest() == sha256(random_bytes(SIZE, seed=8))
    assert peak < 4 * MiB


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_store_down_fails_fast_with_store_unavailable(s3_endpoint):
    down = MinioStore(f"127.0.0.1:{closed_port()}", "key", "secret", "trading", False, "us-east-1")
    calls = [
        down.ensure_bucket,
        lambda: down.put("a/b", io.BytesIO(b"data")),
        lambda: down.put("a/b", GeneratorStream(random_chunks(SIZE, seed=1))),
        lambda: down.stat("a/b"),
        lambda: down.exists("a/b"),
        lambda: down.delete("a/b"),
        lambda: down.iter_chunks("a/b"),
        lambda: down.multipart_create("a/b"),
        lambda: down.multipart_upload_part("a/b", "id", 1, b"x"),
        lambda: down.multipart_list_parts("a/b", "id"),
        lambda: down.multipart_complete("a/b", "id", [(1, "etag")]),
        lambda: down.multipart_abort("a/b", "id"),
    ]
    started = time.monotonic()

    for call in calls:
        with pytest.raises(StoreUnavailable):
            call()

    assert time.monotonic() - started < 10


class _SlowDown(http.server.BaseHTTPRequestHandler):
    """Answers every request like an overloaded S3: 503 SlowDown."""

    requests: list

    def _answer(self):
        self.requests.append(self.command)
        body = b"" if self.command == "HEAD" else b"<Error><Code>SlowDown</Code><Message>Reduce your rate</Message></Error>"
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(503)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET = do_PUT = do_POST = do_DELETE = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def slow_down_server():
    handler = type("Handler", (_SlowDown,), {"requests": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server, handler.requests
    server.shutdown()
    server.server_close()


def test_5xx_is_store_unavailable_after_two_retries(slow_down_server):
    server, requests = slow_down_server
    store = MinioStore(f"127.0.0.1:{server.server_address[1]}", "key", "secret", "trading", False, "us-east-1")

    with pytest.raises(StoreUnavailable):
        store.stat("a/b")
    with pytest.raises(StoreUnavailable):
        store.iter_chunks("a/b")
    with pytest.raises(StoreUnavailable):
        store.put("a/b", io.BytesIO(b"data"))
    with pytest.raises(StoreUnavailable):
        store.multipart_create("a/b")

    # Idempotent methods are retried twice; POST is not retried.
    assert requests == ["HEAD"] * 3 + ["GET"] * 3 + ["PUT"] * 3 + ["POST"]


def test_store_that_never_answers_times_out_as_unavailable():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)  # the kernel accepts connections; nobody ever answers
        store = MinioStore(
            f"127.0.0.1:{listener.getsockname()[1]}", "key", "secret", "trading", False, "us-east-1", read_timeout=0.3
        )
        started = time.monotonic()

        with pytest.raises(StoreUnavailable):
            store.stat("a/b")

        assert time.monotonic() - started < 3


def test_get_store_follows_settings(s3_endpoint, tmp_path):
    store = get_store()
    assert is_minio(store)
    assert store.bucket == s3_endpoint["bucket"]

    with override_settings(S3_ENDPOINT=None, OBJECT_STORE_DIR=tmp_path / "objects"):
        local = get_store()
        assert isinstance(local, LocalStore)
        assert local.root == tmp_path / "objects"
        assert get_store() is local

    assert get_store() is store


def test_prefetched_yields_in_order_raises_the_readers_error_and_stops_when_closed():
    import threading

    from trading.objectstore import prefetched

    assert list(prefetched(iter([b"a", b"b", b"c"]))) == [b"a", b"b", b"c"]

    def failing():
        yield b"a"
        raise StoreUnavailable("down")

    feed = prefetched(failing())
    assert next(feed) == b"a"
    with pytest.raises(StoreUnavailable):
        next(feed)

    read = []

    def endless():
        while True:
            read.append(1)
            yield b"x"

    before = threading.active_count()
    feed = prefetched(endless(), depth=2)
    assert next(feed) == b"x"
    feed.close()  # stops and joins the reading thread
    assert threading.active_count() == before
    assert len(read) <= 5  # the reader stayed at most `depth` (+ the one in hand) ahead


def test_a_minio_body_cut_short_is_the_store_unavailable_not_a_short_object():
    """Read straight from the socket, a connection that closes early must not look like a truncated object."""
    from trading.objectstore import _ResponseReader

    class Socket:
        def __init__(self, data):
            self.data = data

        def readinto(self, buffer):
            n = min(len(buffer), len(self.data))
            buffer[:n] = self.data[:n]
            self.data = self.data[n:]
            return n

    class Response:
        def __init__(self, data, length):
            self._fp = Socket(data)
            self.headers = {"Content-Length": str(length)}

    whole = _ResponseReader(Response(b"x" * 100, 100), "k")
    buffer = bytearray(64)
    assert [whole.readinto(buffer), whole.readinto(buffer), whole.readinto(buffer)] == [64, 36, 0]
    cut = _ResponseReader(Response(b"x" * 60, 100), "k")
    assert cut.readinto(buffer) == 60
    with pytest.raises(StoreUnavailable):
        cut.readinto(buffer)
