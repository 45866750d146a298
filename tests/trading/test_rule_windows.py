"""Every rule-set window, tested on both sides of its edge by travelling in time.

The services are called without `now=`, so they read the travelled clock. Times are Asia/Shanghai local;
"at least N days between A and B" compares calendar dates (民法典201), so the edges sit at local midnight.
The default rule set is 工程建设项目招标; the 2026 holiday calendar comes from migration 0002.
"""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from audit.models import AuditEvent
from bidding.models import SealedEnrolment
from bidding.services import enrolment_create, enrolments_visible_to
from notices.models import Notice
from tests import factories
from tests.trading.publicity_kit import evaluation_done
from trading import rules, services
from trading.api import DomainError
from trading.models import CalendarDay, Lot, Objection, RuleSet, TenderProject
from trading.rules import LOCAL

ZERO_SWEEP = {"tendering": 0, "opening": 0, "unsealed": 0, "publicity": 0, "awarded": 0}
# The default lot below: documents issued Wednesday 4 November 2026 at 09:30, filed the day before.
ISSUED = datetime(2026, 11, 4, 9, 30, tzinfo=LOCAL)


def local(*args) -> datetime:
    return datetime(*args, tzinfo=LOCAL)


def travel(moment: datetime):
    return time_machine.travel(moment, tick=False)


def state(lot: Lot) -> dict:
    """Everything a refused action must leave untouched."""
    row = Lot.objects.filter(pk=lot.pk).values(
        "status",
        "suspended_from",
        "suspension_kind",
        "status_changed_at",
        "docs_issued_at",
        "docs_sale_end",
        "bid_deadline",
        "publicity_end",
        "enrolments_unsealed_at",
    )
    return {
        **row.get(),
        "lots": Lot.objects.count(),
        "notices": Notice.objects.filter(lot=lot).count(),
        "objections": Objection.objects.filter(lot=lot).count(),
        "sealed_enrolments": SealedEnrolment.objects.count(),
        "audit_events": AuditEvent.objects.count(),
    }


def audit_count(action: str, lot: Lot) -> int:
    return AuditEvent.objects.filter(action=action, lot_id=lot.pk).count()


def publish(lot: Lot, parties) -> Lot:
    lot, _ = services.lot_publish(lot=lot, actor=parties.tenderee, title="招标公告", body="欢迎投标")
    return lot


def enrol(lot: Lot, bidder) -> dict:
    return enrolment_create(lot=lot, actor=bidder, contact_name="张三", contact_phone="13800000000")


def raise_objection(lot: Lot, parties) -> Objection:
    return services.objection_raise(lot=lot, actor=parties.bidders[0], subject="评分标准", content="评分标准有倾向性")


def status(lot: Lot) -> str:
    return Lot.objects.values_list("status", flat=True).get(pk=lot.pk)


# --- 1. 法24: 20 days from issuing the documents to the bid deadline ------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("deadline_days", "publish_at"),
    [
        (20, ISSUED),  # Wednesday 4 Nov → Tuesday 24 Nov: 20 days
        (20, local(2026, 11, 4, 23, 59, 59)),  # less than 20 × 24 hours, still 20 calendar days
    ],
)
def test_publish_20_days_before_the_deadline_is_allowed(parties, deadline_days, publish_at):
    lot = factories.lot(parties, stage="filed", issued=ISSUED, deadline_days=deadline_days)
    assert lot.bid_deadline == local(2026, 11, 24, 9, 30)

    with travel(publish_at):
        lot = publish(lot, parties)

    assert (lot.status, lot.docs_issued_at, lot.bid_deadline) == ("published", publish_at, local(2026, 11, 24, 9, 30))
    assert list(Notice.objects.filter(lot=lot).values_list("kind", "published_at")) == [("tender", publish_at)]
    assert audit_count("lot.published", lot) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("deadline_days", "publish_at", "deadline"),
    [
        (19, ISSUED, local(2026, 11, 23, 9, 30)),  # Wednesday 4 Nov → Monday 23 Nov: 19 days
        (20, local(2026, 11, 5, 0, 0), local(2026, 11, 24, 9, 30)),  # published one calendar day late: 19 days
    ],
)
def test_publish_19_days_before_the_deadline_is_refused(parties, deadline_days, publish_at, deadline):
    lot = factories.lot(parties, stage="filed", issued=ISSUED, deadline_days=deadline_days)
    assert lot.bid_deadline == deadline
    before = state(lot)

    with travel(publish_at), pytest.raises(DomainError) as refused:
        publish(lot, parties)

    assert refused.value.code == "deadline_too_early"
    assert [b["code"] for b in refused.value.extra["breaches"]] == ["deadline_too_early"]
    assert state(lot) == before
    assert before["status"] == "filed" and before["docs_issued_at"] is None and before["notices"] == 0


# --- 2. 条例16: a sale period of at least 5 days ---------------------------------------------------


@pytest.mark.django_db
def test_publish_with_a_5_day_sale_period_is_allowed(parties):
    lot = factories.lot(parties, stage="filed", issued=ISSUED, sale_days=5)
    assert lot.docs_sale_end == local(2026, 11, 9, 17, 0)

    with travel(ISSUED):
        lot = publish(lot, parties)

    assert (lot.status, lot.docs_issued_at, lot.docs_sale_end) == ("published", ISSUED, local(2026, 11, 9, 17, 0))


@pytest.mark.django_db
def test_publish_with_a_4_day_sale_period_is_refused(parties):
    lot = factories.lot(parties, stage="filed", issued=ISSUED, sale_days=4)
    assert lot.docs_sale_end == local(2026, 11, 8, 17, 0)
    before = state(lot)

    with travel(ISSUED), pytest.raises(DomainError) as refused:
        publish(lot, parties)

    assert refused.value.code == "sale_period_too_short"
    assert [b["code"] for b in refused.value.extra["breaches"]] == ["sale_period_too_short"]
    assert state(lot) == before


# --- 3. Enrolment closes at docs_sale_end; the sweep then moves the lot to tendering ---------------


@pytest.mark.django_db
def test_enrolment_at_the_sale_end_instant_is_allowed(parties):
    lot = factories.lot(parties, stage="published", issued=ISSUED)
    sale_end = local(2026, 11, 11, 17, 0)
    assert lot.docs_sale_end == sale_end

    with travel(sale_end):
        payload = enrol(lot, parties.bidders[0])

    assert (payload["org"], datetime.fromisoformat(payload["enrolled_at"])) == (parties.bidders[0].organisation_id, sale_end)
    assert SealedEnrolment.objects.count() == 1


@pytest.mark.django_db
def test_enrolment_one_second_after_the_sale_end_is_refused(parties):
    lot = factories.lot(parties, stage="published", issued=ISSUED)
    before = state(lot)

    with travel(local(2026, 11, 11, 17, 0, 1)), pytest.raises(DomainError) as refused:
        enrol(lot, parties.bidders[0])

    assert refused.value.code == "enrolment_closed"
    assert state(lot) == before
    assert before["sealed_enrolments"] == 0


@pytest.mark.django_db
def test_sweep_moves_to_tendering_once_the_sale_end_has_passed_and_only_once(parties):
    lot = factories.lot(parties, stage="published", issued=ISSUED)

    with travel(local(2026, 11, 11, 16, 59, 59)):
        assert services.sweep_deadlines() == ZERO_SWEEP
    assert status(lot) == "published"

    after = local(2026, 11, 11, 17, 0, 1)
    with travel(after):
        assert services.sweep_deadlines() == {**ZERO_SWEEP, "tendering": 1}
    lot.refresh_from_db()
    assert (lot.status, lot.status_changed_at) == ("tendering", after)

    with travel(local(2026, 11, 11, 17, 5)):
        assert services.sweep_deadlines() == ZERO_SWEEP
    lot.refresh_from_db()
    assert (lot.status, lot.status_changed_at) == ("tendering", after)
    assert AuditEvent.objects.filter(action="lot.tendering", lot_id=lot.pk).count() == 1


@pytest.mark.django_db
def test_sweep_at_the_sale_end_instant_leaves_enrolment_open(parties):
    """The sale end is the last instant of enrolment (enrolment_create refuses only `now > docs_sale_end`),
    so a beat that happens to run at that instant must not close enrolment before the bidder's request."""
    lot = factories.lot(parties, stage="published", issued=ISSUED)

    with travel(lot.docs_sale_end):
        assert services.sweep_deadlines() == ZERO_SWEEP
        assert status(lot) == "published"
        enrol(lot, parties.bidders[0])

    assert SealedEnrolment.objects.count() == 1


# --- 4. 条例21: a clarification that may affect bids leaves at least 15 days --------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("issued", "clarified_at", "affects_bids", "deadline", "new_deadline"),
    [
        # Deadline Wednesday 25 November 09:30.
        pytest.param(ISSUED, local(2026, 11, 10, 23, 59, 59), True, local(2026, 11, 25, 9, 30), None, id="15-days"),
        pytest.param(
            ISSUED, local(2026, 11, 11, 0, 0), True, local(2026, 11, 25, 9, 30), local(2026, 11, 26, 9, 30), id="14-days"
        ),
        # Friday 13 November + 15 = Saturday 28 November → Monday 30 November.
        pytest.param(
            ISSUED, local(2026, 11, 13, 10, 0), True, local(2026, 11, 25, 9, 30), local(2026, 11, 30, 9, 30), id="weekend"
        ),
        pytest.param(ISSUED, local(2026, 11, 22, 10, 0), False, local(2026, 11, 25, 9, 30), None, id="no-effect-3-days"),
        # Deadline Wednesday 30 September. 16 September + 15 = 1 October (国庆节 1-7 October) → Thursday 8 October.
        pytest.param(
            local(2026, 9, 9, 9, 30),
            local(2026, 9, 16, 10, 0),
            True,
            local(2026, 9, 30, 9, 30),
            local(2026, 10, 8, 9, 30),
            id="national-day",
        ),
        # 25 September + 15 = Saturday 10 October, a make-up working day (调休上班): no roll-over.
        pytest.param(
            local(2026, 9, 9, 9, 30),
            local(2026, 9, 25, 10, 0),
            True,
            local(2026, 9, 30, 9, 30),
            local(2026, 10, 10, 9, 30),
            id="make-up-saturday",
        ),
    ],
)
def test_clarification_deadline(parties, issued, clarified_at, affects_bids, deadline, new_deadline):
    lot = factories.lot(parties, stage="published", issued=issued)
    assert lot.bid_deadline == deadline
    expected = new_deadline or deadline

    with travel(clarified_at):
        notice = services.clarification_publish(
            lot=lot, actor=parties.tenderee, title="澄清公告", body="工程量清单更正", affects_bids=affects_bids
        )

    lot.refresh_from_db()
    assert lot.bid_deadline == expected
    notice.refresh_from_db()
    assert (notice.kind, notice.published_at, notice.affects_bids) == ("clarification", clarified_at, affects_bids)
    assert (notice.deadline_before, notice.deadline_after) == (deadline, expected)
    assert audit_count("lot.deadline_moved", lot) == (1 if new_deadline else 0)


# --- 5. 条例22: objections up to 10 days before the deadline, answered within 3 days ----------------


@pytest.mark.django_db
def test_objection_10_days_before_the_deadline_is_accepted_and_suspends_the_lot(parties):
    lot = factories.lot(parties, stage="published", issued=ISSUED)
    assert lot.bid_deadline == local(2026, 11, 25, 9, 30)
    raised_at = local(2026, 11, 15, 23, 59, 59)  # Sunday, the last moment 10 calendar days before

    with travel(raised_at):
        objection = raise_objection(lot, parties)

    assert (objection.status, objection.raised_at) == ("pending", raised_at)
    assert objection.answer_due == local(2026, 11, 18, 23, 59, 59)
    lot.refresh_from_db()
    assert (lot.status, lot.suspended_from, lot.suspension_kind) == ("suspended", "published", "objection")
    assert lot.bid_deadline == local(2026, 11, 25, 9, 30)


@pytest.mark.django_db
def test_objection_9_days_before_the_deadline_is_refused(parties):
    lot = factories.lot(parties, stage="published", issued=ISSUED)
    before = state(lot)

    with travel(local(2026, 11, 16, 0, 0)), pytest.raises(DomainError) as refused:
        raise_objection(lot, parties)

    assert refused.value.code == "objection_window_closed"
    assert state(lot) == before
    assert (before["status"], before["objections"]) == ("published", 0)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("raised_at", "answer_due", "previous"),
    [
        # Monday: + 3 = Thursday, a working day.
        (local(2026, 11, 9, 10, 0), local(2026, 11, 12, 23, 59, 59), "published"),
        # Wednesday: + 3 = Saturday → Monday. The sale ended on Monday 9 November, so the lot is tendering.
        (local(2026, 11, 11, 10, 0), local(2026, 11, 16, 23, 59, 59), "tendering"),
    ],
)
def test_objection_answer_due_and_resume(parties, raised_at, answer_due, previous):
    lot = factories.lot(parties, stage="published", issued=ISSUED, sale_days=5)
    with travel(raised_at):
        services.sweep_deadlines()
        assert status(lot) == previous
        objection = raise_objection(lot, parties)
    assert objection.answer_due == answer_due
    lot.refresh_from_db()
    assert (lot.status, lot.suspended_from, lot.suspension_kind) == ("suspended", previous, "objection")

    answered_at = raised_at + timedelta(days=1)
    with travel(answered_at):
        services.objection_answer(objection=objection, actor=parties.tenderee, answer="评分标准已修改")

    objection.refresh_from_db()
    assert (objection.status, objection.answered_at) == ("answered", answered_at)
    lot.refresh_from_db()
    assert (lot.status, lot.suspended_from, lot.suspension_kind, lot.status_changed_at) == (previous, "", "", answered_at)
    assert audit_count("lot.resumed", lot) == 1


# --- 6. 法34: the opening happens at the bid deadline, and unseals the enrolment list ------------------


@pytest.mark.django_db
def test_opening_at_the_deadline_unseals_the_enrolments(parties):
    lot = factories.lot(parties, stage="published", issued=ISSUED)
    deadline = local(2026, 11, 25, 9, 30)
    assert lot.bid_deadline == deadline
    with travel(local(2026, 11, 5, 10, 0)):
        enrol(lot, parties.bidders[0])

    with travel(deadline - timedelta(microseconds=1)):
        assert services.sweep_deadlines() == {**ZERO_SWEEP, "tendering": 1}
    lot.refresh_from_db()
    assert (lot.status, lot.enrolments_unsealed_at) == ("tendering", None)
    for label, user in parties.every_role(include_anonymous=False):
        with pytest.raises(DomainError) as sealed:
            enrolments_visible_to(user=user, lot=lot)
        assert sealed.value.code == "enrolment_sealed", label

    with travel(deadline):
        assert services.sweep_deadlines() == {**ZERO_SWEEP, "opening": 1, "unsealed": 1}
    lot.refresh_from_db()
    # No bids at all: opened and at once failed (条例44); the lists are open all the same.
    assert (lot.status, lot.status_changed_at, lot.enrolments_unsealed_at) == ("failed", deadline, deadline)

    def visible(user):
        return list(enrolments_visible_to(user=user, lot=lot).values_list("bidder_id", flat=True))

    enrolled = [parties.bidders[0].organisation_id]
    assert visible(parties.staff) == enrolled
    assert visible(parties.supervisor) == enrolled
    assert visible(parties.tenderee) == enrolled
    assert visible(parties.bidders[0]) == enrolled
    assert visible(parties.bidders[1]) == []
    assert visible(parties.other_tenderee) == []


# --- 7. 条例26: the bond is at most 2% of the estimated price -------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("estimated_price", "bond", "code"),
    [
        ("38000000.00", "760000.00", None),
        ("38000000.00", "760000.01", "bond_above_cap"),
        # 2% of 1 234 567.89 is 24 691.3578: the cap is 24 691.35, never rounded up.
        ("1234567.89", "24691.35", None),
        ("1234567.89", "24691.36", "bond_above_cap"),
    ],
)
def test_bond_cap(parties, estimated_price, bond, code):
    created_at = local(2026, 11, 2, 10, 0)
    with travel(created_at):
        project = services.project_create(
            actor=parties.tenderee, code="GX-2026-007", name="某县道路工程", rule_set=factories.rule_set(), region_code="450102"
        )
        lots_before, events_before = Lot.objects.count(), AuditEvent.objects.count()
        create = dict(
            actor=parties.tenderee,
            project=project,
            name="一标段",
            estimated_price=Decimal(estimated_price),
            bond_amount=Decimal(bond),
        )
        if code is None:
            lot = services.lot_create(**create)
        else:
            with pytest.raises(DomainError) as refused:
                services.lot_create(**create)

    if code is None:
        assert (lot.bond_amount, lot.estimated_price, lot.status) == (Decimal(bond), Decimal(estimated_price), "draft")
        assert lot.transaction_code.startswith(parties.tenderee.organisation.credit_code + "20261102001")
        assert Lot.objects.count() == lots_before + 1
    else:
        assert refused.value.code == code
        assert (Lot.objects.count(), AuditEvent.objects.count()) == (lots_before, events_before)
        assert not project.lots.exists()


# --- 8. 条例44: at least 3 bids to open ---------------------------------------------------------------


@pytest.mark.django_db
def test_enough_bids():
    construction = factories.rule_set()
    assert rules.enough_bids(construction, 3) is True
    assert rules.enough_bids(construction, 2) is False


# --- 9. 条例54: candidate publicity of at least 3 days ---------------------------------------------------


def lot_in_publicity(parties, started_at: datetime) -> Lot:
    """A published lot opened at its deadline (Wednesday 25 November 09:30), evaluated, then publicised."""
    lot = factories.lot(parties, stage="published", issued=ISSUED)
    factories.enough_bids(parties, lot)
    with travel(lot.bid_deadline):
        assert services.sweep_deadlines()["opening"] == 1
    factories.finish_opening(parties, lot)
    with travel(lot.bid_deadline + timedelta(hours=1)):
        services.lot_start_evaluation(lot=lot, actor=parties.staff)
    evaluation_done(parties, lot, at=lot.bid_deadline + timedelta(hours=5))
    with travel(started_at):
        return services.lot_start_publicity(lot=lot, actor=parties.staff)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("started_at", "publicity_end"),
    [
        # Thursday + 3 = Sunday → Monday 30 November.
        (local(2026, 11, 26, 10, 0), local(2026, 11, 30, 23, 59, 59)),
        # Friday + 3 = Monday.
        (local(2026, 11, 27, 10, 0), local(2026, 11, 30, 23, 59, 59)),
        # Wednesday (the opening day) + 3 = Saturday → Monday.
        (local(2026, 11, 25, 16, 0), local(2026, 11, 30, 23, 59, 59)),
        # Monday + 3 = Thursday.
        (local(2026, 11, 30, 10, 0), local(2026, 12, 3, 23, 59, 59)),
    ],
)
def test_publicity_end(parties, started_at, publicity_end):
    lot = lot_in_publicity(parties, started_at)
    assert (lot.status, lot.publicity_start, lot.publicity_end) == ("publicity", started_at, publicity_end)


@pytest.mark.django_db
def test_sweep_awards_once_publicity_is_over(parties):
    lot = lot_in_publicity(parties, local(2026, 11, 26, 10, 0))
    assert lot.publicity_end == local(2026, 11, 30, 23, 59, 59)

    with travel(local(2026, 11, 30, 23, 59, 58)):
        assert services.sweep_deadlines() == ZERO_SWEEP
    assert status(lot) == "publicity"

    with travel(local(2026, 12, 1, 0, 0)):
        assert services.sweep_deadlines() == {**ZERO_SWEEP, "awarded": 1}
        assert services.sweep_deadlines() == ZERO_SWEEP
    lot.refresh_from_db()
    assert (lot.status, lot.status_changed_at) == ("awarded", local(2026, 12, 1, 0, 0))
    assert audit_count("lot.awarded", lot) == 1


@pytest.mark.django_db
def test_sweep_at_the_last_second_of_publicity_does_not_award(parties):
    """publicity_end is the last instant of the 3rd day (rules.end_of_period), i.e. still inside the period."""
    lot = lot_in_publicity(parties, local(2026, 11, 26, 10, 0))

    with travel(lot.publicity_end):
        assert services.sweep_deadlines() == ZERO_SWEEP
    assert status(lot) == "publicity"


@pytest.mark.django_db
def test_pending_objection_holds_the_award(parties):
    lot = lot_in_publicity(parties, local(2026, 11, 26, 10, 0))
    # There is no service for publicity objections yet: the row is written directly.
    objection = Objection.objects.create(
        lot=lot,
        subject="中标候选人业绩造假",
        content="第一中标候选人业绩不实",
        raised_at=local(2026, 11, 27, 10, 0),
        answer_due=local(2026, 11, 30, 23, 59, 59),
        raiser_sealed=b"",
        raiser_index="test",
    )

    with travel(local(2026, 12, 1, 0, 0)):
        assert services.sweep_deadlines() == ZERO_SWEEP
    assert status(lot) == "publicity"

    with travel(local(2026, 12, 1, 10, 0)):
        services.objection_answer(objection=objection, actor=parties.tenderee, answer="经核查业绩属实")
        assert status(lot) == "publicity"
        assert services.sweep_deadlines() == {**ZERO_SWEEP, "awarded": 1}
    assert status(lot) == "awarded"


# --- 10. The holiday calendar is data ------------------------------------------------------------------


@pytest.mark.django_db
def test_working_days_follow_the_calendar():
    assert rules.is_working_day(date(2026, 10, 1)) is False  # 国庆节
    assert rules.is_working_day(date(2026, 10, 10)) is True  # Saturday, 调休上班
    assert rules.is_working_day(date(2026, 11, 7)) is False  # an ordinary Saturday
    assert rules.is_working_day(date(2026, 11, 9)) is True  # an ordinary Monday
    assert rules.next_working_day(date(2026, 10, 1)) == date(2026, 10, 8)


@pytest.mark.django_db
def test_adding_a_calendar_day_changes_the_answer():
    assert rules.is_working_day(date(2026, 12, 31)) is True  # a Thursday
    assert rules.is_working_day(date(2026, 12, 26)) is False  # a Saturday

    CalendarDay.objects.create(date=date(2026, 12, 31), is_working_day=False, name="临时休息")
    CalendarDay.objects.create(date=date(2026, 12, 26), is_working_day=True, name="调休上班")

    assert rules.is_working_day(date(2026, 12, 31)) is False
    assert rules.is_working_day(date(2026, 12, 26)) is True
    assert rules.next_working_day(date(2026, 12, 31)) == date(2027, 1, 1)  # no 2027 calendar yet: a Friday
    assert rules.next_working_day(date(2026, 12, 25)) == date(2026, 12, 25)


@pytest.mark.django_db
def test_a_calendar_holiday_moves_the_objection_answer_due(parties):
    lot = factories.lot(parties, stage="published", issued=ISSUED)
    CalendarDay.objects.create(date=date(2026, 11, 12), is_working_day=False, name="临时休息")

    with travel(local(2026, 11, 9, 10, 0)):  # Monday + 3 = Thursday 12 November, now a holiday → Friday
        objection = raise_objection(lot, parties)

    assert objection.answer_due == local(2026, 11, 13, 23, 59, 59)


# --- 11. The numbers live in the rule set -----------------------------------------------------------------


@pytest.mark.django_db
def test_a_longer_rule_set_window_refuses_the_20_day_schedule(parties):
    lot = factories.lot(parties, stage="filed", issued=ISSUED, deadline_days=20)
    slow = RuleSet.objects.create(code="long-notice", name="长公告期", doc_to_deadline_days=30)
    TenderProject.objects.filter(pk=lot.project_id).update(rule_set=slow)
    before = state(lot)

    with travel(ISSUED), pytest.raises(DomainError) as refused:
        publish(lot, parties)

    assert refused.value.code == "deadline_too_early"
    assert refused.value.zh == "自招标文件发出之日起至投标截止之日止不得少于30日（法24）"
    assert state(lot) == before


@pytest.mark.django_db
def test_every_window_reads_its_rule_set():
    issued, deadline = local(2026, 11, 4, 9, 30), local(2026, 11, 25, 9, 30)  # 21 days
    default, custom = (
        RuleSet(),
        RuleSet(
            doc_to_deadline_days=22,
            doc_sale_min_days=8,
            clarification_min_days=20,
            objection_cutoff_days=12,
            objection_answer_days=5,
            bond_cap_percent=Decimal("1"),
            min_bids=5,
            publicity_min_days=7,
            roll_over_non_working=False,
        ),
    )
    sale_end = local(2026, 11, 11, 17, 0)  # 7 days

    def schedule(rule_set):
        return [b.code for b in rules.tender_schedule_breaches(rule_set, issued_at=issued, sale_end=sale_end, deadline=deadline)]

    assert schedule(default) == []
    assert schedule(custom) == ["deadline_too_early", "sale_period_too_short"]

    clarified = local(2026, 11, 9, 10, 0)  # 16 days before
    assert rules.deadline_after_clarification(default, issued_at=clarified, deadline=deadline, affects_bids=True) == deadline
    assert rules.deadline_after_clarification(custom, issued_at=clarified, deadline=deadline, affects_bids=True) == local(
        2026, 11, 30, 9, 30
    )  # 9 November + 20 = Sunday 29 → Monday 30 (openings stay on working days)

    objected = local(2026, 11, 14, 10, 0)  # 11 days before
    assert rules.objection_breach(default, raised_at=objected, deadline=deadline) is None
    assert rules.objection_breach(custom, raised_at=objected, deadline=deadline).code == "objection_window_closed"

    received = local(2026, 11, 9, 10, 0)  # Monday
    assert rules.objection_answer_due(default, raised_at=received) == local(2026, 11, 12, 23, 59, 59)
    assert rules.objection_answer_due(custom, raised_at=received) == local(2026, 11, 14, 23, 59, 59)  # a Saturday, not rolled

    assert rules.bond_breach(default, estimated_price=Decimal("1000000"), bond_amount=Decimal("20000")) is None
    assert rules.bond_breach(custom, estimated_price=Decimal("1000000"), bond_amount=Decimal("20000")).code == "bond_above_cap"
    assert rules.bond_breach(custom, estimated_price=Decimal("1000000"), bond_amount=Decimal("10000")) is None

    assert rules.enough_bids(default, 4) is True
    assert rules.enough_bids(custom, 4) is False
    assert rules.enough_bids(custom, 5) is True

    assert rules.publicity_end(default, start=received) == local(2026, 11, 12, 23, 59, 59)
    assert rules.publicity_end(custom, start=received) == local(2026, 11, 16, 23, 59, 59)
