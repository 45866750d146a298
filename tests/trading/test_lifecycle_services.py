"""Transitions: each guarded, each audited once, and every refusal leaves everything as it was."""

import io
from datetime import datetime, timedelta

import pytest
import time_machine
from django.test import override_settings

from audit.models import AuditEvent
from audit.services import verify_chain
from notices.models import Notice
from tests import factories
from tests.trading.publicity_kit import evaluation_done
from trading import services
from trading.api import DomainError
from trading.models import Lot, Review, TenderDocument
from trading.rules import LOCAL

ISSUED = datetime(2026, 11, 2, 9, tzinfo=LOCAL)


def state(lot):
    """Everything a refused action must leave unchanged."""
    row = Lot.objects.values().get(pk=lot.pk)
    return row, Notice.objects.count(), Review.objects.count(), TenderDocument.objects.count(), AuditEvent.objects.count()


def refused(code, fn, *args, watch=None, **kwargs):
    before = state(watch) if watch is not None else None
    with pytest.raises(DomainError) as error:
        fn(*args, **kwargs)
    assert error.value.code == code
    if watch is not None:
        assert state(watch) == before
    return error.value


@pytest.mark.django_db
def test_registration_review(parties):
    lot = factories.lot(parties, stage="draft")
    refused("not_project_party", services.registration_submit, project=lot.project, actor=parties.other_tenderee, watch=lot)
    refused("not_project_party", services.registration_submit, project=lot.project, actor=parties.staff, watch=lot)
    review = services.registration_submit(project=lot.project, actor=parties.tenderee)
    refused("review_pending", services.registration_submit, project=lot.project, actor=parties.tenderee, watch=lot)
    refused("role_not_allowed", services.registration_decide, review=review, actor=parties.supervisor, accept=True, watch=lot)
    refused(
        "reasons_required", services.registration_decide, review=review, actor=parties.staff, accept=False, reasons=" ", watch=lot
    )

    services.registration_decide(review=review, actor=parties.staff, accept=False, reasons="缺少立项批复")
    lot.refresh_from_db()
    assert (lot.status, Review.objects.get(pk=review.pk).status) == ("draft", "returned")
    refused("review_decided", services.registration_decide, review=review, actor=parties.staff, accept=True, watch=lot)

    again = services.registration_submit(project=lot.project, actor=parties.tenderee)
    services.registration_decide(review=again, actor=parties.staff, accept=True)
    lot.refresh_from_db()
    assert lot.status == "registered"
    assert list(AuditEvent.objects.filter(lot_id=lot.pk, action__startswith="lot.").values_list("action", flat=True)) == [
        "lot.created",
        "lot.registered",
    ]


@pytest.mark.django_db
def test_filing_needs_documents_and_a_lawful_schedule(parties):
    lot = factories.lot(parties, stage="registered")
    now = ISSUED - timedelta(days=1)
    deadline = datetime(2026, 11, 23, 9, 30, tzinfo=LOCAL)
    sale_end = datetime(2026, 11, 9, 17, tzinfo=LOCAL)
    refused(
        "no_documents",
        services.filing_submit,
        lot=lot,
        actor=parties.tenderee,
        docs_sale_end=sale_end,
        bid_deadline=deadline,
        now=now,
    )
    factories.document(lot, parties.tenderee, now)
    error = refused(
        "deadline_too_early",
        services.filing_submit,
        lot=lot,
        actor=parties.tenderee,
        docs_sale_end=now + timedelta(days=2),
        bid_deadline=now + timedelta(days=10),
        now=now,
    )
    assert [b["code"] for b in error.extra["breaches"]] == ["deadline_too_early", "sale_period_too_short"]
    assert error.zh.endswith("（法24）") and error.en.endswith("(法24)")
    review = services.filing_submit(lot=lot, actor=parties.tenderee, docs_sale_end=sale_end, bid_deadline=deadline, now=now)
    services.filing_decide(review=review, actor=parties.staff, accept=True, now=now)
    lot.refresh_from_db()
    assert (lot.status, lot.bid_deadline, lot.docs_sale_end) == ("filed", deadline, sale_end)


@pytest.mark.django_db
def test_transitions_from_the_wrong_state_change_nothing(parties):
    lot = factories.lot(parties, stage="registered")
    refused(
        "invalid_lot_state", services.lot_publish, lot=lot, actor=parties.tenderee, title="t", body="b", now=ISSUED, watch=lot
    )
    refused("invalid_lot_state", services.lot_start_evaluation, lot=lot, actor=parties.staff, watch=lot)
    refused("invalid_lot_state", services.lot_archive, lot=lot, actor=parties.staff, watch=lot)
    refused("invalid_lot_state", services.lot_retender, lot=lot, actor=parties.tenderee, watch=lot)
    refused("invalid_lot_state", services.lot_resume, lot=lot, actor=parties.staff, watch=lot)
    refused("role_not_allowed", services.lot_suspend, lot=lot, actor=parties.tenderee, reason="x", watch=lot)
    refused("not_project_party", services.lot_terminate, lot=lot, actor=parties.bidders[0], reason="x", watch=lot)


@pytest.mark.django_db
def test_pauses_stack_and_lift_in_order(parties):
    lot = factories.lot(parties, stage="published", issued=ISSUED)
    with time_machine.travel(ISSUED + timedelta(days=2), tick=False):
        objection = services.objection_raise(lot=lot, actor=parties.bidders[0], subject="资格条件", content="业绩要求过高")
        lot.refresh_from_db()
        assert (lot.status, lot.suspension_kind, lot.suspended_from) == ("suspended", "objection", "published")
        refused("objection_pending", services.lot_resume, lot=lot, actor=parties.staff, watch=lot)

        services.lot_suspend(lot=lot, actor=parties.supervisor, reason="核查投诉")
        lot.refresh_from_db()
        assert lot.suspension_kind == "supervisor"
        refused("supervisor_pause", services.lot_resume, lot=lot, actor=parties.staff, watch=lot)
        services.lot_resume(lot=lot, actor=parties.supervisor)
        lot.refresh_from_db()
        assert (lot.status, lot.suspension_kind) == ("suspended", "objection")

        refused("not_project_party", services.objection_answer, objection=objection, actor=parties.staff, answer="x", watch=lot)
        services.objection_answer(objection=objection, actor=parties.tenderee, answer="业绩要求符合项目规模")
        lot.refresh_from_db()
        assert (lot.status, lot.suspension_kind, lot.suspended_from) == ("published", "", "")
        refused(
            "objection_answered", services.objection_answer, objection=objection, actor=parties.tenderee, answer="再答", watch=lot
        )


@pytest.mark.django_db
def test_terminate_publishes_a_notice(parties):
    lot = factories.lot(parties, stage="published", issued=ISSUED)
    with time_machine.travel(ISSUED + timedelta(days=1), tick=False):
        refused("reasons_required", services.lot_terminate, lot=lot, actor=parties.tenderee, reason="", watch=lot)
        services.lot_terminate(lot=lot, actor=parties.tenderee, reason="项目取消")
    lot.refresh_from_db()
    assert lot.status == "terminated"
    assert list(Notice.objects.filter(lot=lot).values_list("kind", flat=True)) == ["termination", "tender"]
    refused("invalid_lot_state", services.lot_suspend, lot=lot, actor=parties.staff, reason="x", watch=lot)


@pytest.mark.django_db
def test_failed_lot_is_retendered_once(parties, client_for):
    lot = factories.lot(parties, stage="published", issued=ISSUED)
    factories.enough_bids(parties, lot)
    with time_machine.travel(lot.bid_deadline, tick=False):
        services.sweep_deadlines()
        refused("role_not_allowed", services.lot_fail, lot=lot, actor=parties.tenderee, reason="x", watch=lot)
        response = client_for(parties.staff).post(
            f"/api/lots/{lot.pk}/fail/", {"reasons": "投标人不足3家（条例44）"}, format="json"
        )
        assert (response.status_code, response.json()["status"]) == (200, "failed")
        new = services.lot_retender(lot=lot, actor=parties.tenderee)
        refused("already_retendered", services.lot_retender, lot=lot, actor=parties.tenderee, watch=lot)
    lot.refresh_from_db()
    assert (lot.status, new.status, new.retender_of_id, new.seq) == ("failed", "registered", lot.pk, 2)
    assert new.transaction_code != lot.transaction_code
    assert Notice.objects.filter(lot=lot, kind="failure").count() == 1
    assert verify_chain().ok


@pytest.mark.django_db
def test_every_lot_transition_is_audited_once(parties):
    lot = factories.lot(parties, stage="published", issued=ISSUED)
    factories.enough_bids(parties, lot)
    with time_machine.travel(lot.bid_deadline, tick=False):
        services.sweep_deadlines()
        services.sweep_deadlines()
        refused("opening_not_finished", services.lot_start_evaluation, lot=lot, actor=parties.staff, watch=lot)
    factories.finish_opening(parties, lot)
    with time_machine.travel(lot.bid_deadline + timedelta(minutes=40), tick=False):
        services.lot_start_evaluation(lot=lot, actor=parties.staff)
        evaluation_done(parties, lot, at=lot.bid_deadline + timedelta(minutes=40))
        services.lot_start_publicity(lot=lot, actor=parties.staff)
    lot.refresh_from_db()
    with time_machine.travel(lot.publicity_end + timedelta(seconds=1), tick=False):
        services.sweep_deadlines()
        services.lot_archive(lot=lot, actor=parties.staff)
    actions = list(
        AuditEvent.objects.filter(lot_id=lot.pk, action__startswith="lot.").order_by("seq").values_list("action", flat=True)
    )
    assert actions == [
        "lot.created",
        "lot.registered",
        "lot.filed",
        "lot.published",
        "lot.opening",
        "lot.evaluation_started",
        "lot.publicity_started",
        "lot.awarded",
        "lot.archived",
    ]
    event = AuditEvent.objects.get(lot_id=lot.pk, action="lot.opening")
    assert (event.actor_id, event.before["status"], event.after["status"]) == (None, "published", "opening")


@pytest.mark.django_db
def test_upload_with_the_store_down_is_a_clear_503_and_leaves_nothing(parties, client_for):
    lot = factories.lot(parties, stage="registered")
    before = state(lot)
    with override_settings(S3_ENDPOINT="127.0.0.1:1"), pytest.raises(DomainError) as error:
        services.document_upload(
            lot=lot,
            actor=parties.tenderee,
            filename="a.pdf",
            stream=io.BytesIO(b"x" * 100),
            size=100,
            content_type="application/pdf",
        )
    assert (error.value.code, error.value.status_code) == ("store_unavailable", 503)
    assert state(lot) == before
