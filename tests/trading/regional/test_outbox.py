"""The outbox (trading/regional/outbox.py): a push is written by the audited change itself, in its transaction, rolls
back with it, is numbered without gaps per lot in commit order and signed with the platform's Ed25519 key."""

import base64
import json
from datetime import date

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.db import transaction

from audit.models import AuditEvent
from audit.services import audit_record
from bidding.receipts import canonical, platform_private_key, public_key_pem
from notices.models import Notice
from tests import factories
from tests.locks import lot_then_head_against, pg_only
from tests.trading.regional.kit import envelope, pushes
from trading import services
from trading.models import Lot, RegionalMessage

ISSUED = factories.at(date(2026, 11, 2))  # the factories' default issue moment


def rows(lot) -> list[tuple]:
    return [(m.seq, m.table, m.event) for m in pushes(lot)]


@pytest.mark.django_db
def test_a_push_is_written_by_its_change_and_rolls_back_with_it(parties, monkeypatch):
    lot = factories.lot(parties, stage="filed")
    assert rows(lot) == [(1, "project", "lot.registered"), (2, "lot", "lot.registered"), (3, "lot", "lot.filed")]
    before = (list(RegionalMessage.objects.values()), AuditEvent.objects.count())

    # lot_publish audits lot.published (a push) and then fails on the notice's open-data release: all rolls back.
    def broken(notice):
        raise RuntimeError("release store down")

    monkeypatch.setattr("notices.ocds.release_notice", broken)
    with pytest.raises(RuntimeError):
        services.lot_publish(lot=lot, actor=parties.tenderee, title="招标公告", body="欢迎投标", now=ISSUED)
    assert (list(RegionalMessage.objects.values()), AuditEvent.objects.count()) == before
    assert Lot.objects.get(pk=lot.pk).status == "filed" and not Notice.objects.exists()

    # A change inside an outer transaction that is rolled back later leaves nothing either.
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        services.lot_suspend(lot=lot, actor=parties.staff, reason="核查")
        1 / 0  # noqa: B018
    assert (list(RegionalMessage.objects.values()), AuditEvent.objects.count()) == before

    monkeypatch.undo()
    services.lot_publish(lot=lot, actor=parties.tenderee, title="招标公告", body="欢迎投标", now=ISSUED)
    assert rows(lot)[3:] == [(4, "lot", "lot.published"), (5, "notice", "notice.tender.published")]


@pytest.mark.django_db
def test_seq_is_gap_free_per_lot(parties):
    one = factories.lot(parties, stage="registered")
    two = factories.lot(parties, stage="registered")
    services.lot_suspend(lot=one, actor=parties.staff, reason="核查")
    services.lot_suspend(lot=two, actor=parties.supervisor, reason="监督检查")
    services.lot_resume(lot=one, actor=parties.staff)
    assert rows(one) == [
        (1, "project", "lot.registered"),
        (2, "lot", "lot.registered"),
        (3, "lot", "lot.suspended"),
        (4, "lot", "lot.resumed"),
    ]
    assert rows(two) == [(1, "project", "lot.registered"), (2, "lot", "lot.registered"), (3, "lot", "lot.suspended")]
    assert [envelope(m)["seq"] for m in pushes(one)] == [1, 2, 3, 4]


@pytest.mark.django_db
def test_each_push_is_signed_with_the_platform_key(parties):
    lot = factories.lot(parties, stage="published")
    public = serialization.load_pem_public_key(public_key_pem(platform_private_key()).encode())
    events = {(e.action, e.at) for e in AuditEvent.objects.filter(lot_id=lot.pk)}
    for message in pushes(lot):
        body = message.body.encode()
        public.verify(base64.b64decode(message.signature), body)  # raises if it does not verify
        push = json.loads(body)
        assert canonical(push) == body  # the body is the canonical form: sorted keys, no spaces, UTF-8
        assert set(push) == {"spec", "delivery_id", "centre", "lot", "seq", "table", "event", "occurred_at", "data"}
        assert (push["spec"], push["delivery_id"], push["centre"], push["lot"], push["seq"], push["table"]) == (
            "1.0",
            str(message.id),
            settings.CENTRE_CODE,
            lot.transaction_code,
            message.seq,
            message.table,
        )
        assert push["occurred_at"] == message.created_at.isoformat().replace("+00:00", "Z")
        assert (push["event"], message.created_at) in events
        tampered = body.replace(b'"spec":"1.0"', b'"spec":"1.1"')
        with pytest.raises(InvalidSignature):
            public.verify(base64.b64decode(message.signature), tampered)
    assert len(pushes(lot)) == 5


@pytest.mark.django_db
def test_enrolments_and_sealed_bids_push_nothing(parties):
    """Before the deadline nobody may learn who enrolled or bid (法22): their audit entries are sealed, and a sealed
    entry never reaches the outbox."""
    lot = factories.lot(parties, stage="published")
    before = list(RegionalMessage.objects.values())
    factories.enough_bids(parties, lot)
    assert AuditEvent.objects.filter(action="sealed").count() > 3
    assert list(RegionalMessage.objects.values()) == before


@pg_only
@pytest.mark.django_db(transaction=True)
def test_writing_a_push_takes_no_lock_a_service_could_be_waiting_on():
    """A service locks the lot and then audits (trading.services._move); another transaction audits something about
    the same lot without having locked it (opening_publish_record, draw_run). If the outbox locked the lot after the
    audit head, the two would deadlock; it relies on the head lock alone."""
    parties = factories.Parties.create()
    lot = factories.lot(parties, stage="registered")
    errors = lot_then_head_against(lot, lambda: audit_record(action="lot.resumed", obj=lot, lot_id=lot.pk))
    assert errors == []
    # Numbered in commit order: the head's holder committed first.
    assert rows(lot)[2:] == [(3, "lot", "lot.resumed"), (4, "lot", "lot.suspended")]
