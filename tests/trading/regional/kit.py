"""The regional link's test kit: a lot driven through its whole life by the real services (with stops where a test
may look or act), the reference receiver in-process or as its own process, and a TCP proxy that can lose answers."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from http.server import ThreadingHTTPServer
from pathlib import Path

import time_machine
from cryptography.hazmat.primitives import serialization

from bidding.receipts import platform_private_key
from evaluation import services as draws
from evaluation import session as ev
from evaluation.models import Criterion, DrawnExpert
from evaluation.services import MethodInput, method_create
from notices import letters
from tests import factories
from tests.bidding.opening_kit import decrypt, open_lot, sign_in
from tests.evaluation import kit
from tests.evaluation.room import Room, at, sign_report, to_report
from trading import services
from trading.models import RegionalMessage
from trading.regional.receiver import Store, make_handler

ROOT = Path(__file__).resolve().parents[3]
# The stops of `lifecycle`, in order: after each, the callback sees the lot and may act (stop the receiver...).
STAGES = ["published", "opening", "record", "drawn", "report", "publicity", "awarded", "letters"]
CRITERIA = [
    {"stage": "qualification", "name": "Q1"},
    {"stage": "compliance", "name": "P1"},
    {"stage": "technical", "name": "T1", "max_score": "30"},
    {"stage": "technical", "name": "T2", "max_score": "20"},
    {"stage": "commercial", "name": "C1", "max_score": "20"},
]


@dataclass
class Life:
    """What `lifecycle` made: the lot, the opening (bidders' kits), the committee and the room."""

    lot: object
    opened: object = None
    members: list = field(default_factory=list)
    room: Room | None = None


def lifecycle(parties, folder, stop=None, *, draw_kw=None) -> Life:
    """One lot from registration to the letters, every step through the real services, the clock set by time-machine
    or `now=`: registration and filing, an evaluation method, the tender notice, three sealed bids, the opening at
    the deadline with every bid decrypted and the record published, the draw (five confirmed members), the whole
    evaluation session to the signed report (B rejected at compliance, C first, A second; tests/evaluation/room.py),
    the candidates' publicity, the award by the sweep after the publicity and the letters. `stop(stage, life)` is
    called after each stage of STAGES. The specialty tree must exist (kit.specialties())."""
    stop = stop or (lambda stage, life: None)
    lot = factories.lot(parties, stage="filed", issued=kit.ISSUED)
    method_create(
        lot=lot,
        actor=parties.tenderee,
        spec=MethodInput(
            kind="comprehensive",
            criteria=CRITERIA,
            technical_weight=Decimal(50),
            commercial_weight=Decimal(20),
            price_weight=Decimal(30),
            price_formula="benchmark",
        ),
        now=kit.ISSUED - timedelta(hours=2),
    )
    lot, _ = services.lot_publish(lot=lot, actor=parties.tenderee, title="招标公告", body="欢迎投标", now=kit.ISSUED)
    life = Life(lot=lot)
    stop("published", life)

    life.opened = open_lot(parties, folder, lot=lot, count=3)
    stop("opening", life)
    with time_machine.travel(life.opened.open_at, tick=False):
        sign_in(life.opened)
        for bidder in life.opened.kits:
            assert decrypt(life.opened, bidder).status_code == 200
    factories.finish_opening(parties, lot)
    stop("record", life)

    kit.experts(8, "A0801")
    with time_machine.travel(kit.NOW, tick=False):
        services.lot_start_evaluation(lot=lot, actor=parties.staff)
        draw = draws.draw_run(
            request=kit.request(parties, lot, **(draw_kw or {})), actor=parties.staff, seed=kit.seed("regional")
        )
        for member in DrawnExpert.objects.filter(draw=draw, status=DrawnExpert.Status.INVITED).select_related("expert"):
            draws.member_respond(member=member, actor=member.expert.user, accept=True)
    stop("drawn", life)

    session = ev.session_start(lot=lot, actor=parties.staff, now=at(0))
    crit = {c.name: c for c in Criterion.objects.filter(method__lot=lot)}
    bids = dict(zip("ABC", (life.opened.bid(k) for k in life.opened.kits), strict=True))
    life.room = Room(lot, session, ev.committee(session), bids, crit, None, parties)
    life.members = life.room.members
    to_report(life.room)
    sign_report(life.room, 15)
    stop("report", life)

    session.refresh_from_db()
    services.lot_start_publicity(lot=lot, actor=parties.staff, now=session.finished_at + timedelta(minutes=30))
    lot.refresh_from_db()
    stop("publicity", life)

    services.sweep_deadlines(now=lot.publicity_end + timedelta(minutes=1))
    lot.refresh_from_db()
    assert lot.status == "awarded"
    stop("awarded", life)

    letters.award_letters_issue(lot=lot, actor=parties.staff, now=lot.publicity_end + timedelta(hours=1))
    lot.refresh_from_db()
    stop("letters", life)
    return life


def pushes(lot) -> list[RegionalMessage]:
    return list(RegionalMessage.objects.filter(lot=lot).order_by("seq"))


def envelope(message: RegionalMessage) -> dict:
    return json.loads(message.body)


def public_key_pem() -> bytes:
    return (
        platform_private_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def deliveries(url: str, lot_code: str | None = None) -> list[dict]:
    """What the receiver stored, from its own store (GET /api/v1/deliveries)."""
    return get_json(f"{url}/api/v1/deliveries" + (f"?lot={lot_code}" if lot_code else ""))


class InProcessReceiver:
    """The reference receiver's handler and store on a thread of the test process (for the quick tests)."""

    def __init__(self, db: Path, keys: dict):
        self.store = Store(str(db))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(self.store, keys))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class ReceiverProcess:
    """`python -m trading.regional.receiver` as its own process, on a fixed port and sqlite file, with the centre's
    public key from a PEM file; killed with SIGKILL and started again on the same port and file."""

    def __init__(self, folder: Path, centre: str):
        self.db = folder / "regional.sqlite3"
        self.pem = folder / "centre.pem"
        self.pem.write_bytes(public_key_pem())
        self.centre = centre
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / "receiver.log"
        self.process = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "trading.regional.receiver",
                "--listen",
                f"127.0.0.1:{self.port}",
                "--db",
                str(self.db),
                "--key",
                f"{self.centre}={self.pem}",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=open(self.log, "ab"),  # noqa: SIM115 (kept open by the child)
            text=True,
        )
        line = self.process.stdout.readline()
        assert re.fullmatch(rf"listening on http://127\.0\.0\.1:{self.port}\n", line), line or self.log.read_text()
        assert get_json(f"{self.url}/health") == {"ok": True}

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        assert self.process.returncode == -signal.SIGKILL

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


class Proxy:
    """A TCP proxy in front of a receiver. `plan` holds what to do with the next connections, one entry each:
    "pass" forwards; "drop" forwards the request, lets the receiver answer and closes without a byte back (a lost
    answer); "cut" sends back the answer less its last bytes; "503" answers 503 itself. Empty plan: pass. `statuses`
    keeps the receiver's status code of every forwarded request; `delay` slows each one down (seconds)."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.plan: list[str] = []
        self.seen: list[str] = []
        self.statuses: list[int] = []
        self.delay = 0.0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    @staticmethod
    def _read_message(sock) -> bytes:
        """One HTTP/1.x message (headers and a Content-Length body) or what came before the peer closed."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        match = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        length = int(match.group(1)) if match else 0
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        return head + b"\r\n\r\n" + body

    def _handle(self, client) -> None:
        action = self.plan.pop(0) if self.plan else "pass"
        self.seen.append(action)
        with client:
            request = self._read_message(client)
            if action == "503":
                body = b'{"error": "maintenance"}'
                client.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
            except OSError:
                return  # the receiver is down: the client sees the connection closed
            with upstream:
                time.sleep(self.delay)
                upstream.sendall(request)
                answer = self._read_message(upstream)
            if answer:
                self.statuses.append(int(answer.split(b" ", 2)[1]))
            if action == "drop":
                return
            if action == "cut":
                client.sendall(answer[: len(answer) - 5])
                return
            client.sendall(answer)

    def close(self) -> None:
        self.listener.close()


def wait_until(predicate, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
