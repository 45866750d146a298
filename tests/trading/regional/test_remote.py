"""远程异地评标 through the regional link: seats booked in another centre's venue and experts of the regional pool, drawn
only when the request asks for them (evaluation/selectors.py rule 8), reported to the regional platform at the draw,
at a replacement, when the committee is fixed and when the request is cancelled; never by name (法37)."""

from datetime import timedelta

import pytest

from evaluation import services
from evaluation.models import DrawnExpert, Venue
from tests.evaluation import kit
from tests.trading.regional.kit import envelope, pushes
from trading.api import DomainError
from trading.models import RegionalMessage
from trading.regional.payloads import iso

OTHER_CENTRE = "450103"


@pytest.fixture
def lot(parties, tree):
    return kit.opened_lot(parties)


def remote_venues():
    main = Venue.objects.create(name="本中心主场", kind=Venue.Kind.MAIN, seats=10)
    remote = Venue.objects.create(name="兴宁区中心副场", kind=Venue.Kind.SECONDARY, seats=10, centre_code=OTHER_CENTRE)
    return main, remote


def regional_experts(count: int):
    return [kit.expert("A0801", pool="regional", number=f"R45-{n:04d}") for n in range(1, count + 1)]


def remote_pushes(lot) -> list[tuple]:
    return [(m.event, envelope(m)["data"]) for m in pushes(lot) if m.table == "remote_seats"]


def expected_experts(draw) -> list[dict]:
    called = (
        DrawnExpert.objects.filter(draw=draw, expert__pool="regional")
        .exclude(status__in=["backup", "skipped"])
        .select_related("expert", "venue")
        .order_by("line__position", "position")
    )
    return [
        {
            "number": m.expert.number,
            "specialty": "A08",
            "status": m.status,
            "respond_by": iso(m.respond_by),
            "centre": m.venue.centre_code or None,
            "venue": m.venue.name,
            "seat": m.seat,
        }
        for m in called
    ]


@pytest.mark.django_db
def test_the_regional_pool_is_not_drawn_unless_asked(parties, lot):
    kit.experts(3, "A0801")
    regional_experts(8)
    main, remote = remote_venues()
    request = kit.request(parties, lot, venue_seats=[(main, 3), (remote, 2)])
    before = (kit.state(), list(RegionalMessage.objects.values()))
    with pytest.raises(DomainError) as refused:
        services.draw_run(request=request, actor=parties.staff, seed=kit.seed("regional-1"), now=kit.NOW)
    assert refused.value.code == "too_few_eligible_experts"
    assert refused.value.extra["shortfall"] == [{"specialty": "A08", "needed": 7, "eligible": 3, "missing": 4}]
    assert (kit.state(), list(RegionalMessage.objects.values())) == before


@pytest.mark.django_db
def test_a_local_committee_in_a_remote_venue_books_the_seats(parties, lot):
    kit.experts(7, "A0801")
    regional_experts(8)
    main, remote = remote_venues()
    draw = services.draw_run(
        request=kit.request(parties, lot, venue_seats=[(main, 3), (remote, 2)]),
        actor=parties.staff,
        seed=kit.seed("r2"),
        now=kit.NOW,
    )
    assert set(DrawnExpert.objects.filter(draw=draw).values_list("expert__pool", flat=True)) == {"local"}
    assert remote_pushes(lot) == [
        (
            "draw.drawn",
            {
                "request": draw.pk,
                "status": "drawn",
                "window_start": "2026-11-26T01:00:00Z",
                "window_end": "2026-11-26T09:00:00Z",
                "seats": [{"centre": OTHER_CENTRE, "venue": "兴宁区中心副场", "seats": 2}],
                "experts": [],
            },
        )
    ]


@pytest.mark.django_db
def test_regional_experts_are_called_replaced_and_fixed_through_the_link(parties, lot):
    experts = regional_experts(9)
    main, remote = remote_venues()
    request = kit.request(parties, lot, venue_seats=[(main, 3), (remote, 2)], regional_pool=True)
    draw = services.draw_run(request=request, actor=parties.staff, seed=kit.seed("r3"), now=kit.NOW)
    invited = list(DrawnExpert.objects.filter(draw=draw, status="invited").select_related("expert").order_by("position"))
    assert len(invited) == 5 and {m.expert.pool for m in invited} == {"regional"}
    ((event, drawn),) = remote_pushes(lot)
    assert event == "draw.drawn"
    assert (drawn["status"], drawn["seats"]) == ("drawn", [{"centre": OTHER_CENTRE, "venue": "兴宁区中心副场", "seats": 2}])
    assert drawn["experts"] == expected_experts(draw)
    assert [e["status"] for e in drawn["experts"]] == ["invited"] * 5
    assert [e["respond_by"] for e in drawn["experts"]] == [iso(kit.NOW + timedelta(minutes=request.response_minutes))] * 5

    # One declines: the seat goes to a backup, and the regional platform hears of both.
    services.member_respond(member=invited[0], actor=parties.staff, accept=False, reason="出差", now=kit.NOW)
    event, replaced = remote_pushes(lot)[-1]
    assert event == "member.invited"
    assert replaced["experts"] == expected_experts(draw)
    assert sorted(e["status"] for e in replaced["experts"]) == ["declined", "invited", "invited", "invited", "invited", "invited"]
    for member in DrawnExpert.objects.filter(draw=draw, status="invited"):
        services.member_respond(member=member, actor=parties.staff, accept=True, now=kit.NOW)
    event, fixed = remote_pushes(lot)[-1]
    assert (event, fixed["status"]) == ("committee.fixed", "fixed")
    assert sorted(e["status"] for e in fixed["experts"]) == ["confirmed"] * 5 + ["declined"]
    assert [e for e, _ in remote_pushes(lot)] == ["draw.drawn", "member.invited", "committee.fixed"]
    # Pool numbers only: no name of any expert leaves the centre before the award.
    text = "\n".join(m.body for m in pushes(lot))
    assert {e["number"] for e in fixed["experts"]} <= {e.number for e in experts}
    assert not any(e.name in text for e in experts)


@pytest.mark.django_db
def test_a_cancelled_request_releases_the_remote_seats(parties, lot):
    regional_experts(7)
    main, remote = remote_venues()
    request = kit.request(parties, lot, venue_seats=[(main, 3), (remote, 2)], regional_pool=True)
    draw = services.draw_run(request=request, actor=parties.staff, seed=kit.seed("r4"), now=kit.NOW)
    services.draw_request_cancel(request=request, actor=parties.staff, reason="评标时间调整", now=kit.NOW)
    event, cancelled = remote_pushes(lot)[-1]
    assert (event, cancelled["status"]) == ("draw_request.cancelled", "cancelled")
    assert [e["status"] for e in cancelled["experts"]] == ["replaced"] * 5
    assert cancelled["experts"] == expected_experts(draw)
