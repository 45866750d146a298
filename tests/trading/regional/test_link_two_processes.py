"""Issue 7's proof of the regional link: the county system (this test process: the real services, their transactions
and the deliveries queued after each commit) and the reference receiver (`python -m trading.regional.receiver`, its
own process, port and SQLite file) run side by side. A whole lot goes from registration to the letters; one answer is
lost on the way; the receiver is killed (SIGKILL) after the opening record and stays down through the draw, the
evaluation, the publicity and the award while pushes pile up and attempts back off; it is started again on the same
port and file, the sweep runs until nothing is pending, and the receiver's own store must then hold every push of
the outbox exactly once, in seq order, byte for byte."""

import base64
import re
import sqlite3
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from django.utils import timezone

from tests import factories
from tests.evaluation import kit as evaluation_kit
from tests.trading.regional.kit import Proxy, ReceiverProcess, deliveries, lifecycle, pushes
from trading.models import RegionalMessage
from trading.regional.outbox import deliver_due, retry_delay


@pytest.fixture
def receiver(tmp_path, settings):
    process = ReceiverProcess(tmp_path, settings.CENTRE_CODE)
    yield process
    process.stop()


@pytest.fixture
def proxy(receiver):
    front = Proxy(receiver.port)
    yield front
    front.close()


def pending(lot) -> list[RegionalMessage]:
    return [m for m in pushes(lot) if m.status == "pending"]


@pytest.mark.django_db(transaction=True)
def test_a_whole_lifecycle_reaches_the_receiver_exactly_once_in_order_across_a_crash(tmp_path, settings, receiver, proxy):
    evaluation_kit.specialties()
    parties = factories.Parties.create()
    receiver.start()
    settings.REGIONAL_URL = proxy.url
    seen, lost = [], {}

    def stop(stage, life):
        lot = life.lot
        seen.append(stage)
        if stage == "published":
            # Delivered after each commit by the task (Celery eager in tests): all five are at the receiver.
            assert [m.status for m in pushes(lot)] == ["delivered"] * 5
            assert len(deliveries(receiver.url, lot.transaction_code)) == 5
            proxy.plan = ["drop"]  # the next push reaches the receiver, its answer does not come back
        elif stage == "opening":
            (message,) = pending(lot)  # lot.opening, pushed by the deadline sweep
            assert (message.seq, message.table, message.attempts) == (6, "lot", 1)
            assert "Remote end closed connection without response" in message.last_error
            stored = deliveries(receiver.url, lot.transaction_code)
            assert [d["seq"] for d in stored] == [1, 2, 3, 4, 5, 6]  # stored although the county never heard so
            lost["id"] = str(message.id)
        elif stage == "record":
            # The next commits' tasks sent seq 6 again (answered as a duplicate) and then the opening record.
            assert pending(lot) == []
            assert pushes(lot)[5].attempts == 2
            assert [d["seq"] for d in deliveries(receiver.url, lot.transaction_code)] == list(range(1, 9))
            settings.REGIONAL_URL = receiver.url
            receiver.kill()
        elif stage in ("drawn", "report", "publicity"):
            waiting = pending(lot)
            assert waiting and waiting[0].seq == 9 and waiting[0].attempts >= 1
            assert "Connection refused" in waiting[0].last_error
            assert all(m.attempts == 0 for m in waiting[1:])  # never overtaking the first
        elif stage == "awarded":
            waiting = pending(lot)
            assert [(m.seq, m.table) for m in waiting] == [
                (9, "lot"),
                (10, "lot"),
                (11, "report"),
                (12, "candidates"),
                (13, "notice"),
                (14, "lot"),
            ]
            first = waiting[0]
            tried = first.attempts
            # Hours later, still down: each due attempt fails and waits twice as long as the one before.
            moment = max(first.next_attempt_at, timezone.now()) + timedelta(hours=3)
            delays = []
            for _ in range(3):
                assert deliver_due(now=moment) == 0
                first.refresh_from_db()
                delays.append((first.next_attempt_at - moment).total_seconds())
                assert deliver_due(now=first.next_attempt_at - timedelta(seconds=1)) == 0  # not due: not tried
                moment = first.next_attempt_at
            assert delays == [retry_delay(n).total_seconds() for n in range(tried + 1, tried + 4)]
            assert first.attempts == tried + 3
            receiver.start()  # same port, same file
            assert deliver_due(now=moment) == 6
            assert pending(lot) == []

    life = lifecycle(parties, tmp_path, stop)
    assert seen == ["published", "opening", "record", "drawn", "report", "publicity", "awarded", "letters"]
    lot = life.lot

    # The sweep until nothing is pending (the letters' pushes were sent by their task already).
    for _ in range(10):
        if not RegionalMessage.objects.filter(status="pending").exists():
            break
        deliver_due(now=timezone.now() + timedelta(days=1))
    assert not RegionalMessage.objects.filter(status="pending").exists()

    # Every push of the outbox, from the receiver's own store: once each, in seq order, the very bytes signed here.
    outbox = pushes(lot)
    stored = deliveries(receiver.url, lot.transaction_code)
    assert len(outbox) == 18
    assert [(d["delivery_id"], d["seq"], d["table"], d["event"], d["body"]) for d in stored] == [
        (str(m.id), m.seq, m.table, m.event, m.body) for m in outbox
    ]
    assert [d["seq"] for d in stored] == list(range(1, 19))
    assert [d["received_at"] for d in stored] == sorted(d["received_at"] for d in stored)
    assert [d["delivery_id"] for d in stored].count(lost["id"]) == 1
    public = serialization.load_pem_public_key(receiver.pem.read_bytes())
    for message in outbox:
        public.verify(base64.b64decode(message.signature), message.body.encode())
    # The store itself (not only its API): one row per push, nothing from anywhere else.
    with sqlite3.connect(receiver.db) as db:
        assert db.execute("SELECT count(*), count(DISTINCT delivery_id) FROM deliveries").fetchone() == (18, 18)
    receiver.stop()  # (so that its log is complete)
    # The receiver's request log over both of its lives: 18 pushes stored, one repeat answered as a duplicate.
    answers = re.findall(r'"POST /api/v1/deliveries HTTP/1.1" (\d+)', receiver.log.read_text())
    assert (answers.count("201"), answers.count("200"), len(answers)) == (18, 1, 19)
