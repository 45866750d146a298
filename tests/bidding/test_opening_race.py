"""Two decryptions of one bid at once (a double click, the bidder and the rescue): one wins, the other's
plaintext object is removed, one audit event. Real concurrent transactions: PostgreSQL only."""

import threading

import pytest
import time_machine
from django.db import connection, connections

from audit.models import AuditEvent
from tests import factories
from tests.bidding.opening_kit import decrypt, open_lot, opened_objects, sign_in

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent transactions: PostgreSQL only")


@pytest.mark.django_db(transaction=True)
def test_two_decryptions_of_one_bid_at_once_leave_one_plaintext(tmp_path):
    parties = factories.Parties.create()
    opened = open_lot(parties, tmp_path, count=3, extra={"bidder1": b"z" * (3 * 1024 * 1024)})
    one = opened.kits[0]
    before = opened_objects()
    start, results = threading.Barrier(2), []

    def attempt():
        try:
            start.wait(10)
            response = decrypt(opened, one)
            results.append((response.status_code, response.json().get("code")))
        finally:
            connections.close_all()

    with time_machine.travel(opened.open_at, tick=True):
        sign_in(opened, one)
        workers = [threading.Thread(target=attempt) for _ in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
    assert sorted(results, key=str) == [(200, None), (409, "already_decrypted")]
    bid = opened.bid(one)
    assert bid.status == "decrypted"
    assert opened_objects() - before == {bid.plaintext_key}
    assert AuditEvent.objects.filter(action="bid.decrypted", object_id=str(bid.pk)).count() == 1
