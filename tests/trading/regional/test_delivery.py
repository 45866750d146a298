"""Delivering the outbox (trading/regional/outbox.py) to the reference receiver over HTTP: in seq order, stopping at
the first failure, backing off, sweeping up what no task delivered, surviving a broker that is down, a lost or cut
answer, and two workers on one lot."""

import logging
import threading
from datetime import date, timedelta

import pytest
from django.db import connection, connections

from tests import factories
from tests.trading.regional.kit import deliveries, envelope, free_port, pushes
from trading import services
from trading.celery import app
from trading.regional.outbox import deliver_due, deliver_lot, retry_delay

T = factories.at(date(2026, 12, 1))


def state(lot) -> list[tuple]:
    return [(m.seq, m.status, m.attempts, m.next_attempt_at, m.delivered_at, m.last_error) for m in pushes(lot)]


def stored(receiver, lot) -> list[tuple]:
    return [(d["seq"], d["table"], d["delivery_id"]) for d in deliveries(receiver.url, lot.transaction_code)]


def sent(lot) -> list[tuple]:
    return [(m.seq, m.table, str(m.id)) for m in pushes(lot)]


def test_backoff_doubles_from_ten_seconds_up_to_the_cap(settings):
    assert [retry_delay(n).total_seconds() for n in range(1, 10)] == [10, 20, 40, 80, 160, 320, 600, 600, 600]
    settings.REGIONAL_RETRY_MAX_SECONDS = 60
    assert [retry_delay(n).total_seconds() for n in range(1, 6)] == [10, 20, 40, 60, 60]
    assert retry_delay(0) == timedelta(seconds=10)


@pytest.mark.django_db
def test_pushes_go_in_seq_order_and_stop_at_the_first_failure(parties, proxy, receiver):
    lot = factories.lot(parties, stage="published")  # five pushes: project, lot x3, the tender notice
    proxy.plan = ["pass", "pass", "503"]
    assert deliver_lot(lot.pk, now=T) == 2
    assert state(lot) == [
        (1, "delivered", 1, pushes(lot)[0].created_at, T, ""),
        (2, "delivered", 1, pushes(lot)[1].created_at, T, ""),
        (3, "pending", 1, T + timedelta(seconds=10), None, 'HTTP 503: {"error": "maintenance"}'),
        (4, "pending", 0, pushes(lot)[3].created_at, None, ""),
        (5, "pending", 0, pushes(lot)[4].created_at, None, ""),
    ]
    assert stored(receiver, lot) == sent(lot)[:2]
    # Not yet due: nothing is tried, not even the later pushes.
    before = state(lot)
    assert deliver_lot(lot.pk, now=T + timedelta(seconds=9)) == 0
    assert deliver_due(now=T + timedelta(seconds=9)) == 0
    assert state(lot) == before and proxy.seen == ["pass", "pass", "503"]
    # Due: the rest, in order.
    assert deliver_lot(lot.pk, now=T + timedelta(seconds=10)) == 3
    assert [(m.status, m.attempts, m.last_error) for m in pushes(lot)] == [
        ("delivered", 1, ""),
        ("delivered", 1, ""),
        ("delivered", 2, ""),
        ("delivered", 1, ""),
        ("delivered", 1, ""),
    ]
    assert stored(receiver, lot) == sent(lot)
    assert proxy.statuses == [201] * 5


@pytest.mark.django_db
def test_a_receiver_that_is_down_is_retried_with_backoff_and_nothing_is_lost(parties, receiver, settings):
    lot = factories.lot(parties, stage="registered")
    settings.REGIONAL_URL = f"http://127.0.0.1:{free_port()}"  # nobody listens
    moment, waits = T, []
    for attempt in range(1, 6):
        assert deliver_due(now=moment) == 0
        first = pushes(lot)[0]
        assert (first.attempts, first.status) == (attempt, "pending")
        assert "Connection refused" in first.last_error
        waits.append((first.next_attempt_at - moment).total_seconds())
        assert pushes(lot)[1].attempts == 0  # never overtakes the first
        assert deliver_due(now=first.next_attempt_at - timedelta(seconds=1)) == 0  # not due: not tried
        assert pushes(lot)[0].attempts == attempt
        moment = first.next_attempt_at
    assert waits == [10, 20, 40, 80, 160]
    settings.REGIONAL_URL = receiver.url  # back up, hours later
    assert deliver_due(now=moment + timedelta(hours=3)) == 2
    assert stored(receiver, lot) == sent(lot)


@pytest.mark.django_db
def test_the_sweep_delivers_what_no_task_did_and_twice_is_harmless(parties, receiver):
    """Here no on_commit runs (the test's transaction never commits): as if every task had been lost."""
    one = factories.lot(parties, stage="published")
    two = factories.lot(parties, stage="registered")
    assert {m.status for m in [*pushes(one), *pushes(two)]} == {"pending"}
    assert deliver_due(now=T) == 7
    assert deliver_due(now=T) == 0
    assert stored(receiver, one) == sent(one) and stored(receiver, two) == sent(two)


@pytest.mark.django_db
def test_a_lost_answer_is_sent_again_and_stored_once(parties, proxy, receiver):
    lot = factories.lot(parties, stage="registered")
    proxy.plan = ["drop"]  # the receiver stores seq 1, its answer never comes back
    assert deliver_lot(lot.pk, now=T) == 0
    first = pushes(lot)[0]
    assert (first.status, first.attempts, first.next_attempt_at) == ("pending", 1, T + timedelta(seconds=10))
    assert "Remote end closed connection without response" in first.last_error
    assert stored(receiver, lot) == sent(lot)[:1]
    assert deliver_lot(lot.pk, now=T + timedelta(seconds=10)) == 2
    assert proxy.statuses == [201, 200, 201]  # stored, then answered as a duplicate, then the next one
    assert [(m.status, m.attempts) for m in pushes(lot)] == [("delivered", 2), ("delivered", 1)]
    assert stored(receiver, lot) == sent(lot)


@pytest.mark.django_db
def test_a_cut_answer_is_a_failed_attempt_not_a_crash(parties, proxy, receiver):
    """An answer cut short raises http.client.IncompleteRead, which is no OSError: it must count as a failed attempt
    (and not escape the sweep, holding back every other lot)."""
    lot = factories.lot(parties, stage="registered")
    other = factories.lot(parties, stage="registered")
    proxy.plan = ["cut"]
    assert deliver_due(now=T) == 2  # the other lot's two pushes
    first = pushes(lot)[0] if pushes(lot)[0].attempts else pushes(other)[0]
    assert (first.status, first.attempts) == ("pending", 1)
    assert first.last_error.startswith("broken answer: IncompleteRead")
    assert deliver_due(now=T + timedelta(seconds=10)) == 2
    assert stored(receiver, lot) == sent(lot) and stored(receiver, other) == sent(other)


@pytest.mark.django_db
def test_after_commit_a_task_delivers_at_once(parties, receiver, django_capture_on_commit_callbacks):
    lot = factories.lot(parties, stage="registered")
    deliver_due(now=T)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.lot_suspend(lot=lot, actor=parties.staff, reason="核查")
    assert len(callbacks) >= 1
    assert [(m.seq, m.table, m.status) for m in pushes(lot)] == [
        (1, "project", "delivered"),
        (2, "lot", "delivered"),
        (3, "lot", "delivered"),
    ]
    assert stored(receiver, lot) == sent(lot)


@pytest.fixture
def broker_down():
    """Celery not eager, its broker a closed port (fresh connection pools, restored afterwards)."""
    saved = (app.conf.task_always_eager, app.conf.broker_url)

    def fresh_pools():  # dropped, not closed: kombu's registry may hand the same pool to the next user
        app._pool = None
        app.amqp._producer_pool = None

    app.conf.task_always_eager = False
    app.conf.broker_url = f"redis://127.0.0.1:{free_port()}/0"
    fresh_pools()
    yield
    app.conf.task_always_eager, app.conf.broker_url = saved
    fresh_pools()


@pytest.mark.django_db
def test_a_broker_down_at_commit_loses_no_push(parties, receiver, broker_down, django_capture_on_commit_callbacks, caplog):
    lot = factories.lot(parties, stage="registered")
    deliver_due(now=T)
    with caplog.at_level(logging.WARNING, logger="trading.regional.outbox"), django_capture_on_commit_callbacks(execute=True):
        services.lot_suspend(lot=lot, actor=parties.staff, reason="核查", now=T)  # commits; queueing fails
    assert f"could not queue delivery of lot {lot.pk}" in caplog.text
    assert [(m.seq, m.status, m.attempts) for m in pushes(lot)] == [(1, "delivered", 1), (2, "delivered", 1), (3, "pending", 0)]
    assert deliver_due(now=T) == 1  # the beat sweep
    assert stored(receiver, lot) == sent(lot)


pg_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent transactions: PostgreSQL only")


@pg_only
@pytest.mark.django_db(transaction=True)
def test_two_workers_on_one_lot_never_send_out_of_order(proxy, receiver, settings):
    """Each worker takes the first pending push it can lock; one that finds an earlier push still locked by the other
    stops. The receiver refuses any gap (409), so a single 409 would show an overtaking."""
    settings.REGIONAL_URL = ""  # no delivery after each commit while the lot is made: seven pushes wait
    parties = factories.Parties.create()
    lot = factories.lot(parties, stage="published")
    services.lot_suspend(lot=lot, actor=parties.staff, reason="核查", now=T)
    services.lot_resume(lot=lot, actor=parties.staff, now=T)
    assert {m.status for m in pushes(lot)} == {"pending"}
    settings.REGIONAL_URL = proxy.url
    proxy.delay = 0.2  # each POST holds its row lock this long
    start, counts = threading.Barrier(3), []

    def worker():
        try:
            connection.ensure_connection()  # each thread's connection made before the start, so they overlap
            start.wait(10)
            counts.append(deliver_lot(lot.pk, now=T))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(counts) == 7 and len(counts) == 3
    assert proxy.statuses == [201] * 7
    assert [(m.status, m.attempts) for m in pushes(lot)] == [("delivered", 1)] * 7
    assert stored(receiver, lot) == sent(lot)
    assert [envelope(m)["seq"] for m in pushes(lot)] == list(range(1, 8))
