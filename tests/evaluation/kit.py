"""Builders for the draw tests: a specialty tree, experts, venues, and a lot whose bidders are known."""

import itertools
from datetime import datetime, timedelta

from bidding.models import Enrolment
from evaluation import services
from evaluation.models import DrawnExpert, DrawRequest, Venue
from experts.models import Expert, Specialty
from tests import factories
from trading.models import Lot, LotStatus, Role
from trading.rules import LOCAL

ISSUED = datetime(2026, 11, 2, 9, tzinfo=LOCAL)
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=LOCAL)  # after the lot's deadline (2026-11-23 09:30)
WINDOW = (datetime(2026, 11, 26, 9, 0, tzinfo=LOCAL), datetime(2026, 11, 26, 17, 0, tzinfo=LOCAL))
_serial = itertools.count(1)


def specialties() -> dict[str, Specialty]:
    tree = {}
    for code, name in [("A", "工程"), ("A08", "建筑"), ("A0801", "土建"), ("A0802", "安装"), ("B", "经济"), ("B02", "造价")]:
        parent = tree.get(code[:-2]) if len(code) > 1 else None
        tree[code] = Specialty.objects.create(code=code, name=name, parent=parent)
    return tree


def expert(*codes: str, employer: str = "", user: bool = True, **fields) -> Expert:
    n = next(_serial)
    account = factories.user(Role.EXPERT, username=f"expert-pool-{n}") if user else None
    made = Expert.objects.create(user=account, name=f"专家{n}", employer_credit_code=employer, phone="13900000000", **fields)
    made.specialties.set(Specialty.objects.filter(code__in=codes))
    return made


def experts(count: int, *codes: str, **fields) -> list[Expert]:
    return [expert(*codes, **fields) for _ in range(count)]


def venues() -> tuple[Venue, Venue]:
    return (
        Venue.objects.create(name=f"本级主场{next(_serial)}", kind=Venue.Kind.MAIN, seats=10),
        Venue.objects.create(name=f"异地副场{next(_serial)}", kind=Venue.Kind.SECONDARY, seats=10),
    )


def opened_lot(parties, *, bidders=None) -> Lot:
    """A published lot moved to its opening with its enrolments in clear: scaffolding with plain writes (the real
    path, sealed bids and the sweep, is exercised once in test_avoidance.py)."""
    lot = factories.lot(parties, stage="published", issued=ISSUED)
    for bidder in bidders if bidders is not None else parties.bidders[:3]:
        Enrolment.objects.create(
            lot=lot,
            bidder=bidder.organisation,
            enrolled_by=bidder,
            enrolled_at=ISSUED + timedelta(days=1),
            contact_name="联系人",
            contact_phone="13800000000",
            unsealed_at=lot.bid_deadline,
        )
    Lot.objects.filter(pk=lot.pk).update(status=LotStatus.OPENING, enrolments_unsealed_at=lot.bid_deadline)
    lot.refresh_from_db()
    return lot


def request(parties, lot, *, lines=(("A08", 5),), backups=2, tenderee_reps=0, venue_seats=None, now=NOW, **kw) -> DrawRequest:
    main, secondary = venues()
    experts_total = sum(count for _, count in lines)
    if venue_seats is None:
        venue_seats = [(main, min(experts_total, 3)), (secondary, experts_total - min(experts_total, 3))]
    return services.draw_request_create(
        lot=lot,
        actor=parties.staff,
        lines=[{"specialty_code": code, "count": count} for code, count in lines],
        venues=[{"venue": v, "seats": s} for v, s in venue_seats if s],
        window_start=kw.pop("window_start", WINDOW[0]),
        window_end=kw.pop("window_end", WINDOW[1]),
        backups_per_line=backups,
        tenderee_reps=tenderee_reps,
        now=now,
        **kw,
    )


def seed(label: str) -> bytes:
    import hashlib

    return hashlib.sha256(f"test-seed/{label}".encode()).digest()


def rows(draw) -> list[tuple[str, int, int, str]]:
    return list(
        DrawnExpert.objects.filter(draw=draw)
        .order_by("line__position", "position")
        .values_list("line__specialty_code", "position", "expert_id", "status")
    )


def state() -> dict:
    """Everything a draw action may change: to assert that a refused one changed nothing."""
    from audit.models import AuditEvent
    from evaluation.models import Draw

    return {
        "requests": list(DrawRequest.objects.order_by("pk").values()),
        "draws": list(Draw.objects.order_by("pk").values("pk", "commitment", "seed", "revealed_at")),
        "members": list(DrawnExpert.objects.order_by("pk").values()),
        "audit": AuditEvent.objects.count(),
    }


def evaluating_lot(parties, folder):
    """A lot whose three bids were decrypted and whose opening record is published, a fixed committee of five
    (A0801 experts; the specialty tree must exist), and the lot being evaluated: (opened, member users, a backup's
    user)."""
    import time_machine

    from tests.bidding.opening_kit import decrypt, open_lot, sign_in
    from trading import services as lifecycle

    opened = open_lot(parties, folder, count=3)
    with time_machine.travel(opened.open_at, tick=False):
        sign_in(opened)
        for bidder in opened.kits:
            assert decrypt(opened, bidder).status_code == 200
    factories.finish_opening(parties, opened.lot)
    lot = opened.lot
    experts(8, "A0801")
    with time_machine.travel(NOW, tick=False):
        lifecycle.lot_start_evaluation(lot=lot, actor=parties.staff)
        draw = services.draw_run(request=request(parties, lot), actor=parties.staff, seed=seed("evaluating-lot"))
        for member in DrawnExpert.objects.filter(draw=draw, status=DrawnExpert.Status.INVITED):
            services.member_respond(member=member, actor=member.expert.user, accept=True)
    lot.refresh_from_db()
    assert lot.status == LotStatus.EVALUATING
    members = [m.expert.user for m in DrawnExpert.objects.filter(draw=draw, status=DrawnExpert.Status.CONFIRMED)]
    backup = DrawnExpert.objects.filter(draw=draw, status=DrawnExpert.Status.BACKUP).first().expert.user
    return opened, members, backup
