"""评标过程数据统计: the numbers of one lot's evaluation, for staff and supervisors and for the report
(docs/evaluation.md, "The report, signatures and statistics"). Reads only; every figure comes from stored rows.

Durations are whole seconds of the phase spans (a phase entered twice has two spans, its total is their sum; the
span still open has no duration). Score spreads use the non-void marks (条例48: a replaced member's marks are void);
the standard deviation is the population one (σ over the marks given), rounded half up to 2 decimals.
"""

from collections import defaultdict
from decimal import Decimal, localcontext
from fractions import Fraction

from bidding.models import Bid, BidStatus
from evaluation import formulas
from evaluation.models import (
    Criterion,
    CriterionStage,
    DrawnExpert,
    EvaluationSession,
    ExtensionProposal,
    Mark,
    MemberStatus,
    ReviewResult,
    SessionPhase,
)
from trading.models import Lot

SCORED = (CriterionStage.TECHNICAL, CriterionStage.COMMERCIAL)


def human_duration(seconds: int) -> str:
    """3725 → "1小时2分5秒"; leading zero units left out, "0秒" for nothing."""
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(hours, "小时"), (minutes, "分"), (secs, "秒")]
    while len(parts) > 1 and parts[0][0] == 0:
        parts.pop(0)
    return "".join(f"{n}{unit}" for n, unit in parts)


def _sigma(values: list[Fraction]) -> Decimal:
    """Population standard deviation, from the exact variance, rounded half up to 2 decimals."""
    mean = sum(values, Fraction(0)) / len(values)
    variance = sum(((v - mean) ** 2 for v in values), Fraction(0)) / len(values)
    with localcontext() as context:
        context.prec = 34
        root = (Decimal(variance.numerator) / Decimal(variance.denominator)).sqrt()
    return formulas.round_half_up(Fraction(root))


def _spread(scores: list[Decimal]) -> dict:
    values = [Fraction(s) for s in scores]
    low, high = min(values), max(values)
    return {
        "marks": len(values),
        "min": formulas.round_half_up(low),
        "max": formulas.round_half_up(high),
        "range": formulas.round_half_up(high - low),
        "stdev": _sigma(values),
    }


def _savings(reference: Decimal | None, price: Decimal | None) -> dict | None:
    if reference is None or price is None:
        return None
    result = formulas.savings(reference, price)
    return {"reference": reference, "amount": result.amount, "percent": result.percent}


def lot_statistics(lot: Lot) -> dict:
    """The lot's evaluation in numbers; `session` None (and nothing else) before the evaluation started."""
    session = EvaluationSession.objects.filter(lot=lot).select_related("request").first()
    if session is None:
        return {"lot": lot.pk, "session": None}
    spans = []
    per_phase: dict[str, int] = defaultdict(int)
    for span in session.spans.order_by("started_at", "id"):
        seconds = int((span.ended_at - span.started_at).total_seconds()) if span.ended_at else None
        if seconds is not None:
            per_phase[span.phase] += seconds
        spans.append(
            {
                "phase": span.phase,
                "label": SessionPhase(span.phase).label,
                "started_at": span.started_at,
                "ended_at": span.ended_at,
                "seconds": seconds,
                "human": human_duration(seconds) if seconds is not None else None,
            }
        )
    total = int((session.finished_at - session.started_at).total_seconds()) if session.finished_at else None

    came = Bid.objects.filter(lot=lot, opening__isnull=False)
    opened = came.filter(status=BidStatus.DECRYPTED).count()
    rejected = {
        phase: ReviewResult.objects.filter(session=session, phase=phase, passed=False).count()
        for phase in (SessionPhase.QUALIFICATION, SessionPhase.COMPLIANCE)
    }

    crits = {c.pk: c for c in Criterion.objects.filter(method__lot=lot, stage__in=SCORED).order_by("stage", "position")}
    by_criterion: dict[int, list[Decimal]] = defaultdict(list)
    by_cell: dict[tuple[int, str], list[Decimal]] = defaultdict(list)
    names = {}
    marks = Mark.objects.filter(session=session, stage__in=SCORED, voided_at__isnull=True).select_related("bid__bidder")
    for mark in marks:
        by_criterion[mark.criterion_id].append(mark.score)
        by_cell[(mark.criterion_id, str(mark.bid_id))].append(mark.score)
        names[str(mark.bid_id)] = mark.bid.bidder.name
    criteria = []
    for pk, crit in crits.items():
        if not by_criterion[pk]:
            continue
        bids = [
            {"bid": bid, "bidder": names[bid], **_spread(scores)}
            for (c, bid), scores in sorted(by_cell.items(), key=lambda item: names[item[0][1]])
            if c == pk
        ]
        criteria.append(
            {
                "criterion": pk,
                "name": crit.name,
                "stage": crit.stage,
                "max_score": crit.max_score,
                **_spread(by_criterion[pk]),
                "bids": bids,
            }
        )

    first = session.ranking[0] if session.ranking else None
    price = Decimal(str(first["price"])) if first else None
    extensions = ExtensionProposal.objects.filter(session=session)
    carried = extensions.filter(status=ExtensionProposal.Status.CARRIED)
    replaced = DrawnExpert.objects.filter(draw__request=session.request_id, status=MemberStatus.REPLACED).select_related("expert")
    return {
        "lot": lot.pk,
        "session": session.pk,
        "phase": session.phase,
        "phases": spans,
        "phase_seconds": dict(per_phase),
        "total_seconds": total,
        "total_human": human_duration(total) if total is not None else None,
        "bids": {
            "received": came.count(),
            "opened": opened,
            "rejected": rejected,
            "valid": opened - sum(rejected.values()),
        },
        "criteria": criteria,
        "first_candidate": (
            {
                "bid": first["bid"],
                "bidder": first["bidder"],
                "price": price,
                "savings_vs_max_price": _savings(lot.max_price, price),
                "savings_vs_estimated_price": _savings(lot.estimated_price, price),
            }
            if first
            else None
        ),
        "extensions": {
            "proposed": extensions.count(),
            "carried": carried.count(),
            "minutes": sum(carried.values_list("minutes", flat=True)),
        },
        "replacements": [{"member": m.pk, "name": m.expert.name, "reason": m.reason} for m in replaced.order_by("pk")],
    }
