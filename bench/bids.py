"""Sealed bids end to end against a real S3 endpoint and the API served by daphne, each in its own process.

    .venv/bin/python -m bench.bids --size 1G            (make bench; SIZE=256M make bench)

1. Upload: the same sealed file through the project's path (bidding.client.Uploader + http_transport: presigned
   part PUTs straight to S3, then `complete`, which reads the object back to check SHA-256 and header) against
   the minio SDK's fput_object of that file (16 MiB parts, its default 3 parallel uploads). ratio = direct / project.
2. Decryption at opening: the project's path (sign-in, then POST /api/bids/{id}/decrypt/, which runs
   bidding.services.opening.verify_object: every chunk decrypted and checked, which decides the bid) against a
   raw download of the same object with the minio SDK. ratio = raw / decrypt. A Celery worker (its own process,
   broker on Redis: --broker) then writes the opened file (store_opened_file); the time from the request to the
   stored file is compared with a raw copy (download piped into an upload), for information.
3. Peak RSS (VmHWM, reset before each request-level operation) of the daphne process, for a small file
   (--small) and for --size; the worker's, while it stores the opened file, for information.

Rounds alternate the two sides (and which goes first); medians are reported. Everything runs on 127.0.0.1,
under one temporary directory that is removed at the end; every subprocess is stopped; --timeout bounds it all.
Results and method: docs/performance.md.
"""

import argparse
import base64
import contextlib
import dataclasses
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from minio import Minio

from bidding import envelope
from bidding.client import Uploader, http_transport

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
MiB = 1024 * 1024
PART_SIZE = 16 * MiB
BUCKET = "bench"
ACCESS_KEY = "bench-access-key"
SECRET_KEY = "bench-secret-key"
TARGETS = {"upload": 0.9, "decrypt": 0.9, "rss_mib": 150}


def parse_size(text: str) -> int:
    match = re.fullmatch(r"(\d+)([KMG]?)i?B?", text.strip(), re.IGNORECASE)
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 256M, 1G)")
    return int(match[1]) * {"": 1, "K": 1024, "M": MiB, "G": 1024 * MiB}[match[2].upper()]


def human(size: int) -> str:
    for unit, factor in (("GiB", 1024 * MiB), ("MiB", MiB), ("KiB", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} B"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- Processes -----------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


class Processes:
    """Subprocesses started here, each in its own process group, stopped (TERM, then KILL) by stop_all()."""

    def __init__(self, logs: Path):
        self.logs = logs
        self.running: list[subprocess.Popen] = []

    def start(self, name: str, args: list[str], env: dict) -> subprocess.Popen:
        out = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        out.close()
        self.running.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.running):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in reversed(self.running):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        self.running.clear()


def run_step(env: dict, logs: Path, *args: str, timeout: float = 300) -> str:
    """A Django step in a subprocess (bench/stage.py or manage.py); its stdout, stderr kept in the logs."""
    command = [PY, "manage.py", *args[1:]] if args[0] == "manage.py" else [PY, "-m", "bench.stage", *args]
    with open(logs / "steps.log", "ab") as err:
        result = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=err, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}); see {logs / 'steps.log'}")
    return result.stdout.decode()


# --- Peak RSS --------------------------------------------------------------------------------------------------


def vm_hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def vm_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def reset_hwm(pid: int) -> bool:
    """Resets the peak RSS to the current RSS (Linux clear_refs 5); False if not allowed here."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


# --- Files -----------------------------------------------------------------------------------------------------


def write_plaintext(path: Path, size: int) -> None:
    """Pseudo-random bytes: a random 64 MiB block repeated (a bid is ciphertext anyway, so nothing compresses)."""
    block = os.urandom(min(size, 64 * MiB))
    with open(path, "wb") as out:
        left = size
        while left:
            left -= out.write(memoryview(block)[: min(left, len(block))])


@dataclasses.dataclass
class Bidder:
    username: str
    credit_code: str
    token: str
    public_key: bytes
    private_key: object

    @classmethod
    def from_seed(cls, data: dict) -> "Bidder":
        return cls(
            data["username"],
            data["credit_code"],
            data["token"],
            base64.b64decode(data["public_key"]),
            envelope.import_private_key(data["private_key"].encode()),
        )


def seal_for(plain: Path, sealed: Path, lot_code: str, bidder: Bidder) -> bytes:
    """Seals `plain` for the lot and bidder; returns the data key (what the bidder submits at opening)."""
    header = envelope.seal_file(plain, sealed, lot=lot_code, bidder=bidder.credit_code, bidder_public_key=bidder.public_key)
    return envelope.unwrap_key(header, bidder.private_key, lot=lot_code, bidder=bidder.credit_code)


# --- The two sides of each comparison -----------------------------------------------------------------------


def timed(function, *args, **kw) -> tuple[float, object]:
    started = time.perf_counter()
    result = function(*args, **kw)
    return time.perf_counter() - started, result


def project_upload(server: str, bidder: Bidder, lot_id: int, path: Path, concurrency: int | None) -> dict:
    kw = {} if concurrency is None else {"concurrency": concurrency}
    uploader = Uploader(http_transport(server, bidder.token, timeout=900), **kw)
    return uploader.upload(lot_id, path)


def direct_upload(client: Minio, path: Path) -> None:
    key = f"bench/direct/{uuid.uuid4().hex}"
    client.fput_object(BUCKET, key, str(path), part_size=PART_SIZE)
    return key


def raw_download(client: Minio, key: str) -> int:
    response = client.get_object(BUCKET, key)
    total = 0
    try:
        for chunk in response.stream(MiB):
            total += len(chunk)
    finally:
        response.close()
        response.release_conn()
    return total


def raw_copy(client: Minio, key: str, size: int) -> str:
    """Download piped into an upload, one part in flight (what a streaming decrypt-and-store at least costs)."""
    target = f"bench/copy/{uuid.uuid4().hex}"
    response = client.get_object(BUCKET, key)
    try:
        client.put_object(BUCKET, target, response, size, part_size=PART_SIZE, num_parallel_uploads=1)
    finally:
        response.close()
        response.release_conn()
    return target


def sign_in_and_decrypt(server: str, bidder: Bidder, lot_id: int, bid_id: str, data_key: bytes) -> tuple[float, dict, float]:
    """The bidder signs in to the opening (untimed; again is harmless), then hands in its data key: the timed
    request runs verify_object, the ciphertext streamed from S3 and every chunk decrypted and checked. Returns
    (request seconds, body, the request's start on the perf_counter clock)."""
    call = http_transport(server, bidder.token, timeout=1800)
    status, body = call("POST", f"/api/lots/{lot_id}/opening/sign-in/", json_body={})
    if status not in (200, 201):
        raise RuntimeError(f"sign-in: HTTP {status} {body}")
    key = base64.b64encode(data_key).decode()
    started = time.perf_counter()
    status, body = call("POST", f"/api/bids/{bid_id}/decrypt/", json_body={"data_key": key})
    seconds = time.perf_counter() - started
    if status != 200 or body.get("status") != "decrypted":
        raise RuntimeError(f"decrypt: HTTP {status} {body}")
    return seconds, body, started


def wait_until_stored(server: str, bidder: Bidder, bid_id: str, timeout: float = 900) -> float:
    """Polls the bid (every 50 ms) until the worker has stored its opened file; returns the perf_counter time."""
    call = http_transport(server, bidder.token)
    limit = time.perf_counter() + timeout
    while time.perf_counter() < limit:
        status, body = call("GET", f"/api/bids/{bid_id}/")
        if status == 200 and body.get("opened_file_stored"):
            return time.perf_counter()
        time.sleep(0.05)
    raise RuntimeError(f"bid {bid_id}: the opened file was not stored within {timeout} s")


def withdraw(server: str, bidder: Bidder, bid_id: str) -> None:
    """So that the next timed upload is a first submission, not a replacement (which also deletes the old object)."""
    status, body = http_transport(server, bidder.token)("POST", f"/api/bids/{bid_id}/withdraw/")
    if status != 204:
        raise RuntimeError(f"withdraw: HTTP {status} {body}")


# --- The run ---------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Phase:
    size: int
    rounds: int
    upload_project: dict = dataclasses.field(default_factory=dict)  # client concurrency label -> [seconds]
    upload_direct: list = dataclasses.field(default_factory=list)
    decrypt: list = dataclasses.field(default_factory=list)
    stored: list = dataclasses.field(default_factory=list)  # decrypt request start -> opened file stored
    worker_rss: list = dataclasses.field(default_factory=list)  # [worker VmRSS before KiB, VmHWM after KiB]
    download: list = dataclasses.field(default_factory=list)
    copy: list = dataclasses.field(default_factory=list)
    rss: list = dataclasses.field(default_factory=list)  # [operation, daphne VmRSS before KiB, VmHWM after KiB]
    sealed_size: int = 0

    def peak_kib(self, operation: str) -> int:
        return max((after for op, _, after in self.rss if op.startswith(operation)), default=0)


def run_phase(ctx: dict, phase: Phase, lot: dict, concurrencies: list[int | None], copy_baseline: bool) -> None:
    bidders: list[Bidder] = ctx["bidders"]
    work: Path = ctx["work"]
    pid = ctx["daphne"].pid
    client: Minio = ctx["minio"]
    server = ctx["server"]
    log(f"phase {human(phase.size)}: lot {lot['id']}, {phase.rounds} bidder(s) with big bids")

    def api_op(operation: str, function, *args):
        """Runs one request-level operation with daphne's peak RSS reset before it and read after it."""
        reset_hwm(pid)
        before = vm_rss_kib(pid)
        result = timed(function, *args)
        phase.rss.append([operation, before, vm_hwm_kib(pid)])
        return result

    plain = work / "plain.bin"
    write_plaintext(plain, phase.size)
    small = work / "small.bin"
    write_plaintext(small, 64 * 1024)
    files, keys = [], []
    for i, bidder in enumerate(bidders):
        path = work / f"{human(phase.size).replace(' ', '')}-{bidder.username}.sealed"
        # The lot needs three bids to open (条例44): bidders beyond `rounds` bid small, untimed.
        keys.append(seal_for(plain if i < phase.rounds else small, path, lot["code"], bidder))
        files.append(path)
    plain.unlink()
    phase.sealed_size = files[0].stat().st_size
    log(f"sealed {len(files)} file(s), big ones {phase.sealed_size} bytes")
    small_bids = {
        i: project_upload(server, bidders[i], lot["id"], files[i], None)["bid"] for i in range(phase.rounds, len(bidders))
    }
    # Untimed warm-up: moto's first multipart completion of this size grows its heap (page faults on a fresh
    # 2x size), which would otherwise always fall on round 1's first side.
    seconds, key = timed(direct_upload, client, files[0])
    client.remove_object(BUCKET, key)
    log(f"  warm-up upload (untimed) {seconds:.2f} s")

    bid_ids: dict[int, str] = {}
    for i in range(phase.rounds):

        def project(i=i):
            for concurrency in concurrencies if i % 2 == 0 else concurrencies[::-1]:
                if i in bid_ids:
                    withdraw(server, bidders[i], bid_ids[i])
                label = "default" if concurrency is None else str(concurrency)
                seconds, receipt = api_op(
                    f"upload c={label}", project_upload, server, bidders[i], lot["id"], files[i], concurrency
                )
                phase.upload_project.setdefault(label, []).append(seconds)
                bid_ids[i] = receipt["bid"]
                log(f"  upload project (client concurrency {label}) {seconds:.2f} s")

        def direct(i=i):
            seconds, key = timed(direct_upload, client, files[i])
            client.remove_object(BUCKET, key)
            phase.upload_direct.append(seconds)
            log(f"  upload direct (minio fput_object) {seconds:.2f} s")

        for step in (project, direct) if i % 2 == 0 else (direct, project):
            step()

    run_step(ctx["env"], ctx["logs"], "open", str(lot["id"]))
    object_keys = json.loads(run_step(ctx["env"], ctx["logs"], "keys", *bid_ids.values()))
    # Untimed warm-up: one small bid decrypted first, so that no round pays for the API's first decryption (the
    # broker connection, the first transaction of its kind), as the warm-up upload does for the uploads.
    first_small = min(small_bids)
    seconds = sign_in_and_decrypt(server, bidders[first_small], lot["id"], small_bids[first_small], keys[first_small])[0]
    log(f"  warm-up decrypt of a small bid (untimed) {seconds:.2f} s")
    for i in range(phase.rounds):
        key = object_keys[bid_ids[i]]

        def decrypt(i=i):
            worker = ctx["worker"].pid
            reset_hwm(worker)
            worker_before = vm_rss_kib(worker)
            seconds, body, started = api_op("decrypt", sign_in_and_decrypt, server, bidders[i], lot["id"], bid_ids[i], keys[i])[1]
            assert body["plaintext_size"] == phase.size, body
            done = wait_until_stored(server, bidders[i], bid_ids[i])
            phase.worker_rss.append([worker_before, vm_hwm_kib(worker)])
            phase.decrypt.append(seconds)
            phase.stored.append(done - started)
            log(f"  decrypt (endpoint) {seconds:.2f} s, opened file stored by the worker after {done - started:.2f} s")

        def download(key=key):
            seconds, size = timed(raw_download, client, key)
            assert size == phase.sealed_size, (size, phase.sealed_size)
            phase.download.append(seconds)
            log(f"  raw download {seconds:.2f} s")

        for step in (decrypt, download) if i % 2 == 0 else (download, decrypt):
            step()
    # The raw copies (information only) come after every timed pair: each writes and removes a whole object, and
    # moto's work after it (freeing, its temp files) would otherwise fall on whichever side ran next.
    for i in range(phase.rounds if copy_baseline else 0):
        seconds, target = timed(raw_copy, client, object_keys[bid_ids[i]], phase.sealed_size)
        client.remove_object(BUCKET, target)
        phase.copy.append(seconds)
        log(f"  raw copy {seconds:.2f} s")
    for path in files:
        path.unlink()


def start_services(ctx: dict, args) -> None:
    work, logs = ctx["work"], ctx["logs"]
    processes: Processes = ctx["processes"]
    s3_port, api_port = free_port(), free_port()
    moto_tmp = work / "moto-tmp"
    moto_tmp.mkdir()
    base = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    base.update({"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost", "PYTHONUNBUFFERED": "1"})
    log(f"moto S3 on 127.0.0.1:{s3_port}")
    moto = processes.start(
        "moto", [PY, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(s3_port)], {**base, "TMPDIR": str(moto_tmp)}
    )
    wait_for_port(s3_port, moto)
    ctx["minio"] = Minio(f"127.0.0.1:{s3_port}", access_key=ACCESS_KEY, secret_key=SECRET_KEY, secure=False, region="us-east-1")
    ctx["minio"].make_bucket(BUCKET)

    env = {k: v for k, v in base.items() if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "trading.settings",
            "DJANGO_DEBUG": "1",
            "DATA_DIR": str(work / "data"),
            "S3_ENDPOINT": f"127.0.0.1:{s3_port}",
            "S3_ACCESS_KEY": ACCESS_KEY,
            "S3_SECRET_KEY": SECRET_KEY,
            "S3_BUCKET": BUCKET,
            "S3_SECURE": "0",
            # A real worker writes the opened files, as in production (compose.yaml): the broker is Redis.
            "CELERY_BROKER_URL": args.broker,
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "LOG_LEVEL": "WARNING",
        }
    )
    ctx["env"] = env
    (work / "data").mkdir()
    log("migrate, seed")
    run_step(env, logs, "manage.py", "migrate", "--noinput")
    seed_file = work / "seed.json"
    # At least three bids open a lot (条例44), and one more small bid serves as the decryption warm-up.
    run_step(env, logs, "seed", str(seed_file), "2", str(max(3, args.rounds) + 1))
    seed = json.loads(seed_file.read_text())
    ctx["lots"] = seed["lots"]
    ctx["bidders"] = [Bidder.from_seed(b) for b in seed["bidders"]]

    log(f"daphne on 127.0.0.1:{api_port}")
    extra = dict(item.split("=", 1) for item in args.daphne_env)
    daphne = processes.start(
        "daphne",
        [str(Path(PY).parent / "daphne"), "-b", "127.0.0.1", "-p", str(api_port), "trading.asgi:application"],
        {**env, **extra},
    )
    wait_for_port(api_port, daphne)
    ctx["daphne"] = daphne
    flush_broker(args.broker)
    ctx["worker"] = processes.start(
        "worker", [PY, "-m", "celery", "-A", "trading", "worker", "--pool", "solo", "--loglevel", "WARNING"], env
    )
    ctx["server"] = f"http://127.0.0.1:{api_port}"
    ctx["rss_started_kib"] = vm_rss_kib(daphne.pid)
    status, _ = http_transport(ctx["server"], ctx["bidders"][0].token)("GET", "/api/bids/")  # imports the API's code
    if status != 200:
        raise RuntimeError(f"GET /api/bids/: HTTP {status}")
    ctx["rss_warm_kib"] = vm_rss_kib(daphne.pid)


def flush_broker(url: str) -> None:
    """The broker's database holds nothing from an earlier run (a stale task would run against another lot)."""
    import redis

    redis.Redis.from_url(url).flushdb()


def machine() -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    mem = next((line.split()[1] for line in meminfo if line.startswith("MemTotal")), "0")
    from importlib.metadata import version

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(int(mem) / 1024 / 1024, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        **{name: version(name) for name in ("moto", "minio", "daphne", "Django", "cryptography")},
    }


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(phases: list[Phase], info: dict, ctx: dict) -> dict:
    rows = []
    for phase in phases:
        mb = phase.sealed_size / 1e6

        def row(what, project, baseline, target, phase=phase, mb=mb):
            return {
                "size": human(phase.size),
                "what": what,
                "project_s": median(project),
                "baseline_s": median(baseline),
                "project_mb_s": mb / median(project),
                "baseline_mb_s": mb / median(baseline),
                "ratio": median(baseline) / median(project),
                "paired": [b / p for p, b in zip(project, baseline, strict=False)],  # round by round
                "target": target,
                "n": f"{len(project)}/{len(baseline)}",
            }

        for label, times in phase.upload_project.items():
            what = f"upload: Uploader (concurrency {label}) vs minio fput_object"
            rows.append(row(what, times, phase.upload_direct, TARGETS["upload"]))
        rows.append(row("decrypt endpoint vs raw download", phase.decrypt, phase.download, TARGETS["decrypt"]))
        if phase.copy:
            what = "decrypt request start to opened file stored (worker) vs raw copy (download piped to upload)"
            rows.append(row(what, phase.stored, phase.copy, None))
    print("\n## Results\n")
    for key, value in info.items():
        print(f"- {key}: {value}")
    print(
        "\n| size | comparison | project s | baseline s | project MB/s | baseline MB/s | ratio | target "
        "| per-round ratios median (min-max) | n |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---|---|---|")
    for r in rows:
        target = "-" if r["target"] is None else f">= {r['target']} {'met' if r['ratio'] >= r['target'] else 'MISSED'}"
        print(
            f"| {r['size']} | {r['what']} | {r['project_s']:.2f} | {r['baseline_s']:.2f} | {r['project_mb_s']:.0f} "
            f"| {r['baseline_mb_s']:.0f} | {r['ratio']:.2f} | {target} | {median(r['paired']):.2f} "
            f"({min(r['paired']):.2f}-{max(r['paired']):.2f}) | {r['n']} |"
        )
    mib = 1024
    print(
        f"\ndaphne RSS: {ctx['rss_started_kib'] / mib:.0f} MiB when listening, "
        f"{ctx['rss_warm_kib'] / mib:.0f} MiB after its first API request"
    )
    print("\n| size | operation | daphne RSS before MiB | peak during MiB | target |")
    print("|---|---|---:|---:|---|")
    for phase in phases:
        for operation, before, after in phase.rss:
            verdict = "met" if after / mib < TARGETS["rss_mib"] else "MISSED"
            print(
                f"| {human(phase.size)} | {operation} | {before / mib:.0f} | {after / mib:.0f} | < {TARGETS['rss_mib']} {verdict} |"
            )
    print("\n| size | Celery worker storing the opened file | RSS before MiB | peak MiB |")
    print("|---|---|---:|---:|")
    for phase in phases:
        for before, after in phase.worker_rss:
            print(f"| {human(phase.size)} | store_opened_file | {before / mib:.0f} | {after / mib:.0f} |")
    return {
        "machine": info,
        "rows": rows,
        "rss_started_kib": ctx["rss_started_kib"],
        "rss_warm_kib": ctx["rss_warm_kib"],
        "phases": [dataclasses.asdict(p) for p in phases],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bids", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=parse_size, default=parse_size("1G"), help="the big bid (default 1G)")
    parser.add_argument("--small", type=parse_size, default=parse_size("256M"), help="the RSS check's bid (0: skip)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each side at --size (default 3)")
    parser.add_argument(
        "--client-concurrency",
        default="",
        help="comma-separated Uploader concurrencies to time (default: the client's own default)",
    )
    parser.add_argument("--no-copy", action="store_true", help="skip the raw copy baseline")
    parser.add_argument(
        "--broker",
        default=os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/5"),
        help="the Celery broker for daphne and the worker; its database is flushed (default redis://127.0.0.1:6379/5)",
    )
    parser.add_argument(
        "--daphne-env", action="append", default=[], metavar="NAME=VALUE", help="extra environment for daphne only"
    )
    parser.add_argument("--timeout", type=int, default=2700, help="stop everything after this many seconds")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--tmp", type=Path, default=None, help="parent of the temporary directory")
    args = parser.parse_args(argv)
    concurrencies = [int(c) for c in args.client_concurrency.split(",") if c.strip()] or [None]

    def expired(signum, frame):
        raise TimeoutError(f"the benchmark ran longer than --timeout={args.timeout} s")

    signal.signal(signal.SIGALRM, expired)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    signal.alarm(args.timeout)
    work = Path(tempfile.mkdtemp(prefix="bench-bids-", dir=args.tmp))
    logs = work / "logs"
    logs.mkdir()
    processes = Processes(logs)
    ctx = {"work": work, "logs": logs, "processes": processes}
    ok = False
    try:
        start_services(ctx, args)
        phases = []
        if args.small:
            phases.append(Phase(args.small, 1))
            run_phase(ctx, phases[-1], ctx["lots"][0], [None], copy_baseline=not args.no_copy)
        phases.append(Phase(args.size, args.rounds))
        run_phase(ctx, phases[-1], ctx["lots"][1], concurrencies, copy_baseline=not args.no_copy)
        results = report(phases, machine(), ctx)
        if args.json:
            args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False))
        ok = True
    finally:
        signal.alarm(0)
        processes.stop_all()
        if not ok:
            for name in sorted(logs.iterdir()):
                tail = name.read_text(errors="replace")[-3000:]
                print(f"--- {name.name} (tail) ---\n{tail}", file=sys.stderr)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
