"""Racing the deadline for real: the completion waits for the sweep's row lock and is then refused."""

import threading
from datetime import datetime, timedelta

import pytest
import time_machine
from django.db import connection, connections, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from bidding.client import file_sha256, put_part
from bidding.models import Bid
from bidding.services import enrolment_create
from tests import factories
from trading import services
from trading.models import Lot
from trading.rules import LOCAL

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are what is tested: PostgreSQL only")


def waiting_on_a_lock() -> bool:
    with connections["default"].cursor() as cursor:
        cursor.execute("select count(*) from pg_locks where not granted")
        return cursor.fetchone()[0] > 0


@pytest.mark.django_db(transaction=True)
def test_a_completion_racing_the_opening_sweep_is_decided_after_the_lock(tmp_path):
    parties = factories.Parties.create()
    lot = factories.lot(parties, stage="published", issued=datetime(2026, 11, 2, 9, tzinfo=LOCAL))
    factories.enough_bids(parties, lot)
    kit = factories.bidder_kit(parties.bidders[0], lot.docs_issued_at)
    with time_machine.travel(lot.docs_issued_at + timedelta(hours=2), tick=False):
        enrolment_create(lot=lot, actor=kit.user, contact_name="甲", contact_phone="1")
        sealed = factories.seal_bid(kit, lot, tmp_path / "late.sealed", factories.bid_package("1.00"))
        client = APIClient()
        client.force_authenticate(kit.user)
        bid = client.post(
            "/api/bids/", {"lot": lot.pk, "size": sealed.stat().st_size, "sha256": file_sha256(sealed)}, format="json"
        ).json()
        put_part(bid["urls"][0]["url"], sealed.read_bytes())

    locked, result = threading.Event(), {}

    def complete():
        try:
            locked.wait(10)
            response = client.post(f"/api/bids/{bid['id']}/complete/")
            result["response"] = (response.status_code, response.json().get("code"))
        finally:
            connections.close_all()

    def until(condition):
        for _ in range(2000):
            if condition():
                return True
            threading.Event().wait(0.005)
        return False

    # The clock runs from just before the deadline; the completion starts in time, then meets the lock
    # the sweep holds while it opens the lot at the deadline, and is decided after it.
    with time_machine.travel(lot.bid_deadline - timedelta(milliseconds=300), tick=True):
        worker = threading.Thread(target=complete)
        worker.start()
        with transaction.atomic():
            Lot.objects.select_for_update().get(pk=lot.pk)
            locked.set()
            assert until(waiting_on_a_lock)
            assert until(lambda: timezone.now() >= lot.bid_deadline)
            assert services.sweep_deadlines()["opening"] == 1
        worker.join(30)
    assert result["response"] == (409, "deadline_passed")
    assert Bid.objects.get(pk=bid["id"]).status == "withdrawn"
    lot.refresh_from_db()
    assert lot.status == "opening"
