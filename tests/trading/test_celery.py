"""The beat sweep through a real Celery worker and the configured broker (Redis in CI)."""

from datetime import datetime, timedelta

import pytest
import time_machine
from celery.contrib.testing.worker import start_worker
from django.conf import settings

from audit.models import AuditEvent
from tests import factories
from trading.celery import app
from trading.models import Lot
from trading.rules import LOCAL
from trading.tasks import sweep_deadlines


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
def test_sweep_runs_in_a_worker_and_twice_is_harmless(worker):
    parties = factories.Parties.create()
    lot = factories.lot(parties, stage="published", issued=datetime(2026, 11, 2, 9, tzinfo=LOCAL))
    factories.enough_bids(parties, lot)
    assert app.conf.broker_url == settings.CELERY_BROKER_URL
    with time_machine.travel(lot.bid_deadline + timedelta(minutes=1), tick=False):
        first = sweep_deadlines.delay().get(timeout=30)
        second = sweep_deadlines.delay().get(timeout=30)
    assert first == {"tendering": 0, "opening": 1, "unsealed": 1, "publicity": 0, "awarded": 0}
    assert second == {"tendering": 0, "opening": 0, "unsealed": 0, "publicity": 0, "awarded": 0}
    assert Lot.objects.get(pk=lot.pk).status == "opening"
    assert AuditEvent.objects.filter(action="lot.opening", lot_id=lot.pk).count() == 1
