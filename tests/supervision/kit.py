"""Scaffolding for the supervision tests: the rows each rule reads, written plainly.

The rules only read what the lifecycle has stored (bids named at the deadline, openings, sessions, flags, letters,
objections); how those rows come about is tested with the lifecycle itself. One test (test_scan.py) drives a real
opening through the sealed-bid upload and the sweep and scans what it left.
"""

import hashlib
import itertools
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from bidding.models import Bid, BidStatus, Opening
from evaluation.models import (
    Criterion,
    DispersionFlag,
    Draw,
    DrawLine,
    DrawnExpert,
    DrawRequest,
    EvaluationMethod,
    EvaluationSession,
    Mark,
    SessionMember,
    SessionPhase,
    Venue,
)
from experts.models import Expert
from notices.models import Letter, LetterKind
from tests import factories
from trading.models import Lot, LotStatus, Objection, Role, TenderProject
from trading.rules import LOCAL

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=LOCAL)  # a Tuesday
_serial = itertools.count(1)


def lot(parties, *, status: str = LotStatus.OPENING, agency=None, **fields) -> Lot:
    """A lot in `status`, written plainly (its project's tenderee is the parties' tenderee)."""
    n = next(_serial)
    project = TenderProject.objects.create(
        code=f"SUP-{n}",
        name=f"监察测试项目{n}",
        tenderee=parties.tenderee.organisation,
        agency=agency,
        rule_set=factories.rule_set(),
        region_code="450102",
        created_by=parties.tenderee,
    )
    if status == LotStatus.SUSPENDED:
        fields.setdefault("suspended_from", LotStatus.EVALUATING)
    return Lot.objects.create(
        project=project,
        seq=1,
        name="一标段",
        transaction_code=f"SUP{n:012d}",
        estimated_price=Decimal("1000000"),
        status=status,
        bid_deadline=fields.pop("bid_deadline", NOW - timedelta(days=2)),
        **fields,
    )


def opening(lot: Lot, *, deadline: datetime | None = None, closed_at: datetime | None = None) -> Opening:
    deadline = deadline or lot.bid_deadline + timedelta(minutes=30)
    return Opening.objects.create(
        lot=lot, started_at=deadline - timedelta(minutes=30), decryption_deadline=deadline, decryption_closed_at=closed_at
    )


def bid(
    lot: Lot,
    bidder,
    *,
    status: str = BidStatus.DECRYPTED,
    opening: Opening | None = None,
    ip: str | None = None,
    fingerprint: str = "",
    sha256: str | None = None,
    plaintext_sha256: str = "",
    price: str | None = None,
    completed: bool = True,
) -> Bid:
    """A bid of `bidder` (a user or an organisation) as it stands after the deadline (lot and bidder named)."""
    org = getattr(bidder, "organisation", bidder)
    n = next(_serial)
    return Bid.objects.create(
        blind_index=hashlib.sha256(f"bid-{n}".encode()).hexdigest(),
        sealed=b"sealed",
        status=status,
        object_key=f"bids/{uuid.uuid4()}",
        size=1024,
        sha256=sha256 or hashlib.sha256(f"ciphertext-{n}".encode()).hexdigest(),
        part_size=1024,
        header_sha256=hashlib.sha256(f"header-{n}".encode()).hexdigest() if completed else "",
        uploaded_from=ip,
        client_fingerprint=fingerprint,
        lot=lot,
        bidder=org,
        plaintext_sha256=plaintext_sha256,
        opening_summary={"price": price, "duration_days": 365, "quality": "合格"} if price is not None else {},
        opening=opening,
    )


def priced_lot(parties, prices: list[str], **lot_fields) -> tuple[Lot, list[Bid]]:
    """A lot whose opening decrypted one bid per price, from different bidders (and different addresses)."""
    made = lot(parties, **lot_fields)
    opened = opening(made, closed_at=made.bid_deadline + timedelta(minutes=20))
    bidders = [factories.org("bidder") for _ in prices]
    return made, [bid(made, b, opening=opened, price=p) for b, p in zip(bidders, prices, strict=True)]


# --- Evaluation sessions and dispersion flags ---------------------------------------------------------------------


def expert(name: str = "") -> Expert:
    n = next(_serial)
    return Expert.objects.create(
        user=factories.user(Role.EXPERT, username=f"sup-expert-{n}"), name=name or f"专家{n}", phone="13900000000"
    )


def session(parties, expert: Expert, *, started_at: datetime, flags: int = 0, voided: bool = False) -> EvaluationSession:
    """A lot's finished session in which `expert` sat, with `flags` dispersion flags on their scores (voided: the flags
    of a replaced member)."""
    made = lot(parties, status=LotStatus.PUBLICITY)
    request = DrawRequest.objects.create(
        lot=made,
        status=DrawRequest.Status.FIXED,
        window_start=started_at,
        window_end=started_at + timedelta(hours=8),
        created_by=parties.staff,
        created_at=started_at - timedelta(days=1),
    )
    draw = Draw.objects.create(
        request=request,
        commitment="0" * 64,
        seed_sealed=b"seed",
        snapshot=b"snapshot",
        snapshot_sha256="0" * 64,
        created_by=parties.staff,
        created_at=started_at - timedelta(days=1),
    )
    line = DrawLine.objects.create(request=request, position=1, specialty_code="A08", count=5)
    venue = Venue.objects.create(name=f"主场{next(_serial)}", kind=Venue.Kind.MAIN, seats=10)
    member = DrawnExpert.objects.create(
        draw=draw,
        line=line,
        position=1,
        expert=expert,
        status=DrawnExpert.Status.CONFIRMED,
        venue=venue,
        seat=1,
        respond_by=started_at - timedelta(hours=20),
    )
    made_session = EvaluationSession.objects.create(
        lot=made,
        request=request,
        phase=SessionPhase.DONE,
        phase_started_at=started_at + timedelta(hours=4),
        started_by=parties.staff,
        started_at=started_at,
        finished_at=started_at + timedelta(hours=4),
    )
    SessionMember.objects.create(session=made_session, member=member, signed_in_at=started_at, venue=venue)
    if flags:
        method = EvaluationMethod.objects.create(
            lot=made,
            kind="comprehensive",
            technical_weight=Decimal("40"),
            commercial_weight=Decimal("0"),
            price_weight=Decimal("60"),
            price_formula="benchmark",
            price_drop_extremes=True,
            price_drop_min_bids=5,
            price_k=Decimal("1"),
            price_e_above=Decimal("1"),
            price_e_below=Decimal("0.5"),
            score_drop_extremes=False,
            score_drop_min_members=7,
            created_by=parties.tenderee,
            created_at=started_at - timedelta(days=30),
            updated_by=parties.tenderee,
            updated_at=started_at - timedelta(days=30),
        )
        criterion = Criterion.objects.create(method=method, stage="technical", position=1, name="施工方案", max_score=40)
        for _ in range(flags):
            scored = bid(made, factories.org("bidder"))
            mark = Mark.objects.create(
                session=made_session,
                stage="technical",
                member=member,
                bid=scored,
                criterion=criterion,
                score=Decimal("39"),
                submitted_at=started_at + timedelta(hours=1),
            )
            DispersionFlag.objects.create(
                session=made_session,
                mark=mark,
                member=member,
                score=Decimal("39"),
                others_mean=Decimal("20"),
                deviation=Decimal("19"),
                limit=Decimal("8"),
                raised_at=started_at + timedelta(hours=1),
                resolution=DispersionFlag.Resolution.VOID if voided else DispersionFlag.Resolution.CONFIRMED,
                resolved_at=started_at + timedelta(hours=2),
            )
    return made_session


# --- Awards ---------------------------------------------------------------------------------------------------------


def award_letter(parties, lot: Lot, winner, *, issued_at: datetime) -> Letter:
    n = next(_serial)
    return Letter.objects.create(
        lot=lot,
        kind=LetterKind.AWARD,
        recipient=getattr(winner, "organisation", winner),
        code=f"SUP-{n:012d}",
        object_key=f"letters/{lot.pk}/{n}.pdf",
        size=100,
        sha256="0" * 64,
        issued_at=issued_at,
        issued_by=parties.staff,
    )


def awarded_lot(parties, agency, winner, *, issued_at: datetime) -> Lot:
    made = lot(parties, status=LotStatus.AWARDED, agency=agency, status_changed_at=issued_at - timedelta(days=1))
    award_letter(parties, made, winner, issued_at=issued_at)
    return made


# --- Objections -----------------------------------------------------------------------------------------------------


def objection(lot: Lot, *, raised_at: datetime, answer_due: datetime, answered_at: datetime | None = None, by=None):
    return Objection.objects.create(
        lot=lot,
        stage=Objection.Stage.RESULTS,
        subject="评标结果",
        content="异议内容",
        raised_at=raised_at,
        answer_due=answer_due,
        raiser_sealed=b"sealed",
        raiser_index="0" * 64,
        status=Objection.Status.ANSWERED if answered_at else Objection.Status.PENDING,
        answer="答复" if answered_at else "",
        answered_by=by if answered_at else None,
        answered_at=answered_at,
    )
