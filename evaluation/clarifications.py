"""The chair's written requests for the committee during evaluation: clarifications asked of a bidder (条例52) and, with
the lowest evaluated price method, the price adjustments (评标规定30-31). docs/evaluation.md ("Clarifications",
"Price adjustments") is the specification.

A clarification goes from the committee to one bidder through the platform, never the other way. The bidder's users
see the questions to their own bid only, without the member who asked (the committee list is secret, 法37), and
answer once before the time limit; the session cannot move on while a question is unanswered and not yet due
(session._unmet). Each write locks the session row, like every session action, so an answer and an advance are
serialised.
"""

from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import QuerySet

from evaluation.models import Clarification, EvaluationKind, EvaluationSession, PriceAdjustment, SessionPhase
from evaluation.session import (
    WATCHERS,
    _audit,
    _bad,
    _locked,
    _member_act,
    _not_found,
    _now,
    _plain,
    _publish,
    _require_phase,
    method_of,
    price_phase_result,
    remaining_bids,
)
from trading.access import forbidden
from trading.api import DomainError
from trading.models import LotStatus, Role

ASK_PHASES = (SessionPhase.QUALIFICATION, SessionPhase.COMPLIANCE, SessionPhase.SCORING, SessionPhase.PRICE)
# The time the bidder is given, in minutes: long enough to write an answer, short enough for one evaluation day.
MIN_MINUTES, MAX_MINUTES = 10, 24 * 60
QUESTION_MAX, ANSWER_MAX = 2000, 10000


def _chair(session: EvaluationSession, actor, now: datetime, *phases: str):
    """Locks the session; in one of `phases`, the acting member must be the chair, who speaks for the committee."""
    session, seat, _ = _member_act(session, actor, now)
    _require_phase(session, *phases)
    if session.chair_id != seat.pk:
        raise forbidden("只有评标委员会主任可以代表委员会操作", "Only the chair acts for the committee", "chair_only")
    return session, seat


def _remaining_bid(session: EvaluationSession, bid_id):
    bid = next((b for b in remaining_bids(session) if str(b.pk) == str(bid_id)), None)
    if bid is None:
        raise _bad("invalid_bid", "该投标不在评审中", "This bid is not under evaluation", bid=str(bid_id))
    return bid


# --- Clarifications (条例52) -------------------------------------------------------------------------------------


@transaction.atomic
def clarification_ask(
    *, session: EvaluationSession, actor, bid_id, question: str, minutes: int, now: datetime | None = None
) -> Clarification:
    """The chair asks the bidder of a remaining bid, in writing, to answer within `minutes` (10 to 1440)."""
    now = _now(now)
    session, seat = _chair(session, actor, now, *ASK_PHASES)
    bid = _remaining_bid(session, bid_id)
    question = (question or "").strip()
    if not question or len(question) > QUESTION_MAX:
        raise _bad(
            "invalid_question", f"须写明问题（至多{QUESTION_MAX}字）", f"Write the question (at most {QUESTION_MAX} characters)"
        )
    if not isinstance(minutes, int) or not MIN_MINUTES <= minutes <= MAX_MINUTES:
        raise _bad(
            "invalid_time_limit",
            f"答复时限须为{MIN_MINUTES}至{MAX_MINUTES}分钟",
            f"The time limit is {MIN_MINUTES} to {MAX_MINUTES} minutes",
        )
    asked = Clarification.objects.create(
        session=session,
        bid=bid,
        phase=session.phase,
        question=question,
        asked_by=seat,
        asked_at=now,
        due_at=now + timedelta(minutes=minutes),
    )
    details = {"clarification": asked.pk, "bid": str(bid.pk), "question": question, "due_at": asked.due_at}
    _audit("evaluation.clarification_requested", session, actor=actor, now=now, asked_by=seat.pk, **details)
    _publish(session, "clarification_requested", {**details, "bidder": bid.bidder.name, "asked_by": seat.pk}, now=now)
    return asked


@transaction.atomic
def clarification_answer(*, clarification: Clarification, actor, answer: str, now: datetime | None = None) -> Clarification:
    """The bidder answers in writing, once, before `due_at` (at `due_at` it is late). The answer may not go beyond
    the bid or change its substance (条例52): the committee judges that when it reads it."""
    now = _now(now)
    clarification = clarifications_visible_to(actor).filter(pk=clarification.pk).first()
    if clarification is None or actor.role != Role.BIDDER:
        raise _not_found()
    session = _locked(clarification.session)
    if session.lot.status != LotStatus.EVALUATING:
        raise DomainError("not_evaluating", "标段不在评标阶段", "The lot is not being evaluated")
    answer = (answer or "").strip()
    if not answer or len(answer) > ANSWER_MAX:
        raise _bad(
            "invalid_answer", f"须写明澄清、说明（至多{ANSWER_MAX}字）", f"Write the answer (at most {ANSWER_MAX} characters)"
        )
    if clarification.answered_at is not None:
        raise DomainError("clarification_answered", "该澄清问题已答复", "This clarification has already been answered")
    if now >= clarification.due_at:
        raise DomainError(
            "clarification_late",
            "已超过答复截止时间",
            "The time limit for the answer has passed",
            extra={"due_at": clarification.due_at},
        )
    # The checks above read a row the session lock serialises; the conditional update keeps the answer single anyway.
    done = Clarification.objects.filter(pk=clarification.pk, answered_at__isnull=True, due_at__gt=now).update(
        answer=answer, answered_at=now, answered_by=actor
    )
    if done != 1:
        raise DomainError("clarification_answered", "该澄清问题已答复", "This clarification has already been answered")
    clarification.refresh_from_db()
    details = {"clarification": clarification.pk, "bid": str(clarification.bid_id), "answer": answer}
    _audit("evaluation.clarification_answered", session, actor=actor, now=now, **details)
    _publish(session, "clarification_answered", {**details, "answered_at": now}, now=now)
    return clarification


def clarifications_visible_to(user) -> QuerySet[Clarification]:
    """Staff and supervisors: all. A sitting member: those of their committee's session. A bidder's user: those to
    their organisation's bids. Anyone else: none."""
    rows = Clarification.objects.select_related("session", "bid__bidder")
    if not user.is_authenticated:
        return rows.none()
    if user.role in WATCHERS:
        return rows
    if user.role == Role.EXPERT:
        return rows.filter(
            session__request__draw__members__expert__user=user, session__request__draw__members__status="confirmed"
        ).distinct()
    if user.role == Role.BIDDER and user.organisation_id is not None:
        return rows.filter(bid__bidder_id=user.organisation_id)
    return rows.none()


# --- Price adjustments (经评审的最低投标价法, 评标规定30-31) -----------------------------------------------------------


@transaction.atomic
def price_adjust(
    *, session: EvaluationSession, actor, bid_id, factor: str, amount, reason: str, now: datetime | None = None
) -> PriceAdjustment:
    """The chair records one adjustment (± yuan, two decimals) of a remaining bid's price by a factor the tender
    documents state, during the price phase of a lowest-evaluated-price lot. The price result is recomputed; the
    ranking, on entering the summary, uses the evaluated prices."""
    now = _now(now)
    session, seat = _chair(session, actor, now, SessionPhase.PRICE)
    if method_of(session).kind != EvaluationKind.LOWEST_PRICE:
        raise DomainError(
            "not_lowest_price", "只有经评审的最低投标价法可以调整评标价", "Only the lowest evaluated price method adjusts prices"
        )
    bid = _remaining_bid(session, bid_id)
    factor, reason = (factor or "").strip(), (reason or "").strip()
    try:
        value = Decimal(str(amount))
    except (InvalidOperation, TypeError, ValueError):
        value = None
    if (
        not factor
        or not reason
        or value is None
        or not value.is_finite()
        or value == 0
        or value != value.quantize(Decimal("0.01"))
    ):
        raise _bad(
            "invalid_adjustment",
            "须写明调整因素、理由和非零的调整金额（至多两位小数）",
            "Give the factor, the reason and a non-zero amount with at most 2 decimals",
        )
    evaluated = Decimal(str(session.price_result.get("evaluated", {}).get(str(bid.pk), "0")))
    if evaluated + value <= 0:
        raise _bad("invalid_adjustment", "调整后的评标价须大于零", "The evaluated price must stay above zero")
    adjustment = PriceAdjustment.objects.create(
        session=session,
        bid=bid,
        factor=factor[:200],
        amount=value,
        reason=reason[:500],
        recorded_by=seat,
        recorded_at=now,
    )
    result = _plain(price_phase_result(session))
    EvaluationSession.objects.filter(pk=session.pk).update(price_result=result)
    details = {"adjustment": adjustment.pk, "bid": str(bid.pk), "factor": adjustment.factor, "amount": value}
    _audit("evaluation.price_adjusted", session, actor=actor, now=now, reason=adjustment.reason, **details)
    _publish(session, "price_adjusted", {**details, "evaluated": result["evaluated"][str(bid.pk)]}, now=now)
    return adjustment
