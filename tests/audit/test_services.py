import datetime as dt
import hashlib
import threading
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet

from audit.context import request_context
from audit.models import GENESIS_HASH, AuditEvent, AuditHead
from audit.services import AuditHeadMissing, VerifyResult, audit_record, canonical_json, event_hash, unseal_event, verify_chain
from tests.audit.tampering import tamper

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = dt.datetime(2025, 3, 1, 10, 0, tzinfo=SHANGHAI)


def _chain(count: int, *, actor=None) -> list[AuditEvent]:
    return [
        audit_record(
            action="lot.published",
            actor=actor,
            object_type="trading.lot",
            object_id=str(i),
            lot_id=i,
            after={"n": i},
            now=T0 + dt.timedelta(minutes=i),
        )
        for i in range(1, count + 1)
    ]


def _head() -> tuple[int, str]:
    head = AuditHead.objects.get(pk=1)
    return head.last_seq, head.last_hash


@pytest.mark.django_db
def test_records_form_a_chain_that_verifies(make_user):
    staff = make_user("staff")
    with request_context(ip="203.0.113.7", user_agent="pytest"):
        first = audit_record(
            action="lot.created",
            actor=staff,
            obj=staff,
            lot_id=7,
            before={"status": "draft"},
            after={"price": Decimal("12.50"), "bid_deadline": T0, "ratio": 0.5, "whole": 3.0, "名称": "一标段"},
            now=T0,
        )
    second = audit_record(action="lot.published", lot_id=7, now=T0 + dt.timedelta(seconds=1))
    third = audit_record(action="lot.published", lot_id=8, now=T0 + dt.timedelta(seconds=2))

    rows = list(
        AuditEvent.objects.order_by("seq").values(
            "seq", "actor_id", "actor_role", "ip", "action", "object_type", "object_id", "lot_id", "prev_hash", "hash"
        )
    )
    assert rows == [
        {
            "seq": 1,
            "actor_id": staff.pk,
            "actor_role": "staff",
            "ip": "203.0.113.7",
            "action": "lot.created",
            "object_type": "trading.user",
            "object_id": str(staff.pk),
            "lot_id": 7,
            "prev_hash": GENESIS_HASH,
            "hash": first.hash,
        },
        {
            "seq": 2,
            "actor_id": None,
            "actor_role": "",
            "ip": None,
            "action": "lot.published",
            "object_type": "",
            "object_id": "",
            "lot_id": 7,
            "prev_hash": first.hash,
            "hash": second.hash,
        },
        {
            "seq": 3,
            "actor_id": None,
            "actor_role": "",
            "ip": None,
            "action": "lot.published",
            "object_type": "",
            "object_id": "",
            "lot_id": 8,
            "prev_hash": second.hash,
            "hash": third.hash,
        },
    ]
    stored = AuditEvent.objects.get(seq=1)
    assert stored.at == dt.datetime(2025, 3, 1, 2, 0, tzinfo=dt.UTC)
    assert stored.before == {"status": "draft"}
    assert stored.after == {
        "price": "12.50",
        "bid_deadline": "2025-03-01T02:00:00.000000Z",
        "ratio": 0.5,
        "whole": 3,
        "名称": "一标段",
    }
    assert stored.sealed is None
    assert _head() == (3, third.hash)
    assert verify_chain() == VerifyResult(ok=True, checked=3, problems=[])


@pytest.mark.django_db
def test_hash_is_sha256_of_the_documented_canonical_json():
    event = audit_record(
        action="lot.published",
        object_type="trading.lot",
        object_id="7",
        lot_id=7,
        after={"价格": Decimal("12.50"), "at": T0},
        now=T0,
    )
    expected = (
        '{"action":"lot.published","actor_id":null,"actor_role":"","after":{"at":"2025-03-01T02:00:00.000000Z","价格":"12.50"},'
        '"at":"2025-03-01T02:00:00.000000Z","before":{},"ip":null,"lot_id":7,"object_id":"7","object_type":"trading.lot",'
        f'"prev_hash":"{GENESIS_HASH}","sealed":null,"seq":1}}'
    )
    assert event.hash == hashlib.sha256(expected.encode("utf-8")).hexdigest()
    assert event_hash(AuditEvent.objects.get(seq=1)) == event.hash


def test_canonical_json_refuses_what_it_cannot_write_back_unchanged():
    assert canonical_json({"b": [1.0, Decimal("0.10")], "a": None, 2: True}) == '{"2":true,"a":null,"b":[1,"0.10"]}'
    with pytest.raises(ValueError, match="naive datetime"):
        canonical_json({"at": dt.datetime(2025, 3, 1, 10, 0)})
    with pytest.raises(ValueError, match="cannot go into the audit trail"):
        canonical_json({"x": float("nan")})
    with pytest.raises(TypeError, match="set cannot go into the audit trail"):
        canonical_json({"x": {1, 2}})
    with pytest.raises(ValueError, match="key '1' appears twice"):
        canonical_json({1: "a", "1": "b"})


@pytest.mark.django_db
def test_refused_records_write_nothing():
    _chain(1)
    with pytest.raises(ValueError, match="timezone-aware"):
        audit_record(action="lot.published", now=dt.datetime(2025, 3, 1, 10, 0))
    with pytest.raises(ValueError, match="invalid audit action 'sealed'"):
        audit_record(action="sealed", now=T0)
    with pytest.raises(TypeError):
        audit_record(action="lot.published", after={"x": object()}, now=T0)
    assert list(AuditEvent.objects.values_list("seq", flat=True)) == [1]
    assert _head()[0] == 1


@pytest.mark.django_db
def test_ipv6_is_stored_as_written_back_and_verifies():
    with request_context(ip="2001:DB8:0:0:0:0:0:1"):
        audit_record(action="user.logged_in", now=T0)
    with request_context(ip="::ffff:198.51.100.9"):
        audit_record(action="user.logged_in", now=T0)
    assert list(AuditEvent.objects.order_by("seq").values_list("ip", flat=True)) == ["2001:db8::1", "::ffff:198.51.100.9"]
    assert verify_chain() == VerifyResult(ok=True, checked=2, problems=[])


@pytest.mark.django_db
def test_edited_entry_is_reported():
    _chain(3)
    assert tamper("UPDATE audit_auditevent SET after = %s WHERE seq = 2", ['{"n": 99}']) == 1
    assert AuditEvent.objects.get(seq=2).after == {"n": 99}
    assert verify_chain() == VerifyResult(ok=False, checked=3, problems=["seq 2: hash mismatch (entry edited)"])


@pytest.mark.django_db
def test_edited_entry_with_recomputed_hash_breaks_the_next_link():
    _chain(3)
    forged = AuditEvent.objects.get(seq=2)
    forged.after = {"n": 99}
    assert tamper("UPDATE audit_auditevent SET after = %s, hash = %s WHERE seq = 2", ['{"n": 99}', event_hash(forged)]) == 1
    assert verify_chain() == VerifyResult(ok=False, checked=3, problems=["seq 3: prev_hash does not match seq 2"])


@pytest.mark.django_db
def test_deleted_middle_entries_are_reported():
    _chain(6)
    assert tamper("DELETE FROM audit_auditevent WHERE seq = 2") == 1
    assert tamper("DELETE FROM audit_auditevent WHERE seq IN (4, 5)") == 2
    assert verify_chain() == VerifyResult(
        ok=False, checked=3, problems=["seq 2: missing (entry deleted)", "seq 4-5: missing (2 entries deleted)"]
    )


@pytest.mark.django_db
def test_deleted_tail_is_reported():
    _chain(4)
    assert tamper("DELETE FROM audit_auditevent WHERE seq >= 3") == 2
    assert verify_chain() == VerifyResult(
        ok=False, checked=2, problems=["tail: head says last seq 4 but the last entry is 2 (entries deleted)"]
    )


@pytest.mark.django_db
def test_deleted_everything_is_reported():
    _chain(2)
    assert tamper("DELETE FROM audit_auditevent") == 2
    assert verify_chain() == VerifyResult(
        ok=False, checked=0, problems=["tail: head says last seq 2 but the last entry is 0 (entries deleted)"]
    )


@pytest.mark.django_db
def test_deleted_head_is_reported_and_stops_further_records():
    _chain(2)
    AuditHead.objects.all().delete()
    assert verify_chain() == VerifyResult(ok=False, checked=2, problems=["head: missing (AuditHead row deleted)"])
    with pytest.raises(AuditHeadMissing):
        audit_record(action="lot.published", now=T0)
    assert AuditEvent.objects.count() == 2


@pytest.mark.django_db
def test_empty_trail_without_head_starts_a_new_head():
    AuditHead.objects.all().delete()
    assert verify_chain() == VerifyResult(ok=True, checked=0, problems=[])
    event = audit_record(action="lot.published", now=T0)
    assert (event.seq, event.prev_hash) == (1, GENESIS_HASH)
    assert _head() == (1, event.hash)


@pytest.mark.django_db
def test_head_pointing_elsewhere_is_reported():
    _chain(2)
    AuditHead.objects.filter(pk=1).update(last_hash="f" * 64)
    assert verify_chain() == VerifyResult(ok=False, checked=2, problems=["tail: head's last hash does not match seq 2"])


@pytest.mark.django_db
def test_entry_inserted_behind_the_heads_back_is_reported():
    events = _chain(2)
    forged = AuditEvent(seq=3, at=T0, action="lot.awarded", prev_hash=events[-1].hash)
    forged.hash = event_hash(forged)
    forged.save(force_insert=True)
    assert verify_chain() == VerifyResult(
        ok=False, checked=3, problems=["tail: head says last seq 2 but the last entry is 3 (entries added outside audit_record)"]
    )


@pytest.mark.django_db
def test_problem_list_is_bounded(monkeypatch):
    monkeypatch.setattr("audit.services.MAX_PROBLEMS", 2)
    _chain(4)
    assert tamper("UPDATE audit_auditevent SET action = 'lot.forged'") == 4
    assert verify_chain() == VerifyResult(
        ok=False,
        checked=4,
        problems=["seq 1: hash mismatch (entry edited)", "seq 2: hash mismatch (entry edited)", "... and 2 more problems"],
    )


@pytest.mark.django_db
def test_database_refuses_update_and_delete():
    events = _chain(2)
    before = list(AuditEvent.objects.order_by("seq").values())
    attempts = [
        lambda: AuditEvent.objects.filter(seq=1).update(action="lot.forged"),
        lambda: AuditEvent.objects.filter(seq=2).delete(),
        lambda: events[0].save(),
        lambda: connection.cursor().execute("UPDATE audit_auditevent SET after = '{}' WHERE seq = 1"),
        lambda: connection.cursor().execute("DELETE FROM audit_auditevent"),
    ]
    for attempt in attempts:
        with pytest.raises(IntegrityError, match="audit trail is append-only"), transaction.atomic():
            attempt()
    assert list(AuditEvent.objects.order_by("seq").values()) == before
    assert verify_chain() == VerifyResult(ok=True, checked=2, problems=[])


@pytest.mark.django_db
def test_postgresql_refuses_truncate():
    if connection.vendor != "postgresql":
        pytest.skip("TRUNCATE exists on PostgreSQL only")
    _chain(2)
    with pytest.raises(IntegrityError, match="audit trail is append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("TRUNCATE audit_auditevent")
    assert AuditEvent.objects.count() == 2


@pytest.mark.django_db
def test_sealed_entry_hides_everything_yet_unseals_to_the_original(make_user):
    bidder = make_user("bidder")
    with request_context(ip="198.51.100.20"):
        event = audit_record(
            action="enrolment.created",
            actor=bidder,
            lot_id=5,
            object_type="bidding.enrolment",
            after={"org": 3},
            sealed=True,
            now=T0,
        )
    stored = AuditEvent.objects.get(seq=event.seq)
    row = (
        AuditEvent.objects.filter(seq=event.seq)
        .values("action", "actor_id", "actor_role", "ip", "object_type", "object_id", "lot_id", "before", "after")
        .get()
    )
    assert row == {
        "action": "sealed",
        "actor_id": None,
        "actor_role": "",
        "ip": None,
        "object_type": "",
        "object_id": "",
        "lot_id": None,
        "before": {},
        "after": {},
    }
    blob = bytes(stored.sealed)
    for secret in (b"enrolment", b"bidder", b"198.51.100.20"):
        assert secret not in blob
    assert unseal_event(stored) == {
        "seq": 1,
        "at": dt.datetime(2025, 3, 1, 2, 0, tzinfo=dt.UTC),
        "sealed": True,
        "actor_id": bidder.pk,
        "actor_role": "bidder",
        "ip": "198.51.100.20",
        "action": "enrolment.created",
        "object_type": "bidding.enrolment",
        "object_id": "",
        "lot_id": 5,
        "before": {},
        "after": {"org": 3},
    }
    assert AuditEvent.objects.filter(lot_id=5).count() == 0
    assert verify_chain() == VerifyResult(ok=True, checked=1, problems=[])


@pytest.mark.django_db
def test_swapped_sealed_content_is_reported(make_user):
    bidder = make_user("bidder")
    audit_record(action="enrolment.created", actor=bidder, lot_id=5, sealed=True, now=T0)
    other = audit_record(action="enrolment.created", actor=bidder, lot_id=6, sealed=True, now=T0)
    assert tamper("UPDATE audit_auditevent SET sealed = %s WHERE seq = 1", [bytes(other.sealed)]) == 1
    assert verify_chain() == VerifyResult(ok=False, checked=2, problems=["seq 1: hash mismatch (entry edited)"])


@pytest.mark.django_db
def test_unseal_event_of_an_open_entry_reads_the_row(make_user):
    staff = make_user("staff")
    event = audit_record(action="lot.published", actor=staff, lot_id=3, before={"a": 1}, after={"a": 2}, now=T0)
    assert unseal_event(AuditEvent.objects.get(seq=event.seq)) == {
        "seq": 1,
        "at": dt.datetime(2025, 3, 1, 2, 0, tzinfo=dt.UTC),
        "sealed": False,
        "actor_id": staff.pk,
        "actor_role": "staff",
        "ip": None,
        "action": "lot.published",
        "object_type": "",
        "object_id": "",
        "lot_id": 3,
        "before": {"a": 1},
        "after": {"a": 2},
    }


@pytest.mark.django_db
def test_verify_streams_in_chunks(monkeypatch):
    _chain(5)
    seen = []
    original = QuerySet.iterator

    def spy(queryset, chunk_size=None):
        seen.append((queryset.model, chunk_size, queryset.query.order_by))
        return original(queryset, chunk_size=chunk_size)

    monkeypatch.setattr(QuerySet, "iterator", spy)
    assert verify_chain() == VerifyResult(ok=True, checked=5, problems=[])
    assert seen == [(AuditEvent, 2000, ("seq",))]


@pytest.mark.django_db(transaction=True)
def test_concurrent_records_are_serialised():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite's shared in-memory test database has no row locks to race on")
    start = threading.Barrier(4)
    errors = []

    def writer(n: int) -> None:
        try:
            start.wait()
            for i in range(10):
                with transaction.atomic():
                    audit_record(action="lot.published", lot_id=n, after={"i": i}, now=T0)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == list(range(1, 41))
    assert verify_chain() == VerifyResult(ok=True, checked=40, problems=[])


@pytest.mark.django_db(transaction=True)
def test_flush_empties_the_trail_and_keeps_the_guard():
    _chain(2)
    call_command("flush", interactive=False, verbosity=0)
    assert AuditEvent.objects.count() == 0
    event = audit_record(action="lot.published", now=T0)
    assert (event.seq, event.prev_hash) == (1, GENESIS_HASH)
    with pytest.raises(IntegrityError, match="audit trail is append-only"):
        AuditEvent.objects.filter(seq=1).delete()
    assert AuditEvent.objects.count() == 1
