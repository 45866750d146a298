"""Broadcast latency in one evaluation room: 500 websocket clients on daphne with the Redis channel layer,
against the smallest Channels broadcast consumer in the same daphne, in the same run.

    .venv/bin/python -m bench.ws_room                 (make bench-ws; ARGS="--broadcasts 300")

1. Setup (untimed): a fresh SQLite database in a temporary directory, migrated; a lot with a fixed committee of
   --members confirmed experts in two venues and --clients minus that many watchers (staff and supervisors,
   alternately), each with a session (`seed`, in a subprocess). The Redis database of --redis (default
   redis://127.0.0.1:6379/7) is flushed before and after: it holds the channel layer and the cache.
2. daphne serves bench/ws_asgi.py: the project's application plus `/ws/bench-echo/`, a consumer that only does
   group_add and forwards group_send (never in the production URLconf). --clients clients join the lot's
   evaluation room (`/ws/evaluation/<lot>/`, session cookie, origin checked, snapshot read) and as many join the
   echo path. All stay connected for the whole run.
3. A publisher process (`publish`, Django set up like daphne) takes one command at a time. Room: the time is taken,
   then `realtime.rooms.publish(room, "bench", {"t", "n"})` (numbered, stored, sent after commit: the whole path a
   service uses). Echo: the time is taken, then the same envelope is built and group_send to the echo group.
   Each client stamps each message when it has read it; latency = receipt - t. The next broadcast starts when all
   clients of the side have it (then a short pause). Sides alternate, and which goes first alternates;
   --warmup broadcasts per side are not counted.

Results to stdout as Markdown (--json FILE too); progress to stderr; the daphne and step logs are printed on a
failure. Everything runs on 127.0.0.1 under one temporary directory that is removed at the end; every subprocess
is stopped; --timeout bounds it all. Results and method: docs/performance.md, "Evaluation room broadcast".
"""

import argparse
import asyncio
import contextlib
import json
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

from bench.bids import PY, ROOT, Processes, free_port, log, run_step, wait_for_port
from bench.ws_client import Closed, WebSocket

TARGET = 1.5  # room p99 / echo p99
ORIGIN = "http://127.0.0.1"
TEST_KEYS = {
    "DJANGO_SECRET_KEY": "bench-secret-key",
    "SEALING_KEY": "dGVzdC1vbmx5LXNlYWxpbmcta2V5LTMyLWJ5dGVzISE=",
    "PLATFORM_SIGNING_KEY": "dGVzdC1vbmx5LXBsYXRmb3JtLXNpZ25pbmcta2V5ISE=",
}


# --- Steps inside Django (subprocesses) --------------------------------------------------------------------------


def _setup() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trading.settings")
    django.setup()


def seed(out: Path, clients: int, members: int) -> None:
    _setup()
    from tests import factories
    from tests.realtime import kit
    from trading.models import Role

    parties = factories.Parties.create()
    lot = factories.lot(parties, stage="published")
    main, secondary = kit.venues()
    half = (members + 1) // 2
    rows, _ = kit.committee(parties, lot, [(main if i < half else secondary, f"专家{i + 1}") for i in range(members)], backups=0)
    users = [row.expert.user for row in rows]
    centre, supervision = parties.staff.organisation, parties.supervisor.organisation
    for i in range(clients - members):
        role, org = (Role.SUPERVISOR, supervision) if i % 2 else (Role.STAFF, centre)
        users.append(factories.user(role, org, f"watcher-{i}"))
    cookies = [kit.session_cookie(user).decode() for user in users]
    out.write_text(json.dumps({"lot": lot.pk, "cookies": cookies, "members": members, "watchers": clients - members}))


def publisher(lot_id: int) -> None:
    """Reads "room N" / "echo N" lines; publishes; answers "ok N"."""
    _setup()
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer
    from django.utils import timezone

    from bench.ws_asgi import ECHO_GROUP, ECHO_TYPE
    from realtime import rooms

    room = rooms.evaluation_room(lot_id)
    layer = get_channel_layer()
    for line in sys.stdin:
        side, n = line.split()
        t = time.time()
        payload = {"t": t, "n": int(n)}
        if side == "room":
            rooms.publish(room, "bench", payload)
        else:
            text = rooms.envelope(seq=int(n), kind="bench", at=timezone.now(), payload=payload)
            async_to_sync(layer.group_send)(ECHO_GROUP, {"type": ECHO_TYPE, "text": text})
        print(f"ok {n}", flush=True)


# --- Clients -------------------------------------------------------------------------------------------------------


class Side:
    def __init__(self, name: str, clients: int):
        self.name = name
        self.clients = clients
        self.sockets: list[WebSocket] = []
        self.samples: dict[int, list[float]] = {}
        self.complete: dict[int, asyncio.Event] = {}
        self.errors = 0
        self.closed: list[int | None] = []  # close codes of connections the server closed

    def expect(self, n: int) -> asyncio.Event:
        self.samples[n] = []
        self.complete[n] = asyncio.Event()
        return self.complete[n]

    async def read(self, ws: WebSocket) -> None:
        while True:
            try:
                text = await ws.recv()
            except Closed as closed:
                self.closed.append(closed.code)
                return
            now = time.time()
            if '"kind":"bench"' not in text:
                continue  # presence of members arriving, and the like
            payload = json.loads(text)["payload"]
            samples = self.samples.get(payload["n"])
            if samples is None:
                self.errors += 1
                continue
            samples.append(now - payload["t"])
            if len(samples) == self.clients:
                self.complete[payload["n"]].set()


async def join_room(side: Side, port: int, path: str, cookie: str) -> WebSocket:
    ws = await WebSocket.connect("127.0.0.1", port, path, {"Origin": ORIGIN, "Cookie": cookie})
    while True:  # up to the snapshot: then the client is in the room
        if json.loads(await ws.recv())["kind"] == "snapshot":
            return ws


async def connect_all(side: Side, port: int, path: str, cookies: list[str] | None, batch: int = 50) -> list[asyncio.Task]:
    limit = asyncio.Semaphore(batch)

    async def one(i: int) -> WebSocket:
        async with limit:
            if cookies is None:
                return await WebSocket.connect("127.0.0.1", port, path, {"Origin": ORIGIN})
            return await join_room(side, port, path, cookies[i])

    side.sockets = list(await asyncio.gather(*(one(i) for i in range(side.clients))))
    return [asyncio.create_task(side.read(ws)) for ws in side.sockets]


async def broadcasts(args, port: int, seeded: dict, env: dict, logs: Path) -> dict:
    room = Side("room", args.clients)
    echo = Side("echo", args.clients)
    log(f"connecting {args.clients} clients to the evaluation room and {args.clients} to the echo consumer")
    started = time.monotonic()
    readers = await connect_all(room, port, f"/ws/evaluation/{seeded['lot']}/", seeded["cookies"])
    readers += await connect_all(echo, port, "/ws/bench-echo/", None)
    log(f"connected in {time.monotonic() - started:.1f} s")
    await asyncio.sleep(1)  # let the members' presence announcements drain
    with open(logs / "publisher.log", "wb") as err:
        pub = await asyncio.create_subprocess_exec(
            PY,
            "-m",
            "bench.ws_room",
            "publish",
            str(seeded["lot"]),
            cwd=ROOT,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=err,
        )
    timed: dict[str, list[int]] = {"room": [], "echo": []}
    n = 0
    try:
        total = args.warmup + args.broadcasts
        for i in range(total):
            for side in (room, echo) if i % 2 == 0 else (echo, room):
                n += 1
                done = side.expect(n)
                pub.stdin.write(f"{side.name} {n}\n".encode())
                await pub.stdin.drain()
                answer = await asyncio.wait_for(pub.stdout.readline(), 30)
                if answer.decode().strip() != f"ok {n}":
                    raise RuntimeError(f"publisher answered {answer!r}")
                try:
                    await asyncio.wait_for(done.wait(), args.wait)
                except TimeoutError:
                    log(
                        f"{side.name} broadcast {n}: {len(side.samples[n])}/{side.clients} after {args.wait} s "
                        f"({len(side.closed)} connections closed by the server: {sorted(set(side.closed), key=str)})"
                    )
                if i >= args.warmup:
                    timed[side.name].append(n)
                await asyncio.sleep(args.gap)
            if (i + 1) % 25 == 0:
                log(f"{i + 1}/{total} broadcast pairs")
        return {side.name: summary(side, timed[side.name]) for side in (room, echo)}
    finally:
        if pub.returncode is None:
            pub.stdin.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(pub.wait(), 10)
            if pub.returncode is None:
                pub.kill()
        for side in (room, echo):
            for ws in side.sockets:
                await ws.close()
        for task in readers:
            task.cancel()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def summary(side: Side, numbers: list[int]) -> dict:
    latencies = [1000 * s for n in numbers for s in side.samples[n]]
    slowest = [1000 * max(side.samples[n]) for n in numbers if side.samples[n]]
    return {
        "broadcasts": len(numbers),
        "received": len(latencies),
        "expected": len(numbers) * side.clients,
        "p50_ms": round(percentile(latencies, 0.50), 1),
        "p90_ms": round(percentile(latencies, 0.90), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "max_ms": round(max(latencies), 1),
        "slowest_client_median_ms": round(statistics.median(slowest), 1),
        "unexpected": side.errors,
        "closed_by_server": len(side.closed),  # during the broadcasts (the closing at the end is not counted)
    }


# --- Orchestration -------------------------------------------------------------------------------------------------


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def machine() -> dict:
    import channels
    import channels_redis
    import daphne
    import django

    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "django": django.__version__,
        "channels": channels.__version__,
        "channels_redis": channels_redis.__version__,
        "daphne": daphne.__version__,
    }


def report(results: dict, args, info: dict) -> str:
    room, echo = results["room"], results["echo"]
    ratio = room["p99_ms"] / echo["p99_ms"]
    results["ratio_p99"] = round(ratio, 2)
    results["target_met"] = ratio <= TARGET
    lines = [
        f"{args.clients} clients per side, {args.broadcasts} broadcasts per side (+{args.warmup} warm-up), "
        f"{info['members']} members + {info['watchers']} watchers in the room; Python {info['python']}, Django {info['django']}, "
        f"channels {info['channels']}, channels-redis {info['channels_redis']}, daphne {info['daphne']}, {info['cpus']} cores",
        "",
        "| consumer | p50 ms | p90 ms | p99 ms | max ms | slowest client per broadcast, median ms | received | closed by server |",
        "|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    for name, label in (
        ("room", "EvaluationRoomConsumer (publish: numbered, stored, sent after commit)"),
        ("echo", "minimal echo-broadcast consumer (group_send)"),
    ):
        r = results[name]
        lines.append(
            f"| {label} | {r['p50_ms']} | {r['p90_ms']} | {r['p99_ms']} | {r['max_ms']} | {r['slowest_client_median_ms']} "
            f"| {r['received']}/{r['expected']} | {r['closed_by_server']} |"
        )
    lines += ["", f"p99 ratio room / echo: **{ratio:.2f}** (target <= {TARGET}: {'met' if ratio <= TARGET else 'missed'})"]
    return "\n".join(lines)


def run(args) -> int:
    work = Path(tempfile.mkdtemp(prefix="bench-ws-", dir=args.tmp))
    logs = work / "logs"
    logs.mkdir()
    processes = Processes(logs)
    ok = False
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
        base = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        env = {k: v for k, v in base.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL"}}
        env.update({k: env.get(k, v) for k, v in TEST_KEYS.items()})
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "trading.settings",
                "DJANGO_DEBUG": "0",
                "DJANGO_SECURE_COOKIES": "0",
                "DATA_DIR": str(work / "data"),
                "DATABASE_URL": f"sqlite:///{work / 'data' / 'bench.sqlite3'}",
                "REDIS_URL": args.redis,
                "CELERY_TASK_ALWAYS_EAGER": "1",
                "LOG_LEVEL": "WARNING",
                "PYTHONUNBUFFERED": "1",
                "NO_PROXY": "127.0.0.1,localhost",
            }
        )
        log(f"flushing {args.redis}; migrating a fresh SQLite database")
        flush_redis(args.redis)
        run_step(env, logs, "manage.py", "migrate", "--noinput", "-v", "0")
        seed_file = work / "seed.json"
        log(f"seeding {args.members} committee members and {args.clients - args.members} watchers")
        with open(logs / "steps.log", "ab") as err:
            subprocess.run(
                [PY, "-m", "bench.ws_room", "seed", str(seed_file), str(args.clients), str(args.members)],
                cwd=ROOT,
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=err,
                timeout=600,
            )
        seeded = json.loads(seed_file.read_text())
        port = free_port()
        log(f"daphne on 127.0.0.1:{port}")
        daphne = processes.start(
            "daphne", [PY, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "bench.ws_asgi:application"], env
        )
        wait_for_port(port, daphne)
        results = asyncio.run(broadcasts(args, port, seeded, env, logs))
        info = {**machine(), "members": seeded["members"], "watchers": seeded["watchers"]}
        print(report(results, args, info))
        if args.json:
            args.json.write_text(json.dumps({**results, "machine": info}, indent=2, ensure_ascii=False))
        ok = True
        return 0 if results["target_met"] else 1
    finally:
        signal.alarm(0)
        processes.stop_all()
        if not ok:
            for name in sorted(logs.iterdir()):
                tail = name.read_text(errors="replace")[-3000:]
                print(f"--- {name.name} (tail) ---\n{tail}", file=sys.stderr)
        with contextlib.suppress(Exception):
            flush_redis(args.redis)
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["seed"]:
        seed(Path(argv[1]), int(argv[2]), int(argv[3]))
        return 0
    if argv[:1] == ["publish"]:
        publisher(int(argv[1]))
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench.ws_room", description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=500, help="clients per side (default 500)")
    parser.add_argument("--members", type=int, default=9, help="confirmed committee members among the room's clients")
    parser.add_argument("--broadcasts", type=int, default=200, help="timed broadcasts per side (default 200)")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--gap", type=float, default=0.05, help="pause after each broadcast, seconds")
    parser.add_argument("--wait", type=float, default=10, help="how long to wait for every client to get a broadcast")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/7", help="flushed before and after")
    parser.add_argument("--timeout", type=int, default=1800)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, database)")
    parser.add_argument("--tmp", type=Path, default=None)
    args = parser.parse_args(argv)
    if not urlparse(args.redis).path.strip("/"):
        parser.error("--redis must name a database (redis://host:port/N): it is flushed")
    if not 0 < args.members < args.clients:
        parser.error("--members must be between 1 and --clients - 1")

    def expired(signum, frame):
        raise TimeoutError(f"the benchmark ran longer than --timeout={args.timeout} s")

    signal.signal(signal.SIGALRM, expired)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    signal.alarm(args.timeout)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
