"""A bid sealed and uploaded by the bidder's page in headless Chromium, with the tab's memory sampled throughout.

    .venv/bin/python -m bench.browser_upload --size 1G --small 64M     (make bench-browser; SIZE=128M make bench-browser)

The question (docs/formats.md, "Browser upload and resume"): does the tab's memory stay bounded by a few parts
whatever the file's size? Two files of random bytes on disk (--small, then --size) are each given to the upload page
(frontend/web/src/areas/bidder/BidUpload.vue) with set_input_files, by path, and the page seals them in one
streaming pass in its seal worker (each part sealed, hashed and PUT to its presigned URL; builds before issue 6's
single pass hashed the whole envelope in a pass of its own first). Every --interval (250 ms)
during each upload: the page's JS heap (CDP Performance.getMetrics: JSHeapUsedSize, JSHeapTotalSize; the page's main
thread only, not the worker's) and the RSS (/proc VmRSS) of every Chromium process, the renderers found with
SystemInfo.getProcessInfo (the worker runs in the page's renderer, so its memory is in that RSS); and the longest
stall of the page's main thread (how late a 100 ms timer ran). Each size runs in a fresh browser context (its own
renderer). Reported per size: duration, throughput, main-thread stall, peaks, and the ratios of peaks size / small.

Set-up as bench/bids.py (same helpers): moto's S3 server and daphne (DJANGO_DEBUG=1, Celery eager, WEB_UI_DIR as
given, the built web UI) each in its own process, a fresh SQLite database seeded by bench/stage.py (two published
lots, one enrolled bidder with a registered key; the page is given the registered public key through the same
localStorage entry as a loaded key file, as sealing needs only the public half). The upload must complete: the
receipt on the page, the bid "submitted" with the sealed size, and the stored object (stat in S3) of that size.
Everything is under one temporary directory, removed at the end; every subprocess is stopped; --timeout bounds it.
"""

import argparse
import base64
import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from bench.bids import (
    ACCESS_KEY,
    BUCKET,
    PY,
    SECRET_KEY,
    MiB,
    Processes,
    free_port,
    human,
    log,
    machine,
    parse_size,
    run_step,
    wait_for_port,
)
from tests.frontend.conftest import CHROMIUM, CHROMIUM_ARGS  # the browser tests' Chromium and flags

TARGET_RATIO = 1.2


def write_random(path: Path, size: int) -> None:
    """Random bytes throughout (os.urandom in 16 MiB blocks)."""
    with open(path, "wb") as out:
        left = size
        while left:
            left -= out.write(os.urandom(min(left, 16 * MiB)))


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def descendants(root: int) -> list[int]:
    """root and every process below it (from /proc/*/stat)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


class Sampler:
    """The page's JS heap (CDP Performance.getMetrics, from the driving thread, sample()) and, in a thread of its own
    every `interval` (so that a busy renderer does not delay it), the RSS of each renderer process (their ids from
    SystemInfo.getProcessInfo), of the browser process, and of all of Chromium's processes together (the browser
    process and below)."""

    def __init__(self, browser_cdp, page_cdp, interval: float):
        self.page_cdp, self.interval = page_cdp, interval
        info = browser_cdp.send("SystemInfo.getProcessInfo")["processInfo"]
        self.browser_pid = next(p["id"] for p in info if p["type"] == "browser")
        self.renderers = [p["id"] for p in info if p["type"] == "renderer"]
        self.heap: list[dict] = []
        self.rss: list[dict] = []
        self.started = time.perf_counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.started = time.perf_counter()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def rss_sample(self) -> dict:
        every = descendants(self.browser_pid)
        renderers = {pid: rss_kib(pid) * 1024 for pid in self.renderers}
        row = {
            "t": round(time.perf_counter() - self.started, 3),
            "renderer_rss": max(renderers.values(), default=0),
            "renderers": renderers,
            "chromium_rss": sum(rss_kib(pid) for pid in every) * 1024,
            "browser_rss": rss_kib(self.browser_pid) * 1024,  # where the blob store keeps Blob bytes
            "processes": len(every),
        }
        self.rss.append(row)
        return row

    def _run(self) -> None:
        next_at = time.perf_counter()
        while not self._stop.is_set():
            self.rss_sample()
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - time.perf_counter()))

    def sample(self, progress: str = "") -> dict:
        asked = time.perf_counter()
        metrics = {m["name"]: m["value"] for m in self.page_cdp.send("Performance.getMetrics")["metrics"]}
        usage = self.page_cdp.send("Runtime.getHeapUsage")  # backingStorageSize: ArrayBuffers' memory, outside the heap
        row = {
            "t": round(asked - self.started, 3),
            "answer_s": round(time.perf_counter() - asked, 3),
            "heap_used": metrics.get("JSHeapUsedSize", 0),
            "heap_total": metrics.get("JSHeapTotalSize", 0),
            "backing_store": usage.get("backingStorageSize", 0),
            "progress": progress,
        }
        self.heap.append(row)
        return row


def start_services(ctx: dict, web_ui: Path) -> None:
    work, logs, processes = ctx["work"], ctx["logs"], ctx["processes"]
    s3_port, api_port = free_port(), free_port()
    (work / "moto-tmp").mkdir()
    base = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    base.update({"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost", "PYTHONUNBUFFERED": "1"})
    log(f"moto S3 on 127.0.0.1:{s3_port}")
    moto = processes.start(
        "moto", [PY, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(s3_port)], {**base, "TMPDIR": str(work / "moto-tmp")}
    )
    wait_for_port(s3_port, moto)
    from minio import Minio

    ctx["minio"] = Minio(f"127.0.0.1:{s3_port}", access_key=ACCESS_KEY, secret_key=SECRET_KEY, secure=False, region="us-east-1")
    ctx["minio"].make_bucket(BUCKET)
    env = {k: v for k, v in base.items() if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "trading.settings",
            "DJANGO_DEBUG": "1",
            "DJANGO_SECURE_COOKIES": "0",
            "DATA_DIR": str(work / "data"),
            "WEB_UI_DIR": str(web_ui),
            "S3_ENDPOINT": f"127.0.0.1:{s3_port}",
            "S3_ACCESS_KEY": ACCESS_KEY,
            "S3_SECRET_KEY": SECRET_KEY,
            "S3_BUCKET": BUCKET,
            "S3_SECURE": "0",
            "CELERY_TASK_ALWAYS_EAGER": "1",
            "LOG_LEVEL": "WARNING",
        }
    )
    ctx["env"] = env
    (work / "data").mkdir()
    log("migrate, seed")
    run_step(env, logs, "manage.py", "migrate", "--noinput")
    seed_file = work / "seed.json"
    run_step(env, logs, "seed", str(seed_file), "2", "1")
    ctx["seed"] = json.loads(seed_file.read_text())
    # The seeded users' password (tests/factories.py), read inside Django.
    ctx["password"] = run_step(
        env, logs, "manage.py", "shell", "-c", "from tests import factories; print(factories.PASSWORD)"
    ).split()[-1]
    log(f"daphne on 127.0.0.1:{api_port}")
    daphne = processes.start(
        "daphne", [str(Path(PY).parent / "daphne"), "-b", "127.0.0.1", "-p", str(api_port), "trading.asgi:application"], env
    )
    wait_for_port(api_port, daphne)
    ctx["server"] = f"http://127.0.0.1:{api_port}"


def upload_one(ctx: dict, browser, lot: dict, path: Path, interval: float, timeout: float) -> dict:
    """Signs in, opens the lot's upload page in a fresh context, uploads `path` and samples until the receipt."""
    from bidding import envelope

    server, bidder = ctx["server"], ctx["seed"]["bidders"][0]
    spki = base64.b64decode(bidder["public_key"])
    kid = envelope.key_id(spki)
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # How late a 100 ms timer runs on the page's main thread: the longest time the page could not respond.
    page.add_init_script(
        "window.__lag = {max: 0, last: performance.now()}; setInterval(() => { const now = performance.now();"
        " window.__lag.max = Math.max(window.__lag.max, now - window.__lag.last - 100); window.__lag.last = now; }, 100);"
    )
    try:
        page.goto(server + "/login?next=/bidder/lots")
        page.fill("input[data-test=username]", bidder["username"])
        page.fill("input[data-test=password]", ctx["password"])
        page.click("[data-test=submit]")
        try:
            page.wait_for_url(lambda url: urlsplit(url).path == "/bidder/lots")
        except Exception:
            body = page.locator("body").inner_text()
            raise RuntimeError(f"sign-in as {bidder['username']} failed; the page shows: {body[:600]!r}") from None
        # What loading the key file does (keyfile.ts rememberPublicKey): the public key, by kid, in localStorage.
        page.evaluate(
            "([kid, spki]) => { const all = JSON.parse(localStorage.getItem('trading.bidder.publicKeys') || '{}');"
            " all[kid] = spki; localStorage.setItem('trading.bidder.publicKeys', JSON.stringify(all)); }",
            [kid, bidder["public_key"]],
        )
        page.goto(f"{server}/bidder/lots/{lot['id']}/bid")
        try:
            page.locator("[data-test=key-select]", has_text=kid).wait_for()
        except Exception:
            body = page.locator("body").inner_text()
            raise RuntimeError(f"no key {kid} to choose on the upload page; it shows: {body[:600]!r}") from None
        page_cdp = context.new_cdp_session(page)
        page_cdp.send("Performance.enable")
        browser_cdp = browser.new_browser_cdp_session()
        sampler = Sampler(browser_cdp, page_cdp, interval)
        page.set_input_files("[data-test=bid-file]", str(path))
        page_cdp.send("HeapProfiler.collectGarbage")
        time.sleep(1)
        before = {**sampler.sample("before"), **sampler.rss_sample()}
        sampler.heap.clear()
        sampler.rss.clear()
        page.evaluate("window.__lag.max = 0")
        sampler.start()
        page.click("[data-test=start]")
        started = sampler.started
        done = page.locator("[data-test=receipt], [data-test=upload-error]")
        progress = page.locator("[data-test=progress] .sub")
        deadline = started + timeout
        next_at = started
        while not done.count():
            if time.perf_counter() > deadline:
                raise TimeoutError(f"no receipt after {timeout} s")
            sampler.sample(" ".join(progress.all_inner_texts()))
            next_at += interval
            time.sleep(max(0.0, next_at - time.perf_counter()))
        duration = time.perf_counter() - started
        sampler.sample("end")
        sampler.stop()
        lag_s = page.evaluate("window.__lag.max") / 1000
        if page.locator("[data-test=upload-error]").count():
            heap, rss = sampler.heap, sampler.rss
            log(
                f"  failed after {duration:.1f} s; until then: peak heap {mib(max(r['heap_used'] for r in heap))} MiB, "
                f"renderer RSS {mib(max(r['renderer_rss'] for r in rss))} MiB, Chromium {mib(max(r['chromium_rss'] for r in rss))} MiB"
            )
            raise RuntimeError(f"the page reports: {page.locator('[data-test=upload-error]').inner_text()}")
        page.locator("[data-test=receipt]").wait_for()
        receipt_text = page.locator("[data-test=receipt]").inner_text()
        bids = page.evaluate("async () => (await fetch('/api/bids/', {credentials: 'same-origin'})).json()")
        bid = next(b for b in (bids.get("results", bids) if isinstance(bids, dict) else bids) if b["lot"] == lot["id"])
        if bid["status"] != "submitted" or lot["code"] not in receipt_text:
            raise RuntimeError(f"bid {bid['id']} is {bid['status']}; receipt: {receipt_text[:200]!r}")
        key = json.loads(run_step(ctx["env"], ctx["logs"], "keys", bid["id"]))[bid["id"]]
        stored = ctx["minio"].stat_object(BUCKET, key).size
        if stored != bid["size"]:
            raise RuntimeError(f"stored object {key} is {stored} bytes, the bid declares {bid['size']}")
        if errors:
            raise RuntimeError(f"JavaScript errors on the page: {errors}")
        heap, rss = sampler.heap, sampler.rss
        phases: dict[str, float] = {}
        for row in heap:
            label = re.sub(r"[\d.]+ MB / [\d.]+ MB", "", row["progress"]).strip()
            if label and label not in phases:
                phases[label] = row["t"]
        gaps = [b["t"] - a["t"] for a, b in itertools.pairwise(rss)]
        return {
            "size": path.stat().st_size,
            "sealed_size": bid["size"],
            "stored_size": stored,
            "parts": bid["parts"],
            "part_size": bid["part_size"],
            "bid": bid["id"],
            "duration_s": round(duration, 2),
            "throughput_mb_s": round(path.stat().st_size / duration / 1e6, 1),
            "before": before,
            "peak_heap_used": max(r["heap_used"] for r in heap),
            "peak_heap_total": max(r["heap_total"] for r in heap),
            "peak_backing_store": max(r["backing_store"] for r in heap),
            "slowest_cdp_answer_s": max(r["answer_s"] for r in heap),
            "main_thread_max_lag_s": round(lag_s, 2),
            "peak_renderer_rss": max(r["renderer_rss"] for r in rss),
            "peak_chromium_rss": max(r["chromium_rss"] for r in rss),
            "peak_browser_rss": max(r["browser_rss"] for r in rss),
            "phase_starts_s": phases,
            "heap_samples": len(heap),
            "rss_samples": len(rss),
            "rss_max_gap_s": round(max(gaps, default=0), 3),
            "heap_series": heap,
            "rss_series": [{k: v for k, v in r.items() if k != "renderers"} for r in rss],
        }
    finally:
        context.close()


def mib(n: float) -> str:
    return f"{n / MiB:.1f}"


def report(results: list[dict], info: dict, command: str) -> tuple[str, dict]:
    small, big = results[0], results[-1]
    lines = [
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB; {info['os']}; Chromium {info['chromium']}.",
        f"Command: `{command}`",
        "",
        "| file | parts | duration | throughput | longest main-thread stall | JS heap used: idle → peak (total) "
        "| renderer RSS: idle → peak | all Chromium processes RSS: idle → peak |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        before = r["before"]
        lines.append(
            f"| {human(r['size'])} | {r['parts']} × {human(r['part_size'])} | {r['duration_s']:.1f} s | {r['throughput_mb_s']} MB/s "
            f"| {r['main_thread_max_lag_s']:.2f} s | {mib(before['heap_used'])} → {mib(r['peak_heap_used'])} MiB ({mib(r['peak_heap_total'])}) "
            f"| {mib(before['renderer_rss'])} → {mib(r['peak_renderer_rss'])} MiB "
            f"| {mib(before['chromium_rss'])} → {mib(r['peak_chromium_rss'])} MiB |"
        )
    ratios = {
        key: big[key] / small[key] if small[key] else float("nan")
        for key in ("peak_heap_used", "peak_heap_total", "peak_renderer_rss", "peak_chromium_rss")
    }
    lines.append(
        f"| peak ratio {human(big['size'])} / {human(small['size'])} | | | | | {ratios['peak_heap_used']:.2f} "
        f"({ratios['peak_heap_total']:.2f}) | {ratios['peak_renderer_rss']:.2f} | {ratios['peak_chromium_rss']:.2f} |"
    )
    lines.append("")
    for r in results:
        phases = ", ".join(f"{label} at {t:.1f} s" for label, t in r["phase_starts_s"].items())
        lines.append(
            f"{human(r['size'])}: sealed {r['sealed_size']} B, stored {r['stored_size']} B; {r['heap_samples']} heap samples, "
            f"{r['rss_samples']} RSS samples (largest gap {r['rss_max_gap_s']} s); peak ArrayBuffer backing stores "
            f"{mib(r['peak_backing_store'])} MiB (main thread); browser process RSS {mib(r['before']['browser_rss'])} → "
            f"{mib(r['peak_browser_rss'])} MiB; page's main thread unresponsive for at most "
            f"{r['main_thread_max_lag_s']} s (slowest CDP answer {r['slowest_cdp_answer_s']} s); phases first seen: {phases}."
        )
    return "\n".join(lines), ratios


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=parse_size, default=parse_size(os.environ.get("SIZE") or "1G"))
    parser.add_argument("--small", type=parse_size, default=parse_size(os.environ.get("SIZE_SMALL") or "64M"))
    parser.add_argument("--interval", type=float, default=0.25)
    parser.add_argument(
        "--web-ui",
        type=Path,
        default=Path(os.environ.get("WEB_UI_DIR") or Path(__file__).resolve().parent.parent / "frontend/web/dist"),
    )
    parser.add_argument("--tmp", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--timeout", type=float, default=2700)
    args = parser.parse_args(argv)
    if not (args.web_ui / "index.html").is_file():
        raise SystemExit(f"the web UI is not built in {args.web_ui} (make frontend, or WEB_UI_DIR=...)")
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="bench-browser-", dir=args.tmp))
    logs = work / "logs"
    logs.mkdir()
    ctx = {"work": work, "logs": logs, "processes": Processes(logs)}
    started = time.monotonic()

    def expire(signum, frame):
        raise TimeoutError(f"--timeout {args.timeout} s expired")

    signal.signal(signal.SIGALRM, expire)
    signal.alarm(int(args.timeout))
    ok = False
    try:
        start_services(ctx, args.web_ui)
        files = []
        for size in (args.small, args.size):
            path = work / f"bid-{human(size).replace(' ', '')}.bin"
            log(f"writing {human(size)} of random bytes to {path.name}")
            write_random(path, size)
            files.append(path)
        results = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            info = {**machine(), "chromium": browser.version}
            for lot, path in zip(ctx["seed"]["lots"], files, strict=True):
                log(f"upload {human(path.stat().st_size)} from the page (lot {lot['code']})")
                remaining = args.timeout - (time.monotonic() - started)
                result = upload_one(ctx, browser, lot, path, args.interval, remaining)
                log(
                    f"  {result['duration_s']} s, {result['throughput_mb_s']} MB/s; peak heap {mib(result['peak_heap_used'])} MiB, "
                    f"renderer RSS {mib(result['peak_renderer_rss'])} MiB, Chromium {mib(result['peak_chromium_rss'])} MiB"
                )
                results.append(result)
                path.unlink()
            browser.close()
        command = "make bench-browser" + (
            ""
            if args.size == 1024 * MiB and args.small == 64 * MiB
            else f" (--size {human(args.size)} --small {human(args.small)})"
        )
        text, ratios = report(results, info, command)
        print(text)
        worst = max(ratios["peak_heap_used"], ratios["peak_renderer_rss"])
        print(f"\nWorst ratio of peaks (JS heap used, renderer RSS): {worst:.2f} (target < {TARGET_RATIO}).")
        if args.json:
            args.json.write_text(
                json.dumps({"machine": info, "results": results, "ratios": ratios}, indent=1, ensure_ascii=False)
            )
        ok = worst < TARGET_RATIO
    except BaseException:
        for name in ("daphne", "moto", "steps"):
            with contextlib.suppress(OSError):
                tail = (logs / f"{name}.log").read_text(errors="replace").splitlines()[-30:]
                print(f"--- {name}.log (tail) ---\n" + "\n".join(tail), file=sys.stderr)
        raise
    finally:
        signal.alarm(0)
        ctx["processes"].stop_all()
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
