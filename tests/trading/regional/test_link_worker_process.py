"""The regional link with the county's delivery in its own process too: a real `celery worker` (Redis broker, the
test's PostgreSQL database) takes the tasks this process queues after each commit and pushes to the reference
receiver, a third process. The receiver is killed, a push fails in the worker and waits; once the receiver is back,
staff resend it and the worker delivers; the receiver's store then holds the outbox exactly once, in order."""

import os
import subprocess
import sys
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings
from django.db import connection

from tests import factories
from tests.bidding.opening_kit import client
from tests.trading.regional.kit import ROOT, ReceiverProcess, deliveries, pushes, wait_until
from trading import services
from trading.celery import app

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql" or not django_settings.CELERY_BROKER_URL.startswith("redis://"),
    reason="a worker in another process needs the PostgreSQL database and a Redis broker (REDIS_URL)",
)


@pytest.fixture
def receiver(tmp_path, settings):
    process = ReceiverProcess(tmp_path, settings.CENTRE_CODE)
    process.start()
    yield process
    process.stop()


@pytest.fixture
def worker(transactional_db, receiver, tmp_path, settings):
    """`celery -A trading worker` on the test database, delivering to the receiver; this process only queues (not
    eager). Stopped before the database is flushed."""
    db = connection.settings_dict
    url = f"postgres://{quote(db['USER'] or '')}{':' + quote(db['PASSWORD']) if db['PASSWORD'] else ''}"
    url += f"@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    log = tmp_path / "worker.log"
    env = {**os.environ, "DATABASE_URL": url, "REGIONAL_URL": receiver.url, "CELERY_TASK_ALWAYS_EAGER": "0"}
    app.control.purge()  # nothing left over from an earlier run
    command = "-m celery -A trading worker --pool solo --without-heartbeat --without-gossip --without-mingle -l INFO"
    process = subprocess.Popen(
        [sys.executable, *command.split()],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(log, "wb"),  # noqa: SIM115 (kept open by the child)
    )
    wait_until(lambda: "ready." in log.read_text() or process.poll() is not None, timeout=60)
    assert process.poll() is None, log.read_text()[-3000:]
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    settings.REGIONAL_URL = receiver.url  # so that this process queues the deliveries (it sends none itself)
    yield log
    app.conf.task_always_eager = eager
    process.terminate()
    process.wait(timeout=30)


def test_a_worker_process_delivers_to_a_receiver_process_across_a_crash(worker, receiver):
    parties = factories.Parties.create()
    lot = factories.lot(parties, stage="published")  # five commits, each queueing a task the worker runs
    wait_until(lambda: [m.status for m in pushes(lot)] == ["delivered"] * 5, timeout=60)
    assert [d["seq"] for d in deliveries(receiver.url, lot.transaction_code)] == [1, 2, 3, 4, 5]

    receiver.kill()
    services.lot_suspend(lot=lot, actor=parties.staff, reason="核查")
    wait_until(lambda: pushes(lot)[5].attempts == 1, timeout=60)
    failed = pushes(lot)[5]
    assert (failed.seq, failed.table, failed.status) == (6, "lot", "pending")
    assert "Connection refused" in failed.last_error

    receiver.start()  # same port and file; the push waits for its backoff, or for staff:
    response = client(parties.staff).post(f"/api/regional-messages/{failed.id}/resend/")
    assert response.status_code == 200, response.json()
    wait_until(lambda: pushes(lot)[5].status == "delivered", timeout=60)
    assert pushes(lot)[5].attempts == 2
    stored = deliveries(receiver.url, lot.transaction_code)
    assert [(d["delivery_id"], d["seq"], d["body"]) for d in stored] == [(str(m.id), m.seq, m.body) for m in pushes(lot)]
    assert "Task trading.tasks.deliver_regional_lot" in worker.read_text()
