"""Avoidance (回避) by construction: each rule removes exactly the experts it names from the eligible list."""

from datetime import date, timedelta

import pytest
import time_machine

from evaluation import services
from evaluation.models import DrawnExpert, MemberStatus
from evaluation.selectors import bidder_credit_codes, eligible_ids_by_line
from experts.models import Expert, ExpertInterest, ExpertStatus, ExpertUnavailability
from tests import factories
from tests.evaluation import kit
from trading import services as trading_services
from trading.api import DomainError
from trading.models import Organisation, TenderProject

pytestmark = pytest.mark.django_db


def seat(draw, line, expert, status, when) -> DrawnExpert:
    """A row written directly (history of another committee): scaffolding, not the draw path."""
    return DrawnExpert.objects.create(
        draw=draw,
        line=line,
        position=100 + expert.pk,
        expert=expert,
        status=status,
        venue=draw.request.venues.first().venue,
        seat=100 + expert.pk,
        invited_at=when,
        respond_by=when + timedelta(minutes=30),
        responded_at=when + timedelta(minutes=5),
    )


def eligible(request) -> list[int]:
    return eligible_ids_by_line(request, now=kit.NOW)[0][1]


@pytest.fixture
def clean(tree):
    """Six experts nothing excludes, holding A0801 (a request for A08 matches them)."""
    return kit.experts(6, "A0801")


def test_specialty_prefix_matches_children_only(parties, lot, clean):
    b02 = kit.expert("B02")
    a = kit.expert("A")  # the parent category does not match a request for A08
    both = kit.expert("A0802", "B02")
    request = kit.request(parties, lot)
    assert eligible(request) == sorted([e.pk for e in clean] + [both.pk])
    assert b02.pk not in eligible(request) and a.pk not in eligible(request)


def test_same_employer_as_a_bidder(parties, lot, clean):
    excluded = kit.expert("A0801", employer=parties.bidders[0].organisation.credit_code)
    not_a_bidder = kit.expert("A0801", employer=parties.bidders[3].organisation.credit_code)  # bidder4 did not enrol
    request = kit.request(parties, lot)
    assert bidder_credit_codes(lot) == sorted(b.organisation.credit_code for b in parties.bidders[:3])
    assert excluded.pk not in eligible(request)
    assert not_a_bidder.pk in eligible(request)


@pytest.mark.parametrize("party", ["tenderee", "agency"])
def test_same_employer_as_the_tenderee_or_agency(parties, lot, clean, party):
    org = parties.tenderee.organisation if party == "tenderee" else parties.agency.organisation
    if party == "agency":
        TenderProject.objects.filter(pk=lot.project_id).update(agency=org)
    excluded = kit.expert("A0801", employer=org.credit_code)
    request = kit.request(parties, lot)
    assert excluded.pk not in eligible(request)
    assert eligible(request) == [e.pk for e in clean]


def test_declared_interest_in_a_bidder(parties, lot, clean):
    relative = kit.expert("A0801")
    ExpertInterest.objects.create(
        expert=relative, kind="relative", organisation_credit_code=parties.bidders[1].organisation.credit_code
    )
    unrelated = kit.expert("A0801")
    ExpertInterest.objects.create(expert=unrelated, kind="other", organisation_credit_code=factories.credit_code())
    request = kit.request(parties, lot)
    assert relative.pk not in eligible(request)
    assert unrelated.pk in eligible(request)


def test_supervising_department_staff(parties, lot, clean):
    department = parties.supervisor.organisation
    TenderProject.objects.filter(pk=lot.project_id).update(supervising_department=department)
    official = kit.expert("A0801", employer=department.credit_code)
    other_department = factories.org(Organisation.Kind.SUPERVISOR, "住建局")
    elsewhere = kit.expert("A0801", employer=other_department.credit_code)
    request = kit.request(parties, lot)
    assert official.pk not in eligible(request)
    assert elsewhere.pk in eligible(request)


@pytest.mark.parametrize(
    ("status", "until", "drawn"),
    [
        (ExpertStatus.SUSPENDED, date(2026, 12, 31), False),
        (ExpertStatus.SUSPENDED, date(2026, 11, 24), False),  # the penalty covers its last day (today)
        (ExpertStatus.SUSPENDED, date(2026, 11, 23), True),  # lapsed yesterday
        (ExpertStatus.BLACKLISTED, None, False),
        (ExpertStatus.BLACKLISTED, date(2030, 1, 1), False),
    ],
)
def test_penalised_experts(parties, lot, clean, status, until, drawn):
    penalised = kit.expert("A0801", status=status, status_until=until)
    request = kit.request(parties, lot)
    assert (penalised.pk in eligible(request)) is drawn
    # The draw's indexed condition agrees with the pool's own definition (experts.models eligible_on).
    assert Expert.objects.eligible_on(date(2026, 11, 24)).filter(pk=penalised.pk).exists() is drawn


def test_drawn_too_often_recently(parties, lot, clean):
    """RuleSet.expert_draw_limit (4) confirmed committees within expert_draw_period_days (30) excludes the expert."""
    busy, rested, declined = kit.expert("A0801"), kit.expert("A0801"), kit.expert("A0801")
    other_lots = [kit.opened_lot(parties, bidders=[]) for _ in range(4)]
    for i, other in enumerate(other_lots):
        start = kit.NOW + timedelta(days=30 + i)  # windows far away: not "busy", only "often"
        other_request = kit.request(parties, other, window_start=start, window_end=start + timedelta(hours=4))
        draw = services.draw_run(
            request=other_request, actor=parties.staff, now=kit.NOW - timedelta(days=3), seed=kit.seed(f"o{i}")
        )
        line = other_request.lines.get()
        for expert, status, when in [
            (busy, MemberStatus.CONFIRMED, kit.NOW - timedelta(days=10)),
            (rested, MemberStatus.CONFIRMED, kit.NOW - timedelta(days=31 if i == 0 else 10)),
            (declined, MemberStatus.DECLINED, kit.NOW - timedelta(days=10)),
        ]:
            DrawnExpert.objects.filter(draw=draw, expert=expert).delete()
            seat(draw, line, expert, status, when)
    request = kit.request(parties, lot)
    ids = eligible(request)
    assert busy.pk not in ids  # 4 in the last 30 days
    assert rested.pk in ids  # one of the 4 was 31 days ago: 3 in the period
    assert declined.pk in ids  # declining is not sitting


def test_busy_in_the_window(parties, lot, clean):
    away = kit.expert("A0801")
    ExpertUnavailability.objects.create(
        expert=away, start=kit.WINDOW[1] - timedelta(hours=1), end=kit.WINDOW[1] + timedelta(days=2)
    )
    back_before = kit.expert("A0801")
    ExpertUnavailability.objects.create(expert=back_before, start=kit.WINDOW[0] - timedelta(days=2), end=kit.WINDOW[0])
    # Another committee whose window overlaps ours draws all five B02 experts, two of whom also hold A0801.
    sitting_elsewhere, invited_elsewhere = kit.expert("A0801", "B02"), kit.expert("A0801", "B02")
    kit.experts(3, "B02")
    other = kit.opened_lot(parties, bidders=[])
    other_request = kit.request(
        parties,
        other,
        lines=(("B02", 5),),
        backups=0,
        window_start=kit.WINDOW[0] + timedelta(hours=2),
        window_end=kit.WINDOW[1] + timedelta(hours=2),
    )
    draw = services.draw_run(request=other_request, actor=parties.staff, now=kit.NOW, seed=kit.seed("other"))
    member = DrawnExpert.objects.get(draw=draw, expert=sitting_elsewhere)
    services.member_respond(member=member, actor=sitting_elsewhere.user, accept=True, now=kit.NOW)
    assert DrawnExpert.objects.get(draw=draw, expert=invited_elsewhere).status == MemberStatus.INVITED
    request = kit.request(parties, lot)
    ids = eligible(request)
    assert away.pk not in ids
    assert back_before.pk in ids  # unavailability ends exactly when the window starts
    assert sitting_elsewhere.pk not in ids  # confirmed on the overlapping committee
    assert invited_elsewhere.pk not in ids  # invited to it, not answered yet: busy too
    assert ids == sorted([e.pk for e in clean] + [back_before.pk])


def test_staff_exclusions(parties, lot, clean):
    employer = factories.org(Organisation.Kind.OTHER, "某设计院")
    at_employer = kit.expert("A0801", employer=employer.credit_code)
    named = kit.expert("A0801")
    request = kit.request(
        parties, lot, excluded_employers=[employer.credit_code], excluded_experts=[named.pk], exclusion_note="曾参与该项目设计"
    )
    assert at_employer.pk not in eligible(request)
    assert named.pk not in eligible(request)
    assert eligible(request) == [e.pk for e in clean]


def test_bidders_known_from_real_sealed_bids(parties, tree):
    """The real path: bids sealed and submitted, the sweep at the deadline unseals enrolments and bids; an expert
    employed by a bidder is then excluded, and the draw is refused before that moment."""
    lot = factories.lot(parties, stage="published", issued=kit.ISSUED)
    factories.enough_bids(parties, lot)
    kit.experts(7, "A0801")
    at_bidder = kit.expert("A0801", employer=parties.bidders[-1].organisation.credit_code)
    request = kit.request(parties, lot, now=lot.bid_deadline - timedelta(days=1))
    before = kit.state()
    with pytest.raises(DomainError) as refused:
        services.draw_run(request=request, actor=parties.staff, now=lot.bid_deadline - timedelta(hours=1))
    assert refused.value.code == "bidders_not_known"
    assert kit.state() == before
    with time_machine.travel(lot.bid_deadline, tick=False):
        trading_services.sweep_deadlines()
    lot.refresh_from_db()
    assert lot.status == "opening"
    assert set(bidder_credit_codes(lot)) == {b.organisation.credit_code for b in parties.bidders[-3:]}
    draw = services.draw_run(request=request, actor=parties.staff, now=kit.NOW, seed=kit.seed("real"))
    assert at_bidder.pk not in {row[2] for row in kit.rows(draw)}
    assert at_bidder.pk not in eligible(request)


def test_project_names_its_supervising_department(parties, tree):
    project = trading_services.project_create(
        actor=parties.tenderee,
        code="P-SUP-1",
        name="监督部门测试",
        rule_set=factories.rule_set(),
        region_code="450102",
        supervising_department=parties.supervisor.organisation,
        now=kit.ISSUED,
    )
    assert project.supervising_department == parties.supervisor.organisation
    with pytest.raises(DomainError) as refused:
        trading_services.project_create(
            actor=parties.tenderee,
            code="P-SUP-2",
            name="x",
            rule_set=factories.rule_set(),
            region_code="450102",
            supervising_department=parties.bidders[0].organisation,
            now=kit.ISSUED,
        )
    assert refused.value.code == "not_a_supervisor"
    assert not TenderProject.objects.filter(code="P-SUP-2").exists()
