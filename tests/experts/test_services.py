from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from audit.models import AuditEvent
from experts import services
from experts.models import Expert, ExpertInterest, ExpertUnavailability, PerformanceRecord, Specialty
from tests import factories
from tests.experts.conftest import make_expert
from trading.api import DomainError
from trading.rules import LOCAL

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=LOCAL)
TODAY = date(2026, 12, 1)


def _state(expert):
    row = Expert.objects.values("status", "status_reason", "status_until", "status_changed_at").get(pk=expert.pk)
    return row, AuditEvent.objects.count()


def test_suspend_blacklist_reinstate_are_audited(parties, tree):
    expert = make_expert("E1", tree["A0801"])

    services.expert_suspend(expert=expert, actor=parties.staff, reason="两次无故缺席", until=date(2027, 3, 1), now=NOW)
    expert.refresh_from_db()
    assert (expert.status, expert.status_reason, expert.status_until, expert.status_changed_at) == (
        "suspended",
        "两次无故缺席",
        date(2027, 3, 1),
        NOW,
    )
    event = AuditEvent.objects.get(action="expert.suspended")
    assert (event.actor_id, event.object_type, event.object_id) == (parties.staff.pk, "experts.expert", str(expert.pk))
    assert event.before == {"status": "active", "status_reason": "", "status_until": None}
    assert event.after == {"status": "suspended", "status_reason": "两次无故缺席", "status_until": "2027-03-01"}

    services.expert_blacklist(expert=expert, actor=parties.staff, reason="收受财物", now=NOW)
    expert.refresh_from_db()
    assert (expert.status, expert.status_until) == ("blacklisted", None)
    assert AuditEvent.objects.get(action="expert.blacklisted").before["status"] == "suspended"

    services.expert_reinstate(expert=expert, actor=parties.staff, reason="复议撤销", now=NOW)
    expert.refresh_from_db()
    assert (expert.status, expert.status_reason, expert.status_until) == ("active", "复议撤销", None)
    assert AuditEvent.objects.get(action="expert.reinstated").after == {
        "status": "active",
        "status_reason": "复议撤销",
        "status_until": None,
    }
    assert Expert.objects.eligible_on(TODAY).filter(pk=expert.pk).exists()


@pytest.mark.parametrize(
    ("who", "call", "code", "status_code"),
    [
        ("supervisor", lambda e, a: services.expert_suspend(expert=e, actor=a, reason="x", now=NOW), "role_not_allowed", 403),
        ("expert", lambda e, a: services.expert_blacklist(expert=e, actor=a, reason="x", now=NOW), "role_not_allowed", 403),
        ("tenderee", lambda e, a: services.expert_suspend(expert=e, actor=a, reason="x", now=NOW), "role_not_allowed", 403),
        ("staff", lambda e, a: services.expert_suspend(expert=e, actor=a, reason="  ", now=NOW), "status_reason_required", 400),
        (
            "staff",
            lambda e, a: services.expert_suspend(expert=e, actor=a, reason="x", until=TODAY - timedelta(days=1), now=NOW),
            "status_until_past",
            400,
        ),
        ("staff", lambda e, a: services.expert_reinstate(expert=e, actor=a, now=NOW), "expert_already_active", 409),
    ],
)
def test_refused_status_changes_change_nothing(parties, tree, who, call, code, status_code):
    expert = make_expert("E1", tree["A0801"])
    before = _state(expert)
    with pytest.raises(DomainError) as refused:
        call(expert, getattr(parties, who))
    assert (refused.value.code, refused.value.status_code) == (code, status_code)
    assert _state(expert) == before


def test_a_blacklisted_expert_is_not_quietly_downgraded_to_suspended(parties, tree):
    expert = make_expert("E1", tree["A0801"])
    services.expert_blacklist(expert=expert, actor=parties.staff, reason="串通投标", now=NOW)
    before = _state(expert)
    with pytest.raises(DomainError) as refused:
        services.expert_suspend(expert=expert, actor=parties.staff, reason="x", until=date(2027, 1, 1), now=NOW)
    assert refused.value.code == "expert_blacklisted"
    assert _state(expert) == before


def test_record_performance(parties, tree):
    expert = make_expert("E1", tree["A0801"])
    lot = factories.lot(parties)
    record = services.record_performance(
        expert=expert,
        actor=parties.staff,
        lot=lot,
        attended=True,
        late_minutes=15,
        score_deviation=Decimal("23.50"),
        complaints=1,
        note="迟到",
        now=NOW,
    )
    assert list(
        expert.performance.values_list("late_minutes", "score_deviation", "complaints", "recorded_by", "recorded_at")
    ) == [(15, Decimal("23.50"), 1, parties.staff.pk, NOW)]
    event = AuditEvent.objects.get(action="expert.performance_recorded")
    assert (event.object_id, event.lot_id, event.after["score_deviation"]) == (str(record.pk), lot.pk, "23.50")

    count = AuditEvent.objects.count()
    with pytest.raises(DomainError) as twice:
        services.record_performance(expert=expert, actor=parties.staff, lot=lot, attended=True, now=NOW)
    assert twice.value.code == "performance_already_recorded"
    with pytest.raises(DomainError) as absent_late:
        services.record_performance(expert=expert, actor=parties.staff, attended=False, late_minutes=5, now=NOW)
    assert absent_late.value.code == "late_but_absent"
    with pytest.raises(DomainError) as supervisor:
        services.record_performance(expert=expert, actor=parties.supervisor, attended=True, now=NOW)
    assert supervisor.value.code == "role_not_allowed"
    assert (PerformanceRecord.objects.count(), AuditEvent.objects.count()) == (1, count)


def test_expert_keeps_own_unavailability_and_interests(parties, tree, own_expert):
    other = make_expert("E2", tree["A0801"])
    start = NOW + timedelta(days=2)
    item = services.unavailability_create(
        expert=own_expert, actor=parties.expert, start=start, end=start + timedelta(days=3), reason="出差"
    )
    interest = services.interest_create(
        expert=own_expert,
        actor=parties.expert,
        kind="relative",
        organisation_credit_code=parties.bidders[0].organisation.credit_code.lower(),
    )
    assert interest.organisation_credit_code == parties.bidders[0].organisation.credit_code  # stored upper-case
    assert [e.action for e in AuditEvent.objects.order_by("seq")] == ["expert.unavailability_added", "expert.interest_declared"]

    count = AuditEvent.objects.count()
    for call, code in [
        (
            lambda: services.unavailability_create(
                expert=other, actor=parties.expert, start=start, end=start + timedelta(days=1)
            ),
            "not_own_expert_record",
        ),
        (
            lambda: services.interest_create(expert=other, actor=parties.expert, kind="other", person_name="某人"),
            "not_own_expert_record",
        ),
        (
            lambda: services.unavailability_create(
                expert=own_expert, actor=parties.supervisor, start=start, end=start + timedelta(days=1)
            ),
            "role_not_allowed",
        ),
        (
            lambda: services.unavailability_create(expert=own_expert, actor=parties.expert, start=start, end=start),
            "unavailability_end_before_start",
        ),
        (
            lambda: services.interest_create(
                expert=own_expert, actor=parties.expert, kind="other", organisation_credit_code="91450102000000000A"
            ),
            "invalid_credit_code",
        ),
        (lambda: services.interest_create(expert=own_expert, actor=parties.expert, kind="other"), "interest_names_nobody"),
        (
            lambda: services.interest_create(expert=own_expert, actor=parties.expert, kind="friend", person_name="x"),
            "invalid_interest_kind",
        ),
    ]:
        with pytest.raises(DomainError) as refused:
            call()
        assert refused.value.code == code
    assert (ExpertUnavailability.objects.count(), ExpertInterest.objects.count(), AuditEvent.objects.count()) == (1, 1, count)

    services.unavailability_delete(item=item, actor=parties.staff)
    services.interest_delete(item=interest, actor=parties.expert)
    assert (ExpertUnavailability.objects.count(), ExpertInterest.objects.count()) == (0, 0)
    assert list(AuditEvent.objects.filter(seq__gt=count).values_list("action", flat=True)) == [
        "expert.unavailability_removed",
        "expert.interest_withdrawn",
    ]


def test_specialty_parent_follows_the_code(parties, tree):
    made = services.specialty_save(specialty=Specialty(code="A080102", name="公共建筑"), actor=parties.staff)
    assert made.parent == tree["A0801"]
    top = services.specialty_save(specialty=Specialty(code="C01", name="服务"), actor=parties.staff)
    assert top.parent is None
    with pytest.raises(DomainError) as orphan:
        services.specialty_save(specialty=Specialty(code="C0201", name="孤儿"), actor=parties.staff)
    assert orphan.value.code == "specialty_parent_missing"
    with pytest.raises(DomainError) as bad:
        services.specialty_save(specialty=Specialty(code="a08x", name="坏"), actor=parties.staff)
    assert bad.value.code == "invalid_specialty"
    assert not Specialty.objects.filter(code__in=["C0201", "a08x"]).exists()
