"""Lock-order races on real PostgreSQL: a service that locks a lot and then audits, against a transaction that holds
the audit head and then writes something about the same lot. A write that takes a lock on the lot after the head
(a row lock, or a foreign key's key-share lock) deadlocks with the service: `lot_then_head_against` reports it."""

import threading
import time

import pytest
from django.db import connection, connections, transaction

from audit.services import _locked_head, audit_record
from trading.models import Lot

pg_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent transactions: PostgreSQL only")


def waiting_for_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()")
        return cursor.fetchone()[0]


def _wait_until(predicate, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def lot_then_head_against(lot, write) -> list[Exception]:
    """Runs the service (lot FOR UPDATE, then an audit entry) and the other transaction (the audit head, then
    `write()`), the service waiting for the head while `write()` runs; returns what either raised."""
    lot_locked, head_held, go_first, go_second = (threading.Event() for _ in range(4))
    errors: list[Exception] = []

    def service():  # lot, then head
        try:
            with transaction.atomic():
                Lot.objects.select_for_update().get(pk=lot.pk)
                lot_locked.set()
                go_first.wait(10)
                audit_record(action="lot.suspended", obj=lot, lot_id=lot.pk)
        except Exception as error:
            errors.append(error)
        finally:
            connections.close_all()

    def other():  # head, then the write
        try:
            lot_locked.wait(10)
            with transaction.atomic():
                _locked_head()
                head_held.set()
                go_second.wait(10)
                write()
        except Exception as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=service), threading.Thread(target=other)]
    for thread in threads:
        thread.start()
    assert head_held.wait(10)
    go_first.set()
    _wait_until(lambda: waiting_for_a_lock() == 1)  # the service waits for the head
    go_second.set()
    for thread in threads:
        thread.join(30)
    return errors
