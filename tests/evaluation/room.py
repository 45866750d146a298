"""A lot's evaluation session run by hand, for the session's tests and those of what follows it (the report, the
statistics): the `room` fixture (test_opened_bids.evaluating plus a comprehensive method, five criteria and the opened
prices) and the helpers that take the room from phase to phase (docs/evaluation.md, "The evaluation session").
"""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest

from audit.models import AuditEvent
from bidding.models import Bid
from evaluation import session as ev
from evaluation.models import (
    Criterion,
    DispersionFlag,
    EvaluationMethod,
    EvaluationSession,
    Mark,
    ReviewResult,
    SessionMember,
    Submission,
)
from realtime.models import RoomEvent
from tests.evaluation import kit
from tests.evaluation.test_opened_bids import evaluating  # noqa: F401 (the fixture)
from trading.api import DomainError

T0 = kit.WINDOW[0] + timedelta(minutes=5)
PRICES = {"A": "1000000.00", "B": "980000.00", "C": "950000.00"}
# Scores per bid and criterion, one per member (members in seat order: three main-venue seats, then two secondary).
SCORES = {
    ("A", "T1"): ["25", "26", "24", "27", "25"],
    ("A", "T2"): ["15", "16", "15", "17", "16"],
    ("A", "C1"): ["18", "18", "17", "19", "18"],
    ("C", "T1"): ["24", "25", "23", "26", "24"],
    ("C", "T2"): ["16", "16", "16", "16", "17"],
    ("C", "C1"): ["17", "18", "18", "18", "17"],
}


def at(minutes: int):
    return T0 + timedelta(minutes=minutes)


@dataclass
class Room:
    lot: object
    session: EvaluationSession
    members: list  # DrawnExpert, seat order
    bids: dict  # "A" | "B" | "C" → Bid
    crit: dict  # "Q1" | "P1" | "T1" | "T2" | "C1" → Criterion
    backup: object
    parties: object

    def user(self, i):
        return self.members[i].expert.user

    def reload(self):
        self.session.refresh_from_db()
        self.session.request.refresh_from_db()
        return self.session


@pytest.fixture
def room(parties, evaluating):  # noqa: F811
    opened, _, backup = evaluating
    lot = opened.lot
    method = EvaluationMethod.objects.create(
        lot=lot,
        kind="comprehensive",
        technical_weight=Decimal(50),
        commercial_weight=Decimal(20),
        price_weight=Decimal(30),
        price_formula="benchmark",
        price_drop_extremes=True,
        price_drop_min_bids=5,
        price_k=Decimal(1),
        price_e_above=Decimal(1),
        price_e_below=Decimal("0.5"),
        score_drop_extremes=False,
        score_drop_min_members=7,
        created_by=parties.tenderee,
        created_at=kit.ISSUED,
        updated_by=parties.tenderee,
        updated_at=kit.ISSUED,
    )
    crit = {
        name: Criterion.objects.create(method=method, stage=stage, position=1 if name[1] == "1" else 2, name=name, max_score=top)
        for name, stage, top in [
            ("Q1", "qualification", None),
            ("P1", "compliance", None),
            ("T1", "technical", Decimal(30)),
            ("T2", "technical", Decimal(20)),
            ("C1", "commercial", Decimal(20)),
        ]
    }
    bids = {}
    for letter, bidder in zip("ABC", opened.kits, strict=True):
        bid = opened.bid(bidder)
        Bid.objects.filter(pk=bid.pk).update(opening_summary={"price": PRICES[letter], "duration_days": 365})
        bids[letter] = bid
    session = ev.session_start(lot=lot, actor=parties.staff, now=at(0))
    return Room(lot, session, ev.committee(session), bids, crit, backup, parties)


def sign_in_all(room, minute=1):
    for m in room.members:
        ev.member_sign_in(session=room.session, actor=m.expert.user, venue_id=m.venue_id, now=at(minute))


def advance(room, minute):
    return ev.session_advance(session=room.session, actor=room.parties.staff, expected=room.reload().phase, now=at(minute))


def to_declaration(room):
    sign_in_all(room)
    advance(room, 2)


def to_chair(room):
    to_declaration(room)
    for m in room.members:
        ev.member_declare(session=room.session, actor=m.expert.user, conflict=False, now=at(3))
    advance(room, 4)


def to_qualification(room):
    to_chair(room)
    for m in room.members:
        ev.chair_vote(session=room.session, actor=m.expert.user, candidate_id=room.members[0].pk, now=at(5))
    advance(room, 6)


def review(room, phase, minute, fails=None):
    """Every member passes every remaining bid, except fails = {(member index, letter): reason}."""
    fails = fails or {}
    crit = room.crit["Q1" if phase == "qualification" else "P1"]
    remaining = {str(b.pk) for b in ev.remaining_bids(room.session)}
    for i, m in enumerate(room.members):
        verdicts = [
            {"bid": str(bid.pk), "criterion": crit.pk, "passed": (i, letter) not in fails, "reason": fails.get((i, letter), "")}
            for letter, bid in room.bids.items()
            if str(bid.pk) in remaining
        ]
        ev.review_submit(session=room.session, actor=m.expert.user, phase=phase, verdicts=verdicts, now=at(minute))


def to_scoring(room):
    to_qualification(room)
    review(room, "qualification", 7)
    advance(room, 8)
    review(room, "compliance", 9, fails={(0, "B"): "工期不响应", (1, "B"): "工期不响应", (2, "B"): "质量标准不响应"})
    advance(room, 10)


def table(room, i, scores=SCORES, letters="AC"):
    return [
        {"bid": str(room.bids[letter].pk), "criterion": room.crit[name].pk, "score": values[i]}
        for (letter, name), values in scores.items()
        if letter in letters
    ]


def score_all(room, minute, scores=SCORES, members=range(5)):
    for i in members:
        ev.scores_submit(session=room.session, actor=room.user(i), scores=table(room, i, scores), now=at(minute))


def refused(code, call, *args, **kw):
    with pytest.raises(DomainError) as caught:
        call(*args, **kw)
    assert caught.value.code == code, caught.value
    return caught.value


def snapshot(room) -> dict:
    """What a member's action may change: to assert that a refused one changed nothing."""
    return {
        "session": EvaluationSession.objects.filter(pk=room.session.pk).values().first(),
        "attendance": list(SessionMember.objects.order_by("pk").values()),
        "marks": list(Mark.objects.order_by("pk").values()),
        "submissions": list(Submission.objects.order_by("pk").values()),
        "results": list(ReviewResult.objects.order_by("pk").values()),
        "flags": list(DispersionFlag.objects.order_by("pk").values()),
        "audit": AuditEvent.objects.count(),
        "events": RoomEvent.objects.count(),
    }


def to_report(room):
    """The whole session of test_session's main case to the report phase: B rejected at compliance, C ranked first."""
    to_scoring(room)
    score_all(room, 11)
    advance(room, 12)
    advance(room, 13)
    return advance(room, 14)


def sign_report(room, minute, dissent=None, members=None):
    """Each sitting member (or `members`, indexes into the sitting committee) signs the current draft; dissent =
    {index: reasons} disagrees."""
    from evaluation.models import EvaluationReport
    from evaluation.report import report_sign

    dissent = dissent or {}
    sitting = ev.committee(room.session)
    digest = EvaluationReport.objects.get(session=room.session).sha256
    for i in members if members is not None else range(len(sitting)):
        report_sign(
            session=room.session,
            actor=sitting[i].expert.user,
            sha256=digest,
            agree=i not in dissent,
            dissent=dissent.get(i, ""),
            now=at(minute),
        )
