"""The opened file is written after the decision: the request verifies every chunk and decides the bid, a worker
then stores the plaintext for evaluation. A store that fails meanwhile loses nothing, the sweep tries again, and
the record waits for the files it is read from."""

import time
from datetime import timedelta

import pytest
import time_machine
from celery.contrib.testing.worker import start_worker

from audit.models import AuditEvent
from bidding.services import opening as opening_services
from tests.bidding.opening_kit import client, decrypt, open_lot, opened_objects, sign_in, stored
from trading import services
from trading.celery import app
from trading.objectstore import StoreUnavailable


@pytest.mark.django_db
def test_a_store_failing_after_the_decision_leaves_the_bid_decrypted_and_the_sweep_stores_it(parties, tmp_path, monkeypatch):
    opened = open_lot(parties, tmp_path, count=3)
    deadline = opened.opening.decryption_deadline
    real = opening_services.decrypt_object
    calls = []

    def store_down(*args, **kwargs):
        calls.append(args[2])
        raise StoreUnavailable("connection refused")

    monkeypatch.setattr(opening_services, "decrypt_object", store_down)
    with time_machine.travel(opened.open_at, tick=False):
        sign_in(opened)
        for kit in opened.kits:
            response = decrypt(opened, kit)
            assert (response.status_code, response.json()["status"]) == (200, "decrypted")
            assert response.json()["plaintext_sha256"] == ""  # not stored yet
    assert len(calls) == 3
    one = opened.bid(opened.kits[0])
    assert (one.status, one.plaintext_key, one.plaintext_size) == ("decrypted", "", len(opened.plain["bidder1"]))
    assert one.opened_key_sealed and opened.data_key(opened.kits[0]) not in bytes(one.opened_key_sealed)
    assert not any(opened_objects() & set(calls))

    with time_machine.travel(deadline + timedelta(seconds=1), tick=False):
        services.sweep_deadlines()  # the record is read from the opened files: the close waits
        assert opened.opening.decryption_closed_at is None
        response = client(parties.staff).post(f"/api/lots/{opened.lot.pk}/opening/close-decryption/")
        assert (response.status_code, response.json()["code"]) == (409, "decryption_in_progress")

    monkeypatch.setattr(opening_services, "decrypt_object", real)  # the store is back
    retry_at = deadline + timedelta(seconds=1) + opening_services.STORE_RETRY  # after the last failed attempt
    with time_machine.travel(retry_at, tick=False):
        services.sweep_deadlines()
    assert opened.opening.decryption_closed_at == retry_at
    for kit in opened.kits:
        bid = opened.bid(kit)
        assert stored(bid.plaintext_key) == opened.plain[kit.user.username]
        assert bid.opened_key_sealed is None  # the key is kept no longer than needed
    assert [row["price"] for row in opened.opening.record] == ["900001.00", "900002.00", "900003.00"]
    assert AuditEvent.objects.filter(action="bid.opened_file_stored").count() == 3
    assert opening_services.store_opened_file(bid_id=one.pk) is False  # once only


@pytest.mark.django_db
def test_two_writers_of_one_opened_file_keep_one_object(parties, tmp_path, monkeypatch):
    """A sweep's retry runs while the first task is still writing: the first to finish is kept, the other removed."""
    opened = open_lot(parties, tmp_path, count=3)
    kit = opened.kits[0]
    bid_id = opened.receipts[kit.user.username]["bid"]
    real = opening_services.decrypt_object
    second = []

    def overtaken(*args, **kwargs):
        result = real(*args, **kwargs)
        if not second:
            second.append(None)
            second[0] = opening_services.store_opened_file(bid_id=bid_id)  # finishes first
        return result

    monkeypatch.setattr(opening_services, "decrypt_object", overtaken)
    before = opened_objects()  # the bucket is shared by the whole run
    with time_machine.travel(opened.open_at, tick=False):
        sign_in(opened, kit)
        assert decrypt(opened, kit).status_code == 200
    bid = opened.bid(kit)
    assert second == [True]
    assert opened_objects() - before == {bid.plaintext_key}
    assert stored(bid.plaintext_key) == opened.plain[kit.user.username]
    assert AuditEvent.objects.filter(action="bid.opened_file_stored").count() == 1


@pytest.fixture
def worker():
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        with start_worker(app, perform_ping_check=False, pool="solo", shutdown_timeout=10):
            yield
    finally:
        app.conf.task_always_eager = eager


@pytest.mark.django_db(transaction=True)
def test_a_worker_stores_the_opened_file_after_the_decision(parties, tmp_path, worker):
    opened = open_lot(parties, tmp_path, count=3)
    kit = opened.kits[0]
    with time_machine.travel(opened.open_at, tick=True):
        sign_in(opened, kit)
        response = decrypt(opened, kit)
        assert (response.status_code, response.json()["status"]) == (200, "decrypted")
        waited = time.monotonic()
        while not opened.bid(kit).plaintext_key and time.monotonic() - waited < 30:
            time.sleep(0.05)
    bid = opened.bid(kit)
    assert stored(bid.plaintext_key) == opened.plain[kit.user.username]
    assert (bid.plaintext_size, bid.opened_key_sealed) == (len(opened.plain[kit.user.username]), None)
