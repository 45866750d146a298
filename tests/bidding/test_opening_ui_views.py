"""GET /api/bids/<id>/header/ (bidding/opening_ui_views.py): the sealed envelope's header of a bidder's own bid, for the
opening hall's in-browser unwrap; nobody else learns even that the bid exists."""

import base64
import io

from bidding import envelope
from tests.bidding.opening_kit import client, open_lot


def test_the_bidder_reads_its_own_header_and_unwraps_the_data_key(parties, tmp_path):
    opened = open_lot(parties, tmp_path, count=3)
    one = opened.kits[0]
    bid = opened.receipts[one.user.username]["bid"]

    response = client(one.user).get(f"/api/bids/{bid}/header/")
    assert response.status_code == 200, response.json()
    raw = base64.b64decode(response.json()["header"])
    with open(opened.sealed[one.user.username], "rb") as f:
        assert f.read(len(raw)) == raw  # exactly the prefix and header of the sealed file, nothing after
    header = envelope.read_header(io.BytesIO(raw).read)
    key = envelope.unwrap_key(header, one.private_key, lot=opened.lot.transaction_code, bidder=one.user.organisation.credit_code)
    assert key == opened.data_key(one)


def test_nobody_else_reads_it(parties, tmp_path):
    opened = open_lot(parties, tmp_path, count=3)
    one, two, _ = opened.kits
    bid = opened.receipts[one.user.username]["bid"]
    for user in (two.user, parties.staff, parties.supervisor, parties.tenderee):
        response = client(user).get(f"/api/bids/{bid}/header/")
        assert response.status_code == 404, (user.username, response.status_code)
    assert client(None).get(f"/api/bids/{bid}/header/").status_code in (401, 403)


def test_the_server_time(db):
    import time_machine
    from django.utils.dateparse import parse_datetime

    from tests.bidding.opening_kit import DURING

    with time_machine.travel(DURING, tick=False):
        response = client(None).get("/api/server-time/")
    assert response.status_code == 200
    assert parse_datetime(response.json()["now"]) == DURING
