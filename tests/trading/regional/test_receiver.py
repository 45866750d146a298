"""The reference receiver (trading/regional/receiver.py): what the regional platform answers to a push, checked over
HTTP against its handler and SQLite store on a thread (the two-process test runs it as its own process)."""

import base64
import http.client
import json
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bidding.receipts import canonical, platform_private_key
from tests.trading.regional.kit import InProcessReceiver, deliveries

CENTRE = "450102"


@pytest.fixture
def server(tmp_path):
    receiver = InProcessReceiver(tmp_path / "regional.sqlite3", {CENTRE: platform_private_key().public_key()})
    yield receiver
    receiver.close()


def push(seq: int, *, lot: str = "LOT-A", centre: str = CENTRE, delivery: str | None = None, data=None) -> dict:
    return {
        "spec": "1.0",
        "delivery_id": delivery or str(uuid.uuid4()),
        "centre": centre,
        "lot": lot,
        "seq": seq,
        "table": "lot",
        "event": "lot.filed",
        "occurred_at": "2026-11-01T01:30:00Z",
        "data": data if data is not None else {"status": "filed"},
    }


def send(server, body: bytes, *, signature: str | None = None, delivery: str | None = None, key=None, headers=None):
    """POST /api/v1/deliveries; signed with `key` (the platform's by default) unless `signature` is given."""
    key = key or platform_private_key()
    if delivery is None:
        try:
            delivery = json.loads(body).get("delivery_id", "")
        except (ValueError, AttributeError):
            delivery = ""
    sent = {
        "Content-Type": "application/json; charset=utf-8",
        "X-Regional-Signature": signature if signature is not None else base64.b64encode(key.sign(body)).decode(),
        "X-Regional-Delivery": delivery,
        **(headers or {}),
    }
    connection = http.client.HTTPConnection("127.0.0.1", server.server.server_address[1], timeout=10)
    try:
        connection.request("POST", "/api/v1/deliveries", body=body, headers=sent)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def stored(server) -> list[tuple]:
    return [(d["lot"], d["seq"], d["delivery_id"]) for d in deliveries(server.url)]


def test_a_push_is_stored_once_and_a_repeat_is_a_duplicate(server):
    first = push(1)
    body = canonical(first)
    assert send(server, body) == (201, {"delivery_id": first["delivery_id"], "status": "stored", "seq": 1})
    assert send(server, body) == (200, {"delivery_id": first["delivery_id"], "status": "duplicate"})
    assert stored(server) == [("LOT-A", 1, first["delivery_id"])]
    (row,) = deliveries(server.url, "LOT-A")
    assert (row["body"], row["data"], row["table"], row["event"], row["centre"]) == (
        body.decode(),
        {"status": "filed"},
        "lot",
        "lot.filed",
        CENTRE,
    )
    assert deliveries(server.url, "LOT-B") == []


def test_the_same_delivery_id_with_another_body_is_refused(server):
    first = push(1)
    send(server, canonical(first))
    changed = {**first, "data": {"status": "published"}}
    assert send(server, canonical(changed)) == (409, {"error": "delivery_id_reused", "delivery_id": first["delivery_id"]})
    assert stored(server) == [("LOT-A", 1, first["delivery_id"])]
    assert deliveries(server.url)[0]["data"] == {"status": "filed"}


def test_pushes_of_a_lot_are_taken_in_seq_order_only(server):
    one, three = push(1), push(3)
    assert send(server, canonical(three)) == (
        409,
        {"error": "out_of_order", "expected_seq": 1, "delivery_id": three["delivery_id"]},
    )
    send(server, canonical(one))
    assert send(server, canonical(three)) == (
        409,
        {"error": "out_of_order", "expected_seq": 2, "delivery_id": three["delivery_id"]},
    )
    again = push(1)  # seq 1 taken by another delivery id: not a repeat, not the next
    assert send(server, canonical(again))[0] == 409
    other_lot = push(1, lot="LOT-B")  # each lot counts on its own
    assert send(server, canonical(other_lot))[0] == 201
    assert stored(server) == [("LOT-A", 1, one["delivery_id"]), ("LOT-B", 1, other_lot["delivery_id"])]


def test_a_bad_signature_is_401_and_stores_nothing(server):
    body = canonical(push(1))
    assert send(server, body, key=Ed25519PrivateKey.generate()) == (401, {"error": "bad_signature"})
    signature = base64.b64encode(platform_private_key().sign(body)).decode()
    tampered = body.replace(b'"filed"', b'"FILED"')
    assert send(server, tampered, signature=signature) == (401, {"error": "bad_signature"})
    assert send(server, body, signature="") == (401, {"error": "bad_signature"})
    assert stored(server) == []


def test_an_unknown_centre_is_403(server):
    assert send(server, canonical(push(1, centre="450199"))) == (403, {"error": "unknown_centre"})
    assert stored(server) == []


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        canonical({k: v for k, v in push(1).items() if k != "data"}),  # a field missing
        canonical({**push(1), "extra": 1}),  # a field too many
        canonical({**push(1), "seq": "1"}),
        canonical({**push(1), "seq": 0}),
        canonical({**push(1), "seq": True}),
        canonical({**push(1), "centre": ["450102"]}),
        canonical({**push(1), "data": "filed"}),
        canonical({**push(1), "table": ""}),
    ],
)
def test_a_malformed_push_is_400(server, body):
    assert send(server, body) == (400, {"error": "malformed"})
    assert stored(server) == []


def test_the_delivery_header_must_name_the_push(server):
    body = canonical(push(1))
    assert send(server, body, delivery=str(uuid.uuid4())) == (400, {"error": "malformed"})
    assert send(server, body, signature="not base64!") == (400, {"error": "malformed"})
    assert stored(server) == []


def test_another_major_version_is_refused_a_minor_one_taken(server):
    assert send(server, canonical({**push(1), "spec": "2.0"})) == (400, {"error": "unsupported_spec", "supported": "1.x"})
    assert send(server, canonical({**push(1), "spec": "1.3"}))[0] == 201


def test_lengths_and_paths(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.server.server_address[1], timeout=10)
    connection.request("POST", "/api/v1/deliveries", body=b"", headers={"Content-Length": "0"})
    response = connection.getresponse()
    assert (response.status, json.loads(response.read())) == (400, {"error": "bad_length"})
    connection.close()
    connection = http.client.HTTPConnection("127.0.0.1", server.server.server_address[1], timeout=10)
    connection.putrequest("POST", "/api/v1/deliveries")
    connection.putheader("Content-Length", str(11 * 1024 * 1024))
    connection.endheaders()
    response = connection.getresponse()
    assert (response.status, json.loads(response.read())) == (413, {"error": "bad_length"})
    connection.close()
    connection = http.client.HTTPConnection("127.0.0.1", server.server.server_address[1], timeout=10)
    connection.request("POST", "/elsewhere", body=b"{}")
    assert connection.getresponse().status == 404
    connection.close()
    assert stored(server) == []
