"""Scaffolding for the publicity and award tests: a lot's evaluation session put in `done` with plain writes.

How `done` is reached (the report signed by the members) belongs to the evaluation session and its own tests; the
end-to-end path from the session to the award is tested once elsewhere. Here the session only needs to be finished
(the report received at `at`) with a ranking.
"""

from datetime import datetime, timedelta

from bidding.models import Bid
from evaluation.models import DrawRequest, EvaluationSession, SessionPhase


def ranking_of(lot, order=None) -> list[dict]:
    """A ranking of the lot's opened bids as evaluation/session.py writes it (comprehensive method): `order` the
    bids first to last (default: by the bidder's credit code), totals 90, 85, 80, ..."""
    bids = order or list(
        Bid.objects.filter(lot=lot, opening__isnull=False).select_related("bidder").order_by("bidder__credit_code")
    )
    return [
        {
            "bid": str(bid.pk),
            "bidder": bid.bidder.name,
            "rank": rank,
            "total": f"{90 - 5 * (rank - 1)}.00",
            "price": (bid.opening_summary or {}).get("price") or f"{900000 + rank}.00",
            "decided_by": "total",
        }
        for rank, bid in enumerate(bids, start=1)
    ]


def evaluation_done(parties, lot, *, at: datetime, ranking: list[dict] | None = None) -> EvaluationSession:
    """The lot's session (made if missing, on the lot's live draw request or a new fixed one) in `done`, finished at
    `at`, with `ranking` (default: ranking_of(lot))."""
    session = EvaluationSession.objects.filter(lot=lot).first()
    if session is None:
        request = DrawRequest.objects.filter(lot=lot).exclude(status=DrawRequest.Status.CANCELLED).first()
        if request is None:
            request = DrawRequest.objects.create(
                lot=lot,
                status=DrawRequest.Status.FIXED,
                window_start=at - timedelta(hours=8),
                window_end=at,
                created_by=parties.staff,
                created_at=at - timedelta(days=1),
            )
        session = EvaluationSession.objects.create(
            lot=lot, request=request, phase_started_at=at, started_by=parties.staff, started_at=at - timedelta(hours=4)
        )
    EvaluationSession.objects.filter(pk=session.pk).update(
        phase=SessionPhase.DONE, phase_started_at=at, finished_at=at, ranking=ranking if ranking is not None else ranking_of(lot)
    )
    session.refresh_from_db()
    return session
