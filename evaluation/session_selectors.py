"""Reads of the evaluation session, scoped to who asks (docs/evaluation.md, "The evaluation session").

Staff and supervisors see everything (supervisors read only); a confirmed member sees the session, everyone's
progress (who signed in, declared, voted, submitted), the decided results, and the marks: their own always, the
others' only once the phase they belong to has closed. Anyone else — bidders, the tenderee, the agency, experts not
sitting, a replaced member — gets 404.
"""

from evaluation.bidfiles import committee_seat
from evaluation.models import (
    PHASE_ORDER,
    DispersionFlag,
    DrawnExpert,
    EvaluationSession,
    ExtensionProposal,
    Mark,
    SessionPhase,
)
from evaluation.session import WATCHERS, _not_found, _plain, attendance, committee, over_max_price
from trading.models import Lot

# The phase after which a stage's marks are shown to every member.
_CLOSES_AFTER = {
    "qualification": SessionPhase.QUALIFICATION,
    "compliance": SessionPhase.COMPLIANCE,
    "technical": SessionPhase.SCORING,
    "commercial": SessionPhase.SCORING,
}


def session_for(*, lot: Lot, user) -> tuple[EvaluationSession, DrawnExpert | None]:
    """The lot's session and the user's seat (None for a watcher), or 404 for whoever may not see it."""
    session = EvaluationSession.objects.filter(lot=lot).select_related("request").first()
    if not user.is_authenticated:
        raise _not_found()
    seat = None
    if user.role not in WATCHERS:
        seat = committee_seat(lot=lot, user=user)
        if seat is None:
            raise _not_found()
    if session is None:
        raise _not_found()
    return session, seat


def _closed(session: EvaluationSession, stage: str) -> bool:
    return PHASE_ORDER.index(session.phase) > PHASE_ORDER.index(_CLOSES_AFTER[stage])


def session_state(session: EvaluationSession, *, seat: DrawnExpert | None) -> dict:
    """The session as `seat` (None: a watcher) may see it."""
    present = attendance(session)
    watcher = seat is None
    marks = Mark.objects.filter(session=session).order_by("stage", "bid_id", "criterion_id", "member_id", "id")
    flags = DispersionFlag.objects.filter(session=session).select_related("mark")
    if not watcher:
        marks = [m for m in marks if m.voided_at is None and (m.member_id == seat.pk or _closed(session, m.stage))]
        flags = [f for f in flags if f.member_id == seat.pk]
    submitted: dict[str, list[int]] = {}
    for row in session.submissions.filter(voided_at__isnull=True).order_by("submitted_at", "id"):
        submitted.setdefault(row.phase, []).append(row.member_id)
    members = []
    for m in committee(session):
        a = present.get(m.pk)
        members.append(
            {
                "member": m.pk,
                "name": m.expert.name,
                "venue": m.venue_id,
                "seat": m.seat,
                "signed_in_at": a and a.signed_in_at,
                "declared": bool(a and a.declared_at),
                "conflict": bool(a and a.conflict),
                "voted_chair": bool(a and a.chair_vote_id),
                "me": seat is not None and m.pk == seat.pk,
            }
        )
    return _plain(
        {
            "id": session.pk,
            "lot": session.lot_id,
            "phase": session.phase,
            "phase_started_at": session.phase_started_at,
            "window_start": session.request.window_start,
            "window_end": session.request.window_end,
            "chair": session.chair_id,
            "chair_round": session.chair_round,
            "members": members,
            "submitted": submitted,
            "spans": [
                {"phase": s.phase, "started_at": s.started_at, "ended_at": s.ended_at} for s in session.spans.order_by("id")
            ],
            "results": [
                {
                    "phase": r.phase,
                    "bid": r.bid_id,
                    "passed": r.passed,
                    "votes_for": r.votes_for,
                    "votes_against": r.votes_against,
                    "dissenters": r.dissenters,
                    "reasons": r.reasons,
                }
                for r in session.results.order_by("id")
            ],
            "marks": [
                {
                    "stage": m.stage,
                    "member": m.member_id,
                    "bid": m.bid_id,
                    "criterion": m.criterion_id,
                    "passed": m.passed,
                    "reason": m.reason,
                    "score": m.score,
                    "amended_at": m.amended_at,
                    **({"voided_at": m.voided_at, "void_reason": m.void_reason} if watcher else {}),
                }
                for m in marks
            ],
            "flags": [
                {
                    "flag": f.pk,
                    "member": f.member_id,
                    "bid": f.mark.bid_id,
                    "criterion": f.mark.criterion_id,
                    "score": f.score,
                    "others_mean": f.others_mean,
                    "deviation": f.deviation,
                    "limit": f.limit,
                    "resolution": f.resolution,
                }
                for f in flags
            ],
            "extensions": [
                {
                    "id": p.pk,
                    "proposed_by": p.proposed_by_id,
                    "minutes": p.minutes,
                    "reason": p.reason,
                    "status": p.status,
                    "yes": sum(1 for b in p.ballots.all() if b.yes),
                    "voted": [b.member_id for b in p.ballots.all()],
                }
                for p in ExtensionProposal.objects.filter(session=session).prefetch_related("ballots")
            ],
            "price_result": session.price_result,
            "ranking": session.ranking,
            # 条例51第五项: the bids the review will reject whatever the votes (prices were read out at the opening).
            "above_max_price": list(over_max_price(session.lot).values()),
        }
    )
