"""GET /api/audit/events/export/: the trail, filtered like the list, streamed as CSV (UTF-8 with BOM) or JSON Lines,
supervisors only; every row carries its chain hashes; search filters of the list."""

import csv
import datetime as dt
import io
import json

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from audit.services import audit_record
from trading.models import User

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2025, 3, 1, 2, 0, tzinfo=dt.UTC)
HEADER = [
    "seq",
    "at",
    "sealed",
    "actor",
    "actor_username",
    "actor_role",
    "ip",
    "action",
    "object_type",
    "object_id",
    "lot_id",
    "before",
    "after",
    "prev_hash",
    "hash",
]


@pytest.fixture
def trail(make_user):
    staff = make_user("staff")
    staff.username = "=cmd|' /C calc'!A0"  # a username Excel would run as a formula
    staff.save(update_fields=["username"])
    bidder = make_user("bidder")
    return staff, [
        audit_record(action="lot.created", actor=staff, obj=staff, lot_id=7, after={"name": "一标段"}, now=T0),
        audit_record(action="enrolment.created", actor=bidder, lot_id=7, after={"org": 3}, sealed=True, now=T0),
        audit_record(
            action="lot.document_uploaded", actor=staff, lot_id=8, before={"status": "filed"}, now=T0 + dt.timedelta(days=1)
        ),
    ]


def _client(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def _body(response) -> bytes:
    assert response.streaming
    return b"".join(response.streaming_content)


def test_csv_for_excel(make_user, trail):
    staff, (first, second, third) = trail
    response = _client(make_user("supervisor")).get("/api/audit/events/export/", {"format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-events-')
    body = _body(response)
    assert body.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows == [
        HEADER,
        [
            "1",
            "2025-03-01T10:00:00+08:00",
            "false",
            str(staff.pk),
            "'=cmd|' /C calc'!A0",  # a formula for Excel: defused
            "staff",
            "",
            "lot.created",
            "trading.user",
            str(staff.pk),
            "7",
            "{}",
            '{"name": "一标段"}',
            first.prev_hash,
            first.hash,
        ],
        ["2", "2025-03-01T10:00:00+08:00", "true", "", "", "", "", "", "", "", "", "", "", second.prev_hash, second.hash],
        [
            "3",
            "2025-03-02T10:00:00+08:00",
            "false",
            str(staff.pk),
            "'=cmd|' /C calc'!A0",
            "staff",
            "",
            "lot.document_uploaded",
            "",
            "",
            "8",
            '{"status": "filed"}',
            "{}",
            third.prev_hash,
            third.hash,
        ],
    ]
    # The hashes chain: each row's prev_hash is the previous row's hash.
    assert [r[13] for r in rows[2:]] == [r[14] for r in rows[1:-1]]


def test_csv_is_the_default_and_jsonl_matches_the_api(make_user, trail):
    client = _client(make_user("supervisor"))
    assert _body(client.get("/api/audit/events/export/")).startswith(b"\xef\xbb\xbfseq,at,")
    response = client.get("/api/audit/events/export/", {"format": "jsonl"})
    assert response["Content-Type"] == "application/x-ndjson; charset=utf-8"
    lines = [json.loads(line) for line in _body(response).decode().splitlines()]
    assert lines == client.get("/api/audit/events/").json()["results"]


def test_the_list_filters_apply(make_user, trail):
    client = _client(make_user("supervisor"))

    def seqs(**query) -> list[int]:
        body = _body(client.get("/api/audit/events/export/", {"format": "jsonl", **query}))
        return [json.loads(line)["seq"] for line in body.decode().splitlines()]

    assert seqs(lot_id=7) == [1]
    assert seqs(action="lot.document_uploaded") == [3]
    assert seqs(action_prefix="lot.") == [1, 3]
    assert seqs(at_after="2025-03-02T00:00:00+08:00") == [3]
    assert seqs(at_before="2025-03-02T00:00:00+08:00") == [1, 2]
    assert seqs(ordering="-seq") == [1, 2, 3]  # always in chain order
    staff, _ = trail
    assert seqs(actor_username=staff.username) == [1, 3]
    assert seqs(actor_username=staff.username, action_prefix="lot.doc") == [3]
    assert seqs(actor_username="nobody") == []
    # A sealed entry names nobody, so its actor's name cannot find it before the deadline.
    bidder = User.objects.get(role="bidder")
    assert seqs(actor_username=bidder.username) == []
    # The list searches the same way.
    assert [r["seq"] for r in client.get("/api/audit/events/", {"action_prefix": "lot."}).json()["results"]] == [1, 3]


def test_constant_memory_in_chunks(make_user, trail, monkeypatch, django_assert_num_queries):
    """The rows are fetched in chunks by an iterator, after the response has started, not loaded whole."""
    from audit import api

    monkeypatch.setattr(api, "EXPORT_CHUNK", 2)
    for i in range(5):
        audit_record(action="lot.noted", lot_id=9, after={"i": i}, now=T0)
    response = _client(make_user("supervisor")).get("/api/audit/events/export/", {"format": "jsonl"})
    chunks = iter(response.streaming_content)
    with django_assert_num_queries(1):  # SQLite iterates one query; PostgreSQL a server-side cursor
        assert json.loads(next(chunks))["seq"] == 1
    assert len(list(chunks)) == AuditEvent.objects.count() - 1 == 7


def test_unknown_format_is_refused(make_user, trail):
    response = _client(make_user("supervisor")).get("/api/audit/events/export/", {"format": "xlsx"})
    assert (response.status_code, response.json()["code"]) == (400, "invalid_format")


@pytest.mark.parametrize("role", ["staff", "bidder", "tenderee", "agency", "expert"])
def test_only_supervisors(make_user, trail, role):
    for fmt in ("csv", "jsonl"):
        response = _client(make_user(role)).get("/api/audit/events/export/", {"format": fmt})
        assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    response = _client().get("/api/audit/events/export/", {"format": "csv"})
    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")
    superuser = make_user("staff", is_superuser=True, is_staff=True)
    assert _client(superuser).get("/api/audit/events/export/").status_code == 200
