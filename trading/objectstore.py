"""Object store: tender documents now, multi-GB sealed bids later. One interface, two backends.

MinioStore talks S3 to MinIO (or anything S3-compatible) when settings.S3_ENDPOINT is set;
LocalStore keeps files under settings.OBJECT_STORE_DIR otherwise. get_store() picks one.

Both backends stream in constant memory, hash SHA-256 while writing, never leave a partial object
behind a failed write, and refuse the same keys. Failures of the store itself (connection refused,
timeouts, 5xx) raise StoreUnavailable, which callers turn into HTTP 503.
"""

import hashlib
import http.client
import json
import logging
import math
import os
import queue
import re
import secrets
import shutil
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO, NamedTuple
from urllib.parse import quote

import certifi
import urllib3
from django.conf import settings
from minio import Minio
from minio.datatypes import Part
from minio.error import InvalidResponseError, S3Error, ServerError

logger = logging.getLogger(__name__)

MiB = 1024 * 1024
# What streaming readers ask per read: just under the API's malloc mmap threshold (MALLOC_MMAP_THRESHOLD_=1 MiB in
# the Dockerfile and `make run`), so read buffers come from the heap and are reused instead of being mapped, faulted
# in and unmapped on every read.
STREAM_READ = MiB - 64 * 1024
PART_SIZE = 16 * MiB  # streamed puts of unknown length; up to 10,000 parts, so 160 GB at most
MIN_PART_SIZE = 5 * MiB  # S3: every part of a multipart upload but the last
MAX_PARTS = 10_000
MAX_KEY_BYTES = 1024
READ_SIZE = MiB
MAX_PRESIGN = timedelta(days=7)


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    sha256: str | None  # hex; None when the backend cannot tell without reading the object
    etag: str
    content_type: str
    metadata: dict[str, str] = field(default_factory=dict)  # user metadata, keys lower-case


class UploadedPart(NamedTuple):
    part_number: int
    etag: str
    size: int


class StoreUnavailable(Exception):
    """The store cannot be reached or answers 5xx. Callers answer HTTP 503."""


class ObjectMissing(Exception):
    """No object under this key."""


class UploadMissing(ObjectMissing):
    """No multipart upload with this id for this key (never created, completed or aborted)."""


def check_key(key: str) -> str:
    """Keys are relative '/'-separated paths; no component may be empty or start with '.'.

    That refuses '..', '.', absolute keys, 'a//b', trailing '/' and the local backend's own
    '.multipart'/'.meta' directories, on both backends so that code behaves the same on either.
    """
    if not isinstance(key, str) or not key:
        raise ValueError("object key must be a non-empty string")
    if len(key.encode()) > MAX_KEY_BYTES:
        raise ValueError(f"object key is longer than {MAX_KEY_BYTES} bytes")
    if "\x00" in key or "\\" in key:
        raise ValueError(f"object key {key!r} contains NUL or a backslash")
    for part in key.split("/"):
        if not part or part.startswith("."):
            raise ValueError(f"object key {key!r} has an empty, '.', '..' or dot-prefixed component")
    return key


def _check_metadata(metadata: dict[str, str] | None) -> dict[str, str]:
    """User metadata travels as HTTP headers: token keys, ASCII values. Keys come back lower-case."""
    clean = {}
    for name, value in (metadata or {}).items():
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*", name):
            raise ValueError(f"metadata key {name!r} must be letters, digits and '-'")
        if not isinstance(value, str) or not value.isascii() or not value.isprintable():
            raise ValueError(f"metadata value for {name!r} must be printable ASCII")
        clean[name.lower()] = value
    return clean


def _check_part_number(part_number: int) -> None:
    if not 1 <= part_number <= MAX_PARTS:
        raise ValueError(f"part number must be 1..{MAX_PARTS}, not {part_number}")


def _check_expires(expires: timedelta) -> None:
    if not timedelta(seconds=1) <= expires <= MAX_PRESIGN:
        raise ValueError("expires must be between 1 second and 7 days")


def _check_range(chunk_size: int, offset: int, length: int | None) -> None:
    if chunk_size <= 0 or offset < 0 or (length is not None and length < 0):
        raise ValueError("chunk_size must be positive, offset and length not negative")


def content_disposition(filename: str) -> str:
    """attachment; an ASCII fallback for old clients and the exact UTF-8 name (RFC 6266/5987)."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


class HashingReader:
    """File-like over `stream`: read(n) returns n bytes unless the stream ends (or `limit` is hit),
    and every byte that passes is counted and fed to SHA-256."""

    def __init__(self, stream: BinaryIO, limit: int | None = None):
        self._stream = stream
        self._limit = limit
        self._sha = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        if self._limit is not None:
            remaining = self._limit - self.size
            n = remaining if n < 0 else min(n, remaining)
        chunks = []
        got = 0
        while n < 0 or got < n:
            chunk = self._stream.read(READ_SIZE if n < 0 else n - got)
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        data = bytes(chunks[0]) if len(chunks) == 1 else b"".join(chunks)
        self._sha.update(data)
        self.size += len(data)
        return data

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


class Raised:
    """An exception handed from a reading thread to the one consuming what it reads."""

    def __init__(self, error: BaseException):
        self.error = error


_END = object()


def prefetched(pieces: Iterable[bytes], depth: int = 2) -> Iterator[bytes]:
    """The pieces, read on a second thread up to `depth` ahead, so that the network read overlaps what the caller
    does with them (decryption and hashing release the GIL too). Closing the generator stops and joins the
    thread; the reader's errors are raised here. Close it before closing `pieces`."""
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def pump() -> None:
        try:
            for piece in pieces:
                if not offer(piece):
                    return
            offer(_END)
        except BaseException as error:  # handed to the consuming thread
            offer(Raised(error))

    thread = threading.Thread(target=pump, name="ciphertext-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = ready.get()
            if item is _END:
                return
            if isinstance(item, Raised):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join()


class Reader(ABC):
    """readinto() over a stored object's bytes (0 at the end only), and close()."""

    @abstractmethod
    def readinto(self, buffer) -> int: ...

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> "Reader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _ChunksReader(Reader):
    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self._pending = memoryview(b"")

    def readinto(self, buffer) -> int:
        if not len(self._pending):
            self._pending = memoryview(next(self._chunks, b""))
        n = min(len(buffer), len(self._pending))
        memoryview(buffer).cast("B")[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()


class _FileReader(Reader):
    def __init__(self, f: BinaryIO):
        self._f = f

    def readinto(self, buffer) -> int:
        return self._f.readinto(buffer)

    def close(self) -> None:
        self._f.close()


class ChunkIterator(Iterator[bytes]):
    """Chunks of an already opened body. close() releases it; it runs at the end, on an error,
    when a consumer such as StreamingHttpResponse closes it, and at garbage collection."""

    def __init__(self, read: Callable[[], bytes], close: Callable[[], None]):
        self._read = read
        self._close = close
        self._closed = False

    def __next__(self) -> bytes:
        if self._closed:
            raise StopIteration
        try:
            chunk = self._read()
        except BaseException:
            self.close()
            raise
        if not chunk:
            self.close()
            raise StopIteration
        return chunk

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._close()

    def __del__(self):
        self.close()

    @classmethod
    def empty(cls) -> "ChunkIterator":
        return cls(lambda: b"", lambda: None)


class ObjectStore(ABC):
    """The contract both backends keep. Every key goes through check_key (ValueError)."""

    @abstractmethod
    def ensure_bucket(self) -> None:
        """Create the bucket (or root directory) if it does not exist."""

    @abstractmethod
    def put(
        self,
        key: str,
        stream: BinaryIO,
        *,
        length: int | None = None,
        content_type: str = "application/octet-stream",
        metadata: dict[str, str] | None = None,
        part_size: int | None = None,
    ) -> StoredObject:
        """Stream `stream` (or its first `length` bytes) into `key`, replacing any object there.

        Constant memory (about two parts: `part_size`, default 16 MiB, at least S3's 5 MiB); returns the SHA-256
        computed on the way. If the stream raises or ends short
        of `length` (OSError), the exception propagates and the key holds what it held before.
        """

    @abstractmethod
    def stat(self, key: str) -> StoredObject:
        """ObjectMissing if there is nothing under `key`."""

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except ObjectMissing:
            return False
        return True

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove `key`; nothing happens if it is already gone."""

    @abstractmethod
    def iter_chunks(self, key: str, *, chunk_size: int = MiB, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        """Bytes [offset, offset+length) of `key` in chunks of chunk_size (the last may be shorter).

        The object is opened at once, so ObjectMissing/StoreUnavailable raise here, not at the first
        chunk; the returned iterator has close(). An offset at or past the end yields nothing.
        """

    def open_reader(self, key: str) -> "Reader":
        """The whole object as a reader whose readinto() fills the caller's buffer: for streaming consumers that
        reuse their buffers. ObjectMissing/StoreUnavailable as for iter_chunks; a body that ends before its
        length raises StoreUnavailable, never a short read. This default goes through iter_chunks."""
        return _ChunksReader(self.iter_chunks(key, chunk_size=STREAM_READ))

    @abstractmethod
    def presigned_get_url(self, key: str, *, expires: timedelta, filename: str | None = None) -> str | None:
        """A URL the browser downloads from directly, saving under `filename`; None: serve through the app."""

    @abstractmethod
    def multipart_create(self, key: str, content_type: str = "application/octet-stream") -> str:
        """Start a multipart upload into `key`; returns its upload id."""

    @abstractmethod
    def multipart_part_url(self, key: str, upload_id: str, part_number: int, expires: timedelta) -> str | None:
        """A URL the client PUTs part `part_number` to; None: send parts through the app."""

    @abstractmethod
    def multipart_upload_part(self, key: str, upload_id: str, part_number: int, data: bytes) -> str:
        """Store one part (replacing an earlier upload of the same number); returns its etag."""

    @abstractmethod
    def multipart_list_parts(self, key: str, upload_id: str) -> list[UploadedPart]:
        """Parts received so far, by part number: what a resumed upload still has to send."""

    @abstractmethod
    def multipart_complete(self, key: str, upload_id: str, parts: Iterable[tuple]) -> StoredObject:
        """Join (part_number, etag, ...) parts, ascending, into `key`.

        ValueError if the order is wrong, a part or etag does not match, or a part but the last is
        under 5 MiB; the upload then stays open. UploadMissing if the upload does not exist.
        """

    @abstractmethod
    def multipart_abort(self, key: str, upload_id: str) -> None:
        """Drop the upload and its parts; nothing happens if it is already gone."""


class _ResponseReader(Reader):
    """readinto() straight from the HTTP response's socket buffer (http.client under urllib3), skipping urllib3's
    copy per read; the body's Content-Length is enforced here as urllib3 would."""

    def __init__(self, response, key: str):
        self._response = response
        self._raw = getattr(response, "_fp", None) or response
        self._key = key
        self._left = int(response.headers.get("Content-Length", "-1"))

    def readinto(self, buffer) -> int:
        try:
            n = self._raw.readinto(buffer)
        except (OSError, http.client.HTTPException, urllib3.exceptions.HTTPError) as exc:
            logger.warning("object store unavailable: %s", exc)
            raise StoreUnavailable(f"{self._key}: {exc}") from exc
        if self._left >= 0:
            if n == 0 and len(buffer) and self._left > 0:
                raise StoreUnavailable(f"{self._key}: the connection closed {self._left} bytes before the end")
            self._left -= n
        return n

    def close(self) -> None:
        self._response.close()
        self._response.release_conn()


def _pool(connect_timeout: float, read_timeout: float, retries: int, maxsize: int = 10) -> urllib3.PoolManager:
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
        maxsize=maxsize,
        cert_reqs="CERT_REQUIRED",
        ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
        # POST (CompleteMultipartUpload) is never retried: urllib3 retries idempotent methods only.
        retries=urllib3.Retry(total=retries, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
    )


class MinioStore(ObjectStore):
    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        secure: bool = False,
        region: str = "us-east-1",
        *,
        connect_timeout: float = 2.0,
        read_timeout: float = 20.0,
        complete_timeout: float = 300.0,
        retries: int = 2,
        presign_endpoint: str | None = None,
        presign_secure: bool | None = None,
    ):
        """presign_endpoint: host[:port] browsers reach the store at, when it differs from `endpoint`
        (e.g. endpoint "minio:9000" inside the cluster, "tender.example.cn" for the browser, through a reverse
        proxy that forwards the browser's Host). The host is part of the signature, so presigned URLs must be
        signed for it rather than rewritten afterwards. presign_secure: https in those URLs (default: `secure`).

        read_timeout bounds every wait for the store's answer; complete_timeout replaces it for
        CompleteMultipartUpload only, which legitimately takes long on big objects (the store joins the parts
        before it answers, and S3 may send whitespace meanwhile)."""
        self.bucket = bucket
        # The SDK default is 5 minutes and 5 retries per request: "S3 down" would hang a request
        # for half an hour. Here an unreachable store fails within (1 + retries) * connect_timeout.
        self.client = Minio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,
            http_client=_pool(connect_timeout, read_timeout, retries),
        )
        # Its own pool (urllib3 timeouts are per pool): only multipart_complete waits this long.
        self._completer = Minio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,
            http_client=_pool(connect_timeout, complete_timeout, retries, maxsize=4),
        )
        # Signing needs no request when the region is given, so this client never opens a connection.
        self._presigner = (
            Minio(
                presign_endpoint,
                access_key=access_key,
                secret_key=secret_key,
                secure=secure if presign_secure is None else presign_secure,
                region=region,
            )
            if presign_endpoint
            else self.client
        )

    @contextmanager
    def _errors(self, key: str | None = None):
        try:
            yield
        except S3Error as exc:
            if exc.code == "NoSuchKey":
                raise ObjectMissing(key) from exc
            if exc.code == "NoSuchUpload":
                raise UploadMissing(key) from exc
            if exc.code in {"InvalidPart", "InvalidPartOrder", "EntityTooSmall"}:
                raise ValueError(f"{exc.code}: {exc.message}") from exc
            if exc.response is not None and exc.response.status >= 500:
                logger.warning("object store unavailable: %s", exc)
                raise StoreUnavailable(str(exc)) from exc
            raise
        except ServerError as exc:
            if exc.status_code < 500:
                raise
            logger.warning("object store unavailable: %s", exc)
            raise StoreUnavailable(str(exc)) from exc
        except (urllib3.exceptions.HTTPError, InvalidResponseError) as exc:
            # Connection refused/reset, timeouts, retries exhausted on 5xx, a non-S3 answer (a proxy's page).
            logger.warning("object store unavailable: %s", exc)
            raise StoreUnavailable(str(exc)) from exc

    def ensure_bucket(self) -> None:
        with self._errors():
            if self.client.bucket_exists(self.bucket):
                return
            try:
                self.client.make_bucket(self.bucket)
            except S3Error as exc:
                if exc.code not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                    raise

    def put(self, key, stream, *, length=None, content_type="application/octet-stream", metadata=None, part_size=None):
        check_key(key)
        metadata = _check_metadata(metadata)
        wanted = max(5 * MiB, part_size or PART_SIZE)
        if length is None:
            part_size = wanted
        else:
            part_size = max(wanted, math.ceil(length / MAX_PARTS / MiB) * MiB)
        reader = HashingReader(stream, limit=length)
        with self._errors(key):
            # One part in flight: the SDK's thread pool would hold several parts in memory and, when
            # the stream fails, abort the upload while parts are still being sent.
            result = self.client.put_object(
                self.bucket,
                key,
                reader,  # type: ignore[arg-type]
                -1 if length is None else length,
                content_type=content_type,
                metadata={f"X-Amz-Meta-{name}": value for name, value in metadata.items()},  # type: ignore[arg-type]
                part_size=part_size,
                num_parallel_uploads=1,
            )
        return StoredObject(key, reader.size, reader.hexdigest(), result.etag or "", content_type, metadata)

    def stat(self, key):
        check_key(key)
        with self._errors(key):
            obj = self.client.stat_object(self.bucket, key)
        metadata = {
            name.lower().removeprefix("x-amz-meta-"): value
            for name, value in (obj.metadata or {}).items()
            if name.lower().startswith("x-amz-meta-")
        }
        return StoredObject(key, obj.size or 0, None, obj.etag or "", obj.content_type or "application/octet-stream", metadata)

    def delete(self, key):
        check_key(key)
        with self._errors(key):
            self.client.remove_object(self.bucket, key)

    def iter_chunks(self, key, *, chunk_size=MiB, offset=0, length=None):
        check_key(key)
        _check_range(chunk_size, offset, length)
        if length == 0:
            self.stat(key)
            return ChunkIterator.empty()
        with self._errors(key):
            try:
                response = self.client.get_object(self.bucket, key, offset=offset, length=length or 0)
            except S3Error as exc:
                if exc.code != "InvalidRange":
                    raise
                self.stat(key)  # 416 for an offset at or past the end; still ObjectMissing if gone
                return ChunkIterator.empty()

        def read() -> bytes:
            with self._errors(key):
                return response.read(chunk_size)

        def close() -> None:
            response.close()
            response.release_conn()

        return ChunkIterator(read, close)

    def open_reader(self, key):
        check_key(key)
        with self._errors(key):
            response = self.client.get_object(self.bucket, key)
        return _ResponseReader(response, key)

    def presigned_get_url(self, key, *, expires, filename=None):
        check_key(key)
        _check_expires(expires)
        headers = {"response-content-disposition": content_disposition(filename)} if filename else None
        return self._presigner.presigned_get_object(self.bucket, key, expires=expires, response_headers=headers)

    def multipart_create(self, key, content_type="application/octet-stream"):
        check_key(key)
        with self._errors(key):
            return self.client._create_multipart_upload(self.bucket, key, {"Content-Type": content_type})

    def multipart_part_url(self, key, upload_id, part_number, expires):
        check_key(key)
        _check_part_number(part_number)
        _check_expires(expires)
        return self._presigner.get_presigned_url(
            "PUT",
            self.bucket,
            key,
            expires=expires,
            extra_query_params={"partNumber": str(part_number), "uploadId": upload_id},
        )

    def multipart_upload_part(self, key, upload_id, part_number, data):
        check_key(key)
        _check_part_number(part_number)
        with self._errors(key):
            return self.client._upload_part(self.bucket, key, data, None, upload_id, part_number)

    def multipart_list_parts(self, key, upload_id):
        check_key(key)
        parts: list[UploadedPart] = []
        marker = None
        with self._errors(key):
            while True:
                result = self.client._list_parts(self.bucket, key, upload_id, part_number_marker=marker)
                parts += [UploadedPart(p.part_number, p.etag, p.size or 0) for p in result.parts]
                if not result.is_truncated or not result.parts:
                    return parts
                marker = result.next_part_number_marker or str(result.parts[-1].part_number)

    def multipart_complete(self, key, upload_id, parts):
        check_key(key)
        chosen = [Part(int(part[0]), str(part[1]).strip('"')) for part in parts]
        if not chosen:
            raise ValueError("a multipart upload needs at least one part")
        with self._errors(key):
            self._completer._complete_multipart_upload(self.bucket, key, upload_id, chosen)
        return self.stat(key)

    def multipart_abort(self, key, upload_id):
        check_key(key)
        with self._errors(key):
            try:
                self.client._abort_multipart_upload(self.bucket, key, upload_id)
            except S3Error as exc:
                if exc.code != "NoSuchUpload":
                    raise


class LocalStore(ObjectStore):
    """Files under `root`. Each write goes to a temporary file in the target directory, is fsynced and
    then os.replace()d into place, so readers see the old or the new object, never a partial one.

    root/<key> holds the bytes; root/.meta/<key>.json the SHA-256, content type and metadata, tied to
    the data file's inode, size and mtime (a stale sidecar after a crash is detected, the hash recomputed);
    root/.multipart/<upload_id>/<n> the parts of open uploads. A key cannot be both an object and a
    prefix of another ('a' and 'a/b'): that write fails with OSError.
    """

    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _meta_path(self, key: str) -> Path:
        return self.root / ".meta" / f"{key}.json"

    def _upload_dir(self, key: str, upload_id: str) -> Path:
        check_key(key)
        if not isinstance(upload_id, str) or not re.fullmatch(r"[0-9a-f]{32}", upload_id):
            raise UploadMissing(key)  # also keeps a client-supplied id from walking out of .multipart
        path = self.root / ".multipart" / upload_id
        try:
            info = json.loads((path / "upload.json").read_text())
        except FileNotFoundError:
            raise UploadMissing(key) from None
        if info["key"] != key:
            raise UploadMissing(key)
        return path

    def ensure_bucket(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    # Writing ------------------------------------------------------------------------------------

    def _write_atomic(
        self, path: Path, fill: Callable[[BinaryIO], None], sidecar: Path, meta: Callable[[], dict]
    ) -> os.stat_result:
        """fill() a temporary file next to `path`, fsync it, write the sidecar meta() (which may use
        what fill computed), then os.replace the data into place."""
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            raise IsADirectoryError(f"{path} is a prefix of other keys")
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                fill(out)
                out.flush()
                os.fsync(out.fileno())
                st = os.fstat(out.fileno())
            _write_json(sidecar, {**meta(), "file": _identity(st)})
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(path.parent)
        return st

    def put(self, key, stream, *, length=None, content_type="application/octet-stream", metadata=None, part_size=None):
        path = self._path(key)
        metadata = _check_metadata(metadata)
        reader = HashingReader(stream, limit=length)

        def fill(out: BinaryIO) -> None:
            while chunk := reader.read(READ_SIZE):
                out.write(chunk)
            if length is not None and reader.size != length:
                raise OSError(f"stream ended after {reader.size} of {length} bytes")

        def meta() -> dict:
            return {"sha256": reader.hexdigest(), "content_type": content_type, "metadata": metadata}

        st = self._write_atomic(path, fill, self._meta_path(key), meta)
        return StoredObject(key, st.st_size, reader.hexdigest(), reader.hexdigest(), content_type, metadata)

    def stat(self, key):
        path = self._path(key)
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectMissing(key) from None
        if not os.path.isfile(path):
            raise ObjectMissing(key)
        meta = _read_json(self._meta_path(key))
        if meta.get("file") != _identity(st):  # written by hand, or a crash between the two renames
            meta = {"sha256": _sha256_file(path)}
        return StoredObject(
            key,
            st.st_size,
            meta["sha256"],
            meta["sha256"],
            meta.get("content_type", "application/octet-stream"),
            meta.get("metadata", {}),
        )

    def delete(self, key):
        path = self._path(key)
        if path.is_dir():
            return
        path.unlink(missing_ok=True)
        self._meta_path(key).unlink(missing_ok=True)

    def iter_chunks(self, key, *, chunk_size=MiB, offset=0, length=None):
        path = self._path(key)
        _check_range(chunk_size, offset, length)
        try:
            f = open(path, "rb")  # noqa: SIM115 - closed by the ChunkIterator
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ObjectMissing(key) from None
        f.seek(offset)
        remaining = [math.inf if length is None else length]

        def read() -> bytes:
            n = int(min(chunk_size, remaining[0]))
            data = f.read(n) if n else b""
            remaining[0] -= len(data)
            return data

        return ChunkIterator(read, f.close)

    def open_reader(self, key):
        path = self._path(key)
        try:
            return _FileReader(open(path, "rb"))
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ObjectMissing(key) from None

    def presigned_get_url(self, key, *, expires, filename=None):
        check_key(key)
        _check_expires(expires)
        return None

    # Multipart ----------------------------------------------------------------------------------

    def multipart_create(self, key, content_type="application/octet-stream"):
        check_key(key)
        upload_id = secrets.token_hex(16)
        path = self.root / ".multipart" / upload_id
        path.mkdir(parents=True)
        _write_json(path / "upload.json", {"key": key, "content_type": content_type})
        return upload_id

    def multipart_part_url(self, key, upload_id, part_number, expires):
        self._upload_dir(key, upload_id)
        _check_part_number(part_number)
        _check_expires(expires)
        return None

    def multipart_upload_part(self, key, upload_id, part_number, data):
        path = self._upload_dir(key, upload_id)
        _check_part_number(part_number)
        etag = hashlib.sha256(data).hexdigest()
        part = path / str(part_number)
        self._write_atomic(part, lambda out: out.write(data), path / f"{part_number}.json", lambda: {"etag": etag})
        return etag

    def _parts(self, path: Path) -> dict[int, UploadedPart]:
        parts = {}
        for entry in path.iterdir():
            if entry.name.isdigit():
                st = entry.stat()
                meta = _read_json(path / f"{entry.name}.json")
                etag = meta["etag"] if meta.get("file") == _identity(st) else _sha256_file(entry)
                parts[int(entry.name)] = UploadedPart(int(entry.name), etag, st.st_size)
        return parts

    def multipart_list_parts(self, key, upload_id):
        return sorted(self._parts(self._upload_dir(key, upload_id)).values())

    def multipart_complete(self, key, upload_id, parts):
        path = self._upload_dir(key, upload_id)
        target = self._path(key)
        uploaded = self._parts(path)
        chosen = [(int(part[0]), str(part[1]).strip('"')) for part in parts]
        if not chosen:
            raise ValueError("a multipart upload needs at least one part")
        numbers = [number for number, _ in chosen]
        if numbers != sorted(set(numbers)):
            raise ValueError("InvalidPartOrder: part numbers must be strictly ascending")
        for index, (number, etag) in enumerate(chosen):
            if number not in uploaded or uploaded[number].etag != etag:
                raise ValueError(f"InvalidPart: part {number} with etag {etag} was not uploaded")
            if index < len(chosen) - 1 and uploaded[number].size < MIN_PART_SIZE:
                raise ValueError(f"EntityTooSmall: part {number} is under 5 MiB and not the last")
        content_type = json.loads((path / "upload.json").read_text())["content_type"]
        sha = hashlib.sha256()

        def fill(out: BinaryIO) -> None:
            for number, _ in chosen:
                with open(path / str(number), "rb") as part:
                    while chunk := part.read(READ_SIZE):
                        sha.update(chunk)
                        out.write(chunk)

        def meta() -> dict:
            return {"sha256": sha.hexdigest(), "content_type": content_type, "metadata": {}}

        st = self._write_atomic(target, fill, self._meta_path(key), meta)
        shutil.rmtree(path, ignore_errors=True)
        return StoredObject(key, st.st_size, sha.hexdigest(), sha.hexdigest(), content_type, {})

    def multipart_abort(self, key, upload_id):
        try:
            path = self._upload_dir(key, upload_id)
        except UploadMissing:
            return
        shutil.rmtree(path, ignore_errors=True)


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(data, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _identity(st: os.stat_result) -> list[int]:
    """Which file a sidecar describes: inode numbers get reused, so with size and mtime."""
    return [st.st_ino, st.st_size, st.st_mtime_ns]


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return {}


def _sha256_file(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(READ_SIZE):
            sha.update(chunk)
    return sha.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@lru_cache(maxsize=16)
def _store_for(config: tuple) -> ObjectStore:
    endpoint, access_key, secret_key, bucket, secure, region, public_endpoint, public_secure, complete_timeout, root = config
    if endpoint:
        return MinioStore(
            endpoint,
            access_key,
            secret_key,
            bucket,
            secure,
            region,
            complete_timeout=complete_timeout,
            presign_endpoint=public_endpoint,
            presign_secure=public_secure,
        )
    return LocalStore(Path(root))


def get_store() -> ObjectStore:
    """The configured store; one instance per distinct configuration (tests that change settings get a fresh one)."""
    return _store_for(
        (
            settings.S3_ENDPOINT,
            settings.S3_ACCESS_KEY,
            settings.S3_SECRET_KEY,
            settings.S3_BUCKET,
            settings.S3_SECURE,
            settings.S3_REGION,
            settings.S3_PUBLIC_ENDPOINT,
            settings.S3_PUBLIC_SECURE,
            settings.S3_COMPLETE_TIMEOUT,
            str(settings.OBJECT_STORE_DIR),
        )
    )
