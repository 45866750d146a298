"""Writes for the evaluation session (评标过程): the phases of one lot's evaluation by its fixed committee.

sign_in → declaration → chair_election → qualification → compliance → scoring → price → summary → report → done
(evaluation/report.py: the report is built on entering `report`; the last member's signature ends the session).
Staff start the session and advance it when the phase's condition holds; members act for themselves (sign in from
their seat's venue, declare, vote for the chair, hand in their review and score tables, confirm or amend a flagged
score, propose and vote on more time); staff replace a member (条例48: the replaced member's marks are void).
docs/evaluation.md ("The evaluation session") is the specification.

Every write locks the session row first, so two members' last submissions, or a submission and an advance, are
serialised: the member whose submission completes a phase decides its result, exactly once. The phase moves with a
conditional update on the expected phase; each action writes one audit event and publishes one room event
(`_publish`, the single integration point with realtime/).
"""

import ipaddress
import json
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status

from audit.services import audit_record
from bidding.models import Bid, BidStatus
from bidding.services.bids import PURPOSE as BID_PURPOSE
from evaluation import formulas
from evaluation import services as draws
from evaluation.models import (
    PHASE_ORDER,
    Clarification,
    Criterion,
    CriterionStage,
    DispersionFlag,
    DrawnExpert,
    DrawRequest,
    EvaluationKind,
    EvaluationMethod,
    EvaluationSession,
    ExtensionBallot,
    ExtensionProposal,
    Mark,
    MemberStatus,
    PhaseSpan,
    PriceAdjustment,
    ReviewResult,
    SessionMember,
    SessionPhase,
    Submission,
)
from trading import rules
from trading.access import forbidden, require_role
from trading.api import DomainError
from trading.models import Lot, LotStatus, Role
from trading.sealing import unseal

WATCHERS = (Role.STAFF, Role.SUPERVISOR)
REVIEW_PHASES = (SessionPhase.QUALIFICATION, SessionPhase.COMPLIANCE)
# A replacement in one of these phases sends the session back to scoring: the replaced member's scores are void
# (条例48) and the newcomer scores every remaining bid.
RESCORE_PHASES = (SessionPhase.SCORING, SessionPhase.PRICE, SessionPhase.SUMMARY, SessionPhase.REPORT)


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def _bad(code: str, zh: str, en: str, **extra) -> DomainError:
    return DomainError(code, zh, en, status_code=status.HTTP_400_BAD_REQUEST, extra=extra or None)


def _not_found() -> DomainError:
    return DomainError("not_found", "对象不存在或无权查看", "Not found.", status_code=status.HTTP_404_NOT_FOUND)


# --- Realtime: the one integration point --------------------------------------------------------------------------


def _rooms():
    """realtime.rooms if its publishing API is there (realtime/rooms.py: publish, evaluation_room, only, WATCHERS,
    EVERYONE, evict), else None: the session then works without room events."""
    try:
        from realtime import rooms
    except ImportError:  # pragma: no cover - realtime/ is part of the project
        return None
    needed = ("publish", "evaluation_room", "only", "EVERYONE", "WATCHERS")
    return rooms if all(hasattr(rooms, name) for name in needed) else None


def _publish(session: EvaluationSession, kind: str, payload: dict, *, to=None, watchers_only=False, state=None, now) -> None:
    """One room event in the caller's transaction (sent after commit by realtime). `to`: one member's user (and the
    watchers). Payloads never carry a member's verdicts or scores before the phase's result is decided."""
    rooms = _rooms()
    if rooms is None:
        return
    payload = _plain(payload)
    state = _plain(state) if state else None
    audience = rooms.only(to) if to is not None else (rooms.WATCHERS if watchers_only else rooms.EVERYONE)
    rooms.publish(rooms.evaluation_room(session.lot_id), kind, payload, audience=audience, state=state, now=now)


def _require_not_paused(session: EvaluationSession) -> None:
    """A supervisor's pause (realtime.services.room_pause, the room's state "paused") stops every session action until
    resumed. The room head is locked, as the pause locks it, so a pause and an action cannot interleave."""
    rooms = _rooms()
    if rooms is None or not hasattr(rooms, "lock"):
        return
    if rooms.lock(rooms.evaluation_room(session.lot_id)).state.get("paused"):
        raise DomainError("room_paused", "评标已被监督人员暂停", "The evaluation is paused by a supervisor")


def _plain(data):
    """Decimals, datetimes and UUIDs as the JSON strings a JSONField can store."""
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def _evict(session: EvaluationSession, user_id: int | None) -> None:
    rooms = _rooms()
    if rooms is not None and user_id is not None and hasattr(rooms, "evict"):
        rooms.evict(rooms.evaluation_room(session.lot_id), user_id)


# --- Reads shared by the services ---------------------------------------------------------------------------------


def committee(session: EvaluationSession) -> list[DrawnExpert]:
    """The members now sitting: confirmed members of the session's draw request (fixed)."""
    return list(
        DrawnExpert.objects.filter(draw__request=session.request_id, status=MemberStatus.CONFIRMED)
        .select_related("expert", "venue")
        .order_by("venue__kind", "venue_id", "seat")
    )


def attendance(session: EvaluationSession) -> dict[int, SessionMember]:
    """{drawn expert id: attendance} of the members not replaced."""
    return {a.member_id: a for a in SessionMember.objects.filter(session=session, voided_at__isnull=True)}


def method_of(session: EvaluationSession) -> EvaluationMethod:
    return EvaluationMethod.objects.get(lot_id=session.lot_id)


def criteria(session: EvaluationSession, *stages: str) -> list[Criterion]:
    return list(Criterion.objects.filter(method__lot_id=session.lot_id, stage__in=stages).order_by("stage", "position"))


def remaining_bids(session: EvaluationSession) -> list[Bid]:
    """The opened (decrypted) bids not rejected by a decided review phase."""
    rejected = ReviewResult.objects.filter(session=session, passed=False).values("bid_id")
    return list(
        Bid.objects.filter(lot_id=session.lot_id, opening__isnull=False, status=BidStatus.DECRYPTED)
        .exclude(pk__in=rejected)
        .select_related("bidder")
        .order_by("bidder__credit_code")
    )


def _scored_stages(phase: str) -> tuple[str, ...]:
    if phase == SessionPhase.SCORING:
        return (CriterionStage.TECHNICAL, CriterionStage.COMMERCIAL)
    return (phase,)  # qualification / compliance: the criterion stage of the same name


# --- Locks and guards ---------------------------------------------------------------------------------------------


def _locked(session: EvaluationSession) -> EvaluationSession:
    # of=("self",): only the session row is locked, not the lot, the request or the shared rule set it reads.
    return (
        EvaluationSession.objects.select_for_update(of=("self",))
        .select_related("request", "lot__project__rule_set")
        .get(pk=session.pk)
    )


def _require_running(session: EvaluationSession, *, allow_paused: bool = False) -> None:
    if not allow_paused:
        _require_not_paused(session)
    if session.lot.status != LotStatus.EVALUATING:
        raise DomainError(
            "not_evaluating", "标段不在评标阶段（可能已暂停）", "The lot is not being evaluated (it may be suspended)"
        )
    if session.request.status != DrawRequest.Status.FIXED:
        raise DomainError(
            "committee_incomplete",
            "评标委员会成员正在替换，待替补专家确认后继续",
            "A member is being replaced; the evaluation continues once the backup has confirmed",
        )


def _require_window(session: EvaluationSession, now: datetime) -> None:
    request = session.request
    if not request.window_start <= now < request.window_end:
        raise DomainError(
            "outside_window",
            "不在评标时间内",
            "Outside the evaluation window",
            extra={"window_start": request.window_start, "window_end": request.window_end},
        )


def _require_phase(session: EvaluationSession, *phases: str) -> None:
    if session.phase not in phases:
        raise DomainError(
            "invalid_phase",
            f"评标当前处于“{SessionPhase(session.phase).label}”阶段，不能执行此操作",
            f"The evaluation is in the {session.phase} phase; this action is not possible",
            extra={"phase": session.phase},
        )


def _seat(session: EvaluationSession, actor) -> DrawnExpert:
    """The actor's confirmed seat on the session's committee. Watchers only read (403); anyone else learns nothing."""
    if actor.role in WATCHERS:
        raise forbidden(
            "工作人员和监督人员不能代替评标委员会成员操作", "Staff and supervisors do not act for members", "read_only"
        )
    seat = (
        DrawnExpert.objects.filter(draw__request=session.request_id, status=MemberStatus.CONFIRMED, expert__user=actor)
        .select_related("expert", "venue")
        .first()
    )
    if seat is None:
        raise _not_found()
    return seat


def _member_act(session: EvaluationSession, actor, now: datetime, *, declared: bool = True):
    """Locks the session and returns (session, seat, attendance) for a member acting inside the window."""
    session = _locked(session)
    seat = _seat(session, actor)
    _require_running(session)
    _require_window(session, now)
    present = SessionMember.objects.filter(session=session, member=seat, voided_at__isnull=True).first()
    if present is None:
        raise DomainError("not_signed_in", "请先签到", "Sign in first")
    if declared:
        if present.declared_at is None:
            raise DomainError("not_declared", "请先签署回避声明", "Sign the declaration first")
        if present.conflict:
            raise DomainError("withdrawn", "您已声明须回避，等待替换", "You declared a conflict and are being replaced")
    return session, seat, present


def _audit(action: str, session: EvaluationSession, *, actor, now: datetime, **after) -> None:
    audit_record(action=action, actor=actor, obj=session, lot_id=session.lot_id, after=after, now=now)


# --- Start and advance (staff) ------------------------------------------------------------------------------------


@transaction.atomic
def session_start(*, lot: Lot, actor, now: datetime | None = None) -> EvaluationSession:
    """Staff open the evaluation room: the lot is being evaluated, its committee is fixed and it has a method."""
    now = _now(now)
    require_role(actor, Role.STAFF)
    lot = Lot.objects.select_for_update().get(pk=lot.pk)
    if lot.status != LotStatus.EVALUATING:
        raise DomainError("not_evaluating", "标段不在评标阶段", "The lot is not being evaluated", extra={"status": lot.status})
    request = DrawRequest.objects.filter(lot=lot, status=DrawRequest.Status.FIXED).first()
    if request is None:
        raise DomainError("committee_not_fixed", "评标委员会尚未组成", "The committee is not fixed yet")
    if not EvaluationMethod.objects.filter(lot=lot).exists():
        raise DomainError("no_method", "该标段没有评标办法", "The lot has no evaluation method")
    try:
        with transaction.atomic():
            session = EvaluationSession.objects.create(
                lot=lot, request=request, phase=SessionPhase.SIGN_IN, phase_started_at=now, started_by=actor, started_at=now
            )
    except IntegrityError:
        raise DomainError("session_exists", "该标段已开始评标", "The evaluation of this lot has already started") from None
    PhaseSpan.objects.create(session=session, phase=SessionPhase.SIGN_IN, started_at=now)
    over = sorted(over_max_price(lot))  # 条例51第五项: shown from the start, so nobody reviews them in vain
    _audit("evaluation.started", session, actor=actor, now=now, phase=session.phase, request=request.pk, above_max_price=over)
    state = {"phase": session.phase, "submitted": [], "above_max_price": over}
    _publish(session, "phase", {"phase": session.phase}, state=state, now=now)
    return session


def _move(session: EvaluationSession, *, source: str, target: str, actor, now: datetime, **details) -> EvaluationSession:
    """Phase `source` → `target` with a conditional update; closes the source's span, opens the target's, audits and
    publishes."""
    fields = {"phase": target, "phase_started_at": now}
    if target == SessionPhase.DONE:
        fields["finished_at"] = now
    if EvaluationSession.objects.filter(pk=session.pk, phase=source).update(**fields) != 1:
        current = EvaluationSession.objects.filter(pk=session.pk).values_list("phase", flat=True).first()
        raise DomainError(
            "invalid_phase",
            f"评标当前处于“{SessionPhase(current).label}”阶段",
            f"The evaluation is in the {current} phase",
            extra={"phase": current},
        )
    PhaseSpan.objects.filter(session=session, ended_at__isnull=True).update(ended_at=now)
    PhaseSpan.objects.create(session=session, phase=target, started_at=now)
    session.refresh_from_db()
    _audit("evaluation.phase_changed", session, actor=actor, now=now, source=source, target=target, **details)
    _publish(session, "phase", {"phase": target, "from": source}, state={"phase": target, "submitted": []}, now=now)
    return session


def _unmet(session: EvaluationSession, now: datetime | None = None) -> str | None:
    """Why the current phase may not end yet, as an error code; None when it may."""
    sitting = committee(session)
    present = attendance(session)
    phase = session.phase
    if Clarification.objects.filter(session=session, answered_at__isnull=True, due_at__gt=_now(now)).exists():
        return "clarification_pending"  # 条例52: the committee waits for the bidder's answer until it is due
    if phase == SessionPhase.SIGN_IN:
        return None if all(m.pk in present for m in sitting) else "members_missing"
    if phase == SessionPhase.DECLARATION:
        if not all(m.pk in present and present[m.pk].declared_at for m in sitting):
            return "declarations_missing"
        return "conflict_pending" if any(present[m.pk].conflict for m in sitting) else None
    if phase == SessionPhase.CHAIR_ELECTION:
        return None if session.chair_id else "no_chair"
    if phase in REVIEW_PHASES:
        decided = ReviewResult.objects.filter(session=session, phase=phase).exists() or not criteria(session, phase)
        return None if decided else "submissions_missing"
    if phase == SessionPhase.SCORING:
        if criteria(session, *_scored_stages(phase)) and not _all_submitted(session, phase):
            return "submissions_missing"
        return "dispersion_open" if DispersionFlag.objects.filter(session=session, resolution="").exists() else None
    if phase == SessionPhase.SUMMARY and session.chair_id is None:
        return "no_chair"
    if phase == SessionPhase.REPORT:  # the last signature ends the phase itself (report.report_sign)
        return "signatures_missing"
    return None


_UNMET_TEXT = {
    "members_missing": ("尚有成员未签到", "Not every member has signed in"),
    "declarations_missing": ("尚有成员未签署回避声明", "Not every member has signed the declaration"),
    "conflict_pending": ("有成员声明须回避，须先替换", "A member declared a conflict and must be replaced first"),
    "no_chair": ("尚未推选出评标委员会主任", "No chair has been elected"),
    "submissions_missing": ("尚有成员未提交或结果未定", "Not every member has submitted, or the result is not decided"),
    "dispersion_open": ("尚有畸高畸低提示未处理", "A dispersion alert is still open"),
    "clarification_pending": ("尚有澄清问题未答复且未到答复截止时间", "A clarification is unanswered and not yet due"),
    "signatures_missing": ("尚有成员未签署评标报告", "Not every member has signed the report"),
}


@transaction.atomic
def session_advance(*, session: EvaluationSession, actor, expected: str, now: datetime | None = None) -> EvaluationSession:
    """Staff move the session from `expected` (the phase they see) to the next one, when its condition holds.
    Entering `price` computes the price scores; entering `summary` the totals and the ranking."""
    now = _now(now)
    require_role(actor, Role.STAFF)
    session = _locked(session)
    _require_running(session)
    _require_phase(session, expected)
    if session.phase == SessionPhase.DONE:
        raise DomainError("invalid_phase", "评审已结束", "The evaluation is finished", extra={"phase": session.phase})
    if code := _unmet(session, now):
        zh, en = _UNMET_TEXT[code]
        raise DomainError(code, zh, en, extra={"phase": session.phase})
    target = PHASE_ORDER[PHASE_ORDER.index(session.phase) + 1]
    details = {}
    if target == SessionPhase.PRICE:
        result = _plain(price_phase_result(session))
        EvaluationSession.objects.filter(pk=session.pk).update(price_result=result)
        details["price_result"] = result
    elif target == SessionPhase.SUMMARY:
        ranking = _plain(summary_ranking(session))
        EvaluationSession.objects.filter(pk=session.pk).update(ranking=ranking)
        details["ranking"] = ranking
    session = _move(session, source=session.phase, target=target, actor=actor, now=now, **details)
    if target in (SessionPhase.PRICE, SessionPhase.SUMMARY):
        key = "price_result" if target == SessionPhase.PRICE else "ranking"
        _publish(session, key, {key: details[key]}, now=now)
    elif target == SessionPhase.REPORT:
        from evaluation import report  # report.py reads this module's helpers

        report.report_draft(session=session, actor=actor, now=now)
    return session


# --- Sign-in, declaration, chair --------------------------------------------------------------------------------


@transaction.atomic
def member_sign_in(
    *, session: EvaluationSession, actor, venue_id: int, client_address: str | None = None, now: datetime | None = None
) -> SessionMember:
    """A confirmed member signs in, inside the window, from the venue of their seat: the venue the client states,
    proven by the client's address (evaluation.views.client_address) lying in one of the venue's networks when the
    venue has any (a venue without networks is not checked: production venues must have them)."""
    now = _now(now)
    session = _locked(session)
    seat = _seat(session, actor)
    _require_running(session)
    _require_window(session, now)
    _require_phase(session, *PHASE_ORDER[:-1])  # a replacement's newcomer signs in during any later phase
    if venue_id != seat.venue_id:
        raise forbidden("只能在本人席位所在的评标场地签到", "Sign in from the venue of your seat", "wrong_venue")
    if seat.venue.networks and not _in_networks(client_address, seat.venue.networks):
        raise forbidden(
            "无法确认您位于本人席位所在的评标场地，请在场地内的评标终端签到",
            "Your address is not inside your seat's venue; sign in from a terminal in the venue",
            "venue_unverified",
        )
    try:
        with transaction.atomic():
            present = SessionMember.objects.create(session=session, member=seat, signed_in_at=now, venue_id=venue_id)
    except IntegrityError:
        raise DomainError("already_signed_in", "您已签到", "You have already signed in") from None
    _audit("evaluation.signed_in", session, actor=actor, now=now, member=seat.pk, venue=venue_id, address=client_address)
    _publish(session, "signed_in", {"member": seat.pk, "venue": venue_id}, now=now)
    return present


def _in_networks(address: str | None, networks: list[str]) -> bool:
    """Whether `address` lies in one of the CIDR `networks`; a malformed entry matches nothing."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    for network in networks:
        try:
            if ip in ipaddress.ip_network(str(network), strict=False):
                return True
        except ValueError:
            continue
    return False


@transaction.atomic
def member_declare(
    *, session: EvaluationSession, actor, conflict: bool, note: str = "", now: datetime | None = None
) -> SessionMember:
    """评标规定12: each member declares that none of the avoidance grounds applies to them, or declares one. A member
    who declares a conflict acts no more; staff replace them (`session_member_replace`) before the phase may end."""
    now = _now(now)
    session, seat, present = _member_act(session, actor, now, declared=False)
    # The declaration phase; later phases too, for a member who joined as a replacement.
    _require_phase(session, *[p for p in PHASE_ORDER if p not in (SessionPhase.SIGN_IN, SessionPhase.DONE)])
    if conflict and not note.strip():
        raise _bad("reasons_required", "声明须回避的，须说明情形", "Declaring a conflict needs a description")
    if (
        SessionMember.objects.filter(pk=present.pk, declared_at__isnull=True).update(
            declared_at=now, conflict=conflict, declaration_note=note[:500]
        )
        != 1
    ):
        raise DomainError("already_declared", "您已签署回避声明", "You have already declared")
    present.refresh_from_db()
    _audit("evaluation.declared", session, actor=actor, now=now, member=seat.pk, conflict=conflict, note=note)
    _publish(session, "declared", {"member": seat.pk, "conflict": conflict}, now=now)
    return present


@transaction.atomic
def chair_vote(*, session: EvaluationSession, actor, candidate_id: int, now: datetime | None = None) -> SessionMember:
    """Each member votes for one member. Once every sitting member has voted: a member with more than half of the
    votes is the chair; otherwise (a tie, or votes spread) the votes are cleared and the committee votes again
    (the next round)."""
    now = _now(now)
    session, seat, present = _member_act(session, actor, now)
    # The chair election phase; later phases too while there is no chair (a replaced chair).
    _require_phase(session, *PHASE_ORDER[PHASE_ORDER.index(SessionPhase.CHAIR_ELECTION) : -1])
    if session.chair_id is not None:
        raise DomainError("chair_elected", "主任已推选产生", "The chair is already elected")
    sitting = {m.pk: m for m in committee(session)}
    if candidate_id not in sitting:
        raise _bad("invalid_candidate", "只能推选本委员会成员", "Vote for a member of this committee")
    if SessionMember.objects.filter(pk=present.pk, chair_vote__isnull=True).update(chair_vote_id=candidate_id) != 1:
        raise DomainError("already_voted", "您已投票", "You have already voted")
    _audit("evaluation.chair_voted", session, actor=actor, now=now, member=seat.pk, round=session.chair_round)
    _publish(session, "chair_voted", {"member": seat.pk, "round": session.chair_round}, now=now)
    votes = {a.member_id: a.chair_vote_id for a in attendance(session).values() if a.member_id in sitting}
    if len(votes) == len(sitting) and all(votes.values()):
        tally = defaultdict(int)
        for choice in votes.values():
            tally[choice] += 1
        winner, count = max(tally.items(), key=lambda item: item[1])
        counts = {str(k): v for k, v in sorted(tally.items())}
        if count * 2 > len(sitting):
            EvaluationSession.objects.filter(pk=session.pk, chair__isnull=True).update(chair_id=winner)
            _audit("evaluation.chair_elected", session, actor=actor, now=now, chair=winner, votes=counts)
            _publish(session, "chair_elected", {"chair": winner, "votes": counts}, state={"chair": winner}, now=now)
        else:
            SessionMember.objects.filter(session=session).update(chair_vote=None)
            EvaluationSession.objects.filter(pk=session.pk).update(chair_round=session.chair_round + 1)
            _audit("evaluation.chair_revote", session, actor=actor, now=now, round=session.chair_round, votes=counts)
            _publish(session, "chair_revote", {"round": session.chair_round + 1, "votes": counts}, now=now)
    present.refresh_from_db()
    return present


# --- Pass/fail reviews and scoring: a member's whole table ------------------------------------------------------


def _all_submitted(session: EvaluationSession, phase: str) -> bool:
    sitting = {m.pk for m in committee(session)}
    done = set(
        Submission.objects.filter(session=session, phase=phase, voided_at__isnull=True).values_list("member_id", flat=True)
    )
    return sitting <= done


def _cells(session: EvaluationSession, phase: str) -> tuple[list[Bid], dict[int, Criterion]]:
    return remaining_bids(session), {c.pk: c for c in criteria(session, *_scored_stages(phase))}


def _check_table(rows: list[dict], bids: list[Bid], crits: dict[int, Criterion]) -> dict[tuple[str, int], dict]:
    """Every (bid, criterion) exactly once, nothing else."""
    table = {}
    bid_ids = {str(b.pk) for b in bids}
    for row in rows:
        key = (str(row.get("bid")), row.get("criterion"))
        if key[0] not in bid_ids or key[1] not in crits or key in table:
            raise _bad("invalid_table", "评审表含有无效或重复的投标/评审因素", "The table has an unknown or repeated cell")
        table[key] = row
    if len(table) != len(bids) * len(crits):
        raise _bad("incomplete_table", "须对每个投标的每项评审因素作出评审", "Every bid must be marked on every criterion")
    return table


def _record_submission(session: EvaluationSession, seat: DrawnExpert, phase: str, now: datetime) -> None:
    try:
        with transaction.atomic():
            Submission.objects.create(session=session, phase=phase, member=seat, submitted_at=now)
    except IntegrityError:
        raise DomainError("already_submitted", "您已提交本阶段评审结果", "You have already submitted for this phase") from None


@transaction.atomic
def review_submit(*, session: EvaluationSession, actor, phase: str, verdicts: list[dict], now: datetime | None = None) -> None:
    """A member's pass/fail table for the phase: [{"bid", "criterion", "passed", "reason"}], every remaining bid on
    every criterion of the stage; a failure needs a reason (条例51). The last submission decides the phase."""
    now = _now(now)
    session, seat, _ = _member_act(session, actor, now)
    _require_phase(session, *REVIEW_PHASES)
    if phase != session.phase:
        _require_phase(session, phase)
    if ReviewResult.objects.filter(session=session, phase=phase).exists():
        raise DomainError("phase_decided", "本阶段评审结果已确定", "The result of this phase is decided")
    bids, crits = _cells(session, phase)
    table = _check_table(verdicts, bids, crits)
    for row in table.values():
        if not isinstance(row.get("passed"), bool):
            raise _bad("invalid_table", "须注明合格或不合格", "Each cell is passed or failed")
        if not row["passed"] and not (row.get("reason") or "").strip():
            raise _bad(
                "reasons_required",
                "判定不合格须说明理由",
                "A failure needs a reason",
                bid=str(row["bid"]),
                criterion=row["criterion"],
            )
    _record_submission(session, seat, phase, now)
    Mark.objects.bulk_create(
        Mark(
            session=session,
            stage=phase,
            member=seat,
            bid_id=bid,
            criterion_id=criterion,
            passed=row["passed"],
            reason="" if row["passed"] else row["reason"].strip()[:500],
            submitted_at=now,
        )
        for (bid, criterion), row in table.items()
    )
    _submitted(session, seat, phase, actor=actor, now=now)
    if _all_submitted(session, phase):
        _decide_review(session, phase, actor=actor, now=now)


def _submitted(session: EvaluationSession, seat: DrawnExpert, phase: str, *, actor, now: datetime) -> None:
    """Audit (with the member's own table in the trail) and the room event: who has submitted, never what."""
    done = list(
        Submission.objects.filter(session=session, phase=phase, voided_at__isnull=True)
        .order_by("submitted_at", "id")
        .values_list("member_id", flat=True)
    )
    marks = Mark.objects.filter(session=session, member=seat, voided_at__isnull=True, stage__in=_scored_stages(phase))
    _audit(
        "evaluation.submitted",
        session,
        actor=actor,
        now=now,
        phase=phase,
        member=seat.pk,
        marks=[[str(m.bid_id), m.criterion_id, m.passed, m.reason, m.score] for m in marks],
    )
    _publish(session, "submitted", {"phase": phase, "member": seat.pk}, state={"submitted": done}, now=now)


def _decide_review(session: EvaluationSession, phase: str, *, actor, now: datetime) -> None:
    """Majority per bid (formulas.majority): a member passes a bid when they passed it on every criterion of the
    stage. A tie (possible only with an even number of sitting members) decides nothing: the stage's marks and
    submissions are voided and the members vote again. A bid above the lot's maximum price is rejected whatever the
    votes, with the reason marked `auto`: the counts stay those of the members' verdicts, with no dissenters."""
    marks = list(Mark.objects.filter(session=session, stage=phase, voided_at__isnull=True).select_related("criterion"))
    votes: dict[str, dict[int, bool]] = defaultdict(dict)
    reasons: dict[str, list] = defaultdict(list)
    for mark in marks:
        bid = str(mark.bid_id)
        votes[bid][mark.member_id] = votes[bid].get(mark.member_id, True) and mark.passed
        if not mark.passed:
            reasons[bid].append({"member": mark.member_id, "criterion": mark.criterion.name, "reason": mark.reason})
    verdicts = {bid: formulas.majority(by_member) for bid, by_member in votes.items()}
    # 条例51第五项: a bid above the maximum price is rejected whatever the votes (a tie on it changes nothing).
    over = {bid: found for bid, found in over_max_price(session.lot).items() if bid in verdicts}
    for bid, found in over.items():
        reasons[bid].append({"criterion": "最高投标限价", "reason": found["reason"], "auto": True})
    if any(v.passed is None for bid, v in verdicts.items() if bid not in over):
        Mark.objects.filter(session=session, stage=phase, voided_at__isnull=True).update(voided_at=now, void_reason="revote")
        Submission.objects.filter(session=session, phase=phase, voided_at__isnull=True).update(voided_at=now)
        tied = sorted(bid for bid, v in verdicts.items() if v.passed is None and bid not in over)
        _audit("evaluation.review_tied", session, actor=actor, now=now, phase=phase, bids=tied)
        _publish(session, "review_revote", {"phase": phase, "bids": tied}, state={"submitted": []}, now=now)
        return
    results = [
        ReviewResult(
            session=session,
            phase=phase,
            bid_id=bid,
            passed=bool(v.passed) and bid not in over,
            votes_for=v.votes_for,
            votes_against=v.votes_against,
            dissenters=[] if bid in over else sorted(v.dissenters),  # a rejection by law, not by majority
            reasons=reasons[bid],
            decided_at=now,
        )
        for bid, v in sorted(verdicts.items())
    ]
    ReviewResult.objects.bulk_create(results)
    shown = [
        {
            "bid": r.bid_id,
            "passed": r.passed,
            "votes_for": r.votes_for,
            "votes_against": r.votes_against,
            "dissenters": r.dissenters,
            "reasons": r.reasons,
        }
        for r in results
    ]
    _audit("evaluation.review_decided", session, actor=actor, now=now, phase=phase, results=shown, above_max_price=sorted(over))
    _publish(session, "review_decided", {"phase": phase, "results": shown}, now=now)


def _score(value, criterion: Criterion) -> Decimal:
    try:
        score = Decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
        score = None
    if (
        score is None
        or not score.is_finite()
        or score != score.quantize(Decimal("0.01"))
        or not 0 <= score <= criterion.max_score
    ):
        raise _bad(
            "invalid_score",
            f"“{criterion.name}”的得分须在0至{criterion.max_score}之间，至多两位小数",
            f"The score on “{criterion.name}” must be between 0 and {criterion.max_score}, with at most 2 decimals",
            criterion=criterion.pk,
        )
    return score


@transaction.atomic
def scores_submit(*, session: EvaluationSession, actor, scores: list[dict], now: datetime | None = None) -> None:
    """A member's score table: [{"bid", "criterion", "score"}], every remaining bid on every technical and commercial
    criterion, each score within 0..max. Refused once the phase has closed. The last submission checks dispersion."""
    now = _now(now)
    session, seat, _ = _member_act(session, actor, now)
    _require_phase(session, SessionPhase.SCORING)
    bids, crits = _cells(session, SessionPhase.SCORING)
    table = _check_table(scores, bids, crits)
    values = {key: _score(row.get("score"), crits[key[1]]) for key, row in table.items()}
    _record_submission(session, seat, SessionPhase.SCORING, now)
    Mark.objects.bulk_create(
        Mark(
            session=session,
            stage=crits[criterion].stage,
            member=seat,
            bid_id=bid,
            criterion_id=criterion,
            score=value,
            submitted_at=now,
        )
        for (bid, criterion), value in values.items()
    )
    _submitted(session, seat, SessionPhase.SCORING, actor=actor, now=now)
    if _all_submitted(session, SessionPhase.SCORING):
        _check_dispersion(session, actor=actor, now=now)


def _check_dispersion(session: EvaluationSession, *, actor, now: datetime, cell: tuple | None = None) -> list[DispersionFlag]:
    """Flags every score further from the others' mean than the rule set allows (trading.rules.score_dispersion),
    over the whole table or one (bid, criterion) cell after an amendment. A score its member has confirmed on that
    cell is not flagged again. Each flag goes to its member (and the watchers) only."""
    marks = Mark.objects.filter(session=session, stage__in=_scored_stages(SessionPhase.SCORING), voided_at__isnull=True)
    if cell is not None:
        marks = marks.filter(bid_id=cell[0], criterion_id=cell[1])
    by_cell: dict[tuple, dict[int, Mark]] = defaultdict(dict)
    for mark in marks.select_related("criterion", "member__expert"):
        by_cell[(mark.bid_id, mark.criterion_id)][mark.member_id] = mark
    confirmed = set(
        DispersionFlag.objects.filter(session=session, resolution=DispersionFlag.Resolution.CONFIRMED).values_list(
            "mark_id", flat=True
        )
    )
    raised = []
    rule_set = session.lot.project.rule_set
    for cell_marks in by_cell.values():
        any_mark = next(iter(cell_marks.values()))
        scores = {member: mark.score for member, mark in cell_marks.items()}
        for deviation in rules.score_dispersion(rule_set, scores, max_score=any_mark.criterion.max_score):
            mark = cell_marks[deviation.member]
            if mark.pk in confirmed or DispersionFlag.objects.filter(mark=mark, resolution="").exists():
                continue
            flag = DispersionFlag.objects.create(
                session=session,
                mark=mark,
                member=mark.member,
                score=deviation.score,
                others_mean=deviation.others_mean,
                deviation=deviation.deviation,
                limit=deviation.limit,
                raised_at=now,
            )
            raised.append(flag)
            _publish(session, "dispersion_flag", _flag_payload(flag), to=mark.member.expert.user_id, now=now)
    if raised:
        _audit(
            "evaluation.dispersion_flagged",
            session,
            actor=actor,
            now=now,
            flags=[_flag_payload(f) for f in raised],
        )
        _publish(session, "dispersion_open", {"members": sorted({f.member_id for f in raised})}, now=now)
    return raised


def _flag_payload(flag: DispersionFlag) -> dict:
    return {
        "flag": flag.pk,
        "member": flag.member_id,
        "bid": str(flag.mark.bid_id),
        "criterion": flag.mark.criterion_id,
        "score": flag.score,
        "others_mean": flag.others_mean,
        "deviation": flag.deviation,
        "limit": flag.limit,
    }


@transaction.atomic
def flag_resolve(
    *, session: EvaluationSession, actor, flag_id: int, amend_to=None, now: datetime | None = None
) -> DispersionFlag:
    """The flagged member confirms their score (amend_to None) or amends it (amend_to: the new score). An amended
    score is checked again with the others on that cell."""
    now = _now(now)
    session, seat, _ = _member_act(session, actor, now)
    _require_phase(session, SessionPhase.SCORING)
    flag = DispersionFlag.objects.filter(pk=flag_id, session=session, member=seat).select_related("mark__criterion").first()
    if flag is None:
        raise _not_found()
    resolution = DispersionFlag.Resolution.CONFIRMED if amend_to is None else DispersionFlag.Resolution.AMENDED
    score = None if amend_to is None else _score(amend_to, flag.mark.criterion)
    if DispersionFlag.objects.filter(pk=flag.pk, resolution="").update(resolution=resolution, resolved_at=now) != 1:
        raise DomainError("flag_resolved", "该提示已处理", "This alert has already been answered")
    mark = flag.mark
    if score is not None:
        Mark.objects.filter(pk=mark.pk, voided_at__isnull=True).update(score=score, amended_at=now)
    flag.refresh_from_db()
    _audit(
        f"evaluation.dispersion_{resolution}",
        session,
        actor=actor,
        now=now,
        flag=flag.pk,
        member=seat.pk,
        score_before=mark.score,
        score_after=score if score is not None else mark.score,
    )
    _publish(session, "dispersion_resolved", {"flag": flag.pk, "member": seat.pk, "resolution": resolution}, now=now)
    if score is not None:
        _check_dispersion(session, actor=actor, now=now, cell=(mark.bid_id, mark.criterion_id))
    return flag


# --- Price and summary (computed when the phase is entered) -------------------------------------------------------


def _read_price(bid: Bid) -> Decimal | None:
    try:
        price = Decimal(str(bid.opening_summary.get("price", "")).replace(",", ""))
    except (InvalidOperation, AttributeError):
        return None
    return price if price.is_finite() and price > 0 else None


def _price(bid: Bid) -> Decimal:
    price = _read_price(bid)
    if price is None:
        raise DomainError(
            "price_missing",
            f"{bid.bidder.name} 的开标报价无法读取",
            f"The opened price of {bid.bidder.name} cannot be read",
            extra={"bid": str(bid.pk)},
        )
    return price


def over_max_price(lot: Lot) -> dict[str, dict]:
    """The opened bids priced above the lot's maximum price (trading.rules.above_max_price, 条例51第五项), by bid id:
    shown to the committee from the start, rejected when the review is decided. A price that cannot be read is left
    to the price phase (`price_missing`)."""
    if lot.max_price is None:
        return {}
    found = {}
    bids = Bid.objects.filter(lot_id=lot.pk, opening__isnull=False, status=BidStatus.DECRYPTED).select_related("bidder")
    for bid in bids.order_by("bidder__credit_code"):
        price = _read_price(bid)
        breach = None if price is None else rules.above_max_price(price=price, max_price=lot.max_price)
        if breach is not None:
            found[str(bid.pk)] = {
                "bid": str(bid.pk),
                "bidder": bid.bidder.name,
                "price": price,
                "max_price": lot.max_price,
                "reason": breach.zh,
            }
    return found


def _adjustments(session: EvaluationSession) -> dict[str, list[PriceAdjustment]]:
    by_bid: dict[str, list[PriceAdjustment]] = defaultdict(list)
    for adjustment in PriceAdjustment.objects.filter(session=session).order_by("recorded_at", "id"):
        by_bid[str(adjustment.bid_id)].append(adjustment)
    return by_bid


def price_phase_result(session: EvaluationSession) -> dict:
    """The price scores of the remaining bids from the prices read at the opening, with the lot's formula
    (comprehensive), or the evaluated prices: the price plus the chair's adjustments (lowest evaluated price,
    评标规定30-31; recomputed after each adjustment)."""
    method = method_of(session)
    bids = remaining_bids(session)
    prices = {str(b.pk): _price(b) for b in bids}
    if not prices:
        return {"prices": {}, "scores": {}}
    if method.kind == EvaluationKind.LOWEST_PRICE:
        adjustments = _adjustments(session)
        result = {
            "prices": prices,
            "evaluated": {k: formulas.evaluated_price(p, [a.amount for a in adjustments[k]]) for k, p in prices.items()},
        }
        shown = {
            k: [{"id": a.pk, "factor": a.factor, "amount": a.amount, "reason": a.reason} for a in adjustments[k]]
            for k in prices
            if adjustments[k]
        }
        return {**result, "adjustments": shown} if shown else result
    result = formulas.price_scores(prices, draws.price_rule(method))
    return {
        "prices": prices,
        "scores": result.scores,
        "benchmark": result.benchmark,
        "dropped": list(result.dropped),
        "lowest": result.lowest,
    }


def _submitted_at(bid: Bid) -> datetime:
    return datetime.fromisoformat(unseal(BID_PURPOSE, "", bid.sealed)["submitted_at"])


def summary_ranking(session: EvaluationSession) -> list[dict]:
    """Totals and ranking (formulas.bid_totals, rank_by_score / rank_by_evaluated_price, ties as documented), from the
    marks of the members sitting (void marks left out) and the price phase's result."""
    method = method_of(session)
    bids = {str(b.pk): b for b in remaining_bids(session)}
    if not bids:
        return []
    session.refresh_from_db(fields=["price_result"])
    prices = {k: Decimal(str(v)) for k, v in session.price_result["prices"].items()}
    if method.kind == EvaluationKind.LOWEST_PRICE:
        adjustments = _adjustments(session)  # the adjustments themselves, not the copy kept on entering the phase
        evaluated = {k: formulas.evaluated_price(prices[k], [a.amount for a in adjustments[k]]) for k in bids}
        rows = [formulas.RankInput(k, evaluated[k], prices[k], _submitted_at(b)) for k, b in bids.items()]
        return [
            {
                "bid": r.key,
                "bidder": bids[r.key].bidder.name,
                "rank": r.rank,
                "evaluated_price": r.value,
                "price": r.price,
                "decided_by": r.decided_by,
            }
            for r in formulas.rank_by_evaluated_price(rows)
        ]
    crits = {c.pk: c for c in criteria(session, CriterionStage.TECHNICAL, CriterionStage.COMMERCIAL)}
    table: dict[str, dict[int, list[Decimal]]] = {k: {c: [] for c in crits} for k in bids}
    for mark in Mark.objects.filter(session=session, stage__in=[c.stage for c in crits.values()], voided_at__isnull=True):
        table[str(mark.bid_id)][mark.criterion_id].append(mark.score)
    price_scores = {k: Decimal(str(v)) for k, v in session.price_result["scores"].items()}
    if not crits:
        totals = {k: formulas.BidTotal(k, Decimal("0.00"), Decimal("0.00"), price_scores[k], price_scores[k], {}) for k in bids}
    else:
        totals = formulas.bid_totals(table, {c.pk: c.stage for c in crits.values()}, price_scores, draws.aggregation_rule(method))
    rows = [formulas.RankInput(k, totals[k].total, prices[k], _submitted_at(b)) for k, b in bids.items()]
    return [
        {
            "bid": r.key,
            "bidder": bids[r.key].bidder.name,
            "rank": r.rank,
            "technical": totals[r.key].technical,
            "commercial": totals[r.key].commercial,
            "price_score": totals[r.key].price_score,
            "total": r.value,
            "price": r.price,
            "criteria": {str(c): v for c, v in totals[r.key].criteria.items()},
            "decided_by": r.decided_by,
        }
        for r in formulas.rank_by_score(rows)
    ]


# --- More time (条例48) ------------------------------------------------------------------------------------------


@transaction.atomic
def extension_propose(
    *, session: EvaluationSession, actor, minutes: int, reason: str, now: datetime | None = None
) -> ExtensionProposal:
    """A member says the time is short and proposes `minutes` more. The proposal counts as the proposer's yes."""
    now = _now(now)
    session, seat, _ = _member_act(session, actor, now)
    _require_phase(session, *PHASE_ORDER[:-1])
    if not reason.strip() or not 0 < minutes <= 24 * 60:
        raise _bad("invalid_extension", "须说明理由，延长时间为1至1440分钟", "Give a reason and 1 to 1440 minutes")
    try:
        with transaction.atomic():
            proposal = ExtensionProposal.objects.create(
                session=session,
                proposed_by=seat,
                minutes=minutes,
                reason=reason.strip()[:500],
                proposed_at=now,
                window_end_before=session.request.window_end,
            )
    except IntegrityError:
        raise DomainError("extension_open", "已有延长评标时间的表决在进行", "An extension vote is already open") from None
    ExtensionBallot.objects.create(proposal=proposal, member=seat, yes=True, cast_at=now)
    _audit("evaluation.extension_proposed", session, actor=actor, now=now, proposal=proposal.pk, minutes=minutes, reason=reason)
    _publish(
        session, "extension_proposed", {"proposal": proposal.pk, "by": seat.pk, "minutes": minutes, "reason": reason}, now=now
    )
    _tally(session, proposal, actor=actor, now=now)
    proposal.refresh_from_db()
    return proposal


@transaction.atomic
def extension_vote(
    *, session: EvaluationSession, actor, proposal_id: int, yes: bool, now: datetime | None = None
) -> ExtensionProposal:
    now = _now(now)
    session, seat, _ = _member_act(session, actor, now)
    proposal = ExtensionProposal.objects.filter(pk=proposal_id, session=session).first()
    if proposal is None:
        raise _not_found()
    if proposal.status != ExtensionProposal.Status.OPEN:
        raise DomainError("extension_closed", "该表决已结束", "This vote is closed", extra={"status": proposal.status})
    try:
        with transaction.atomic():
            ExtensionBallot.objects.create(proposal=proposal, member=seat, yes=yes, cast_at=now)
    except IntegrityError:
        raise DomainError("already_voted", "您已投票", "You have already voted") from None
    _audit("evaluation.extension_voted", session, actor=actor, now=now, proposal=proposal.pk, member=seat.pk, yes=yes)
    _publish(session, "extension_voted", {"proposal": proposal.pk, "member": seat.pk}, now=now)
    _tally(session, proposal, actor=actor, now=now)
    proposal.refresh_from_db()
    return proposal


def _tally(session: EvaluationSession, proposal: ExtensionProposal, *, actor, now: datetime) -> None:
    """Carried as soon as the yes votes exceed the rule set's fraction of the sitting members (trading.rules
    .extension_carried): the window end moves by `minutes`. Not carried once every member has voted without that."""
    sitting = {m.pk for m in committee(session)}
    ballots = {b.member_id: b.yes for b in proposal.ballots.all() if b.member_id in sitting}
    yes = sum(ballots.values())
    if rules.extension_carried(session.lot.project.rule_set, votes_for=yes, members=len(sitting)):
        before = session.request.window_end
        after = before + timedelta(minutes=proposal.minutes)
        if DrawRequest.objects.filter(pk=session.request_id, window_end=before).update(window_end=after) != 1:
            raise DomainError("window_changed", "评标时间已被修改，请重试", "The window changed meanwhile; try again")
        ExtensionProposal.objects.filter(pk=proposal.pk, status=ExtensionProposal.Status.OPEN).update(
            status=ExtensionProposal.Status.CARRIED, decided_at=now, window_end_before=before, window_end_after=after
        )
        _audit(
            "evaluation.extended",
            session,
            actor=actor,
            now=now,
            proposal=proposal.pk,
            yes=yes,
            members=len(sitting),
            window_end_before=before,
            window_end_after=after,
        )
        _publish(
            session, "extended", {"proposal": proposal.pk, "window_end": after}, state={"window_end": after.isoformat()}, now=now
        )
    elif len(ballots) == len(sitting):
        ExtensionProposal.objects.filter(pk=proposal.pk, status=ExtensionProposal.Status.OPEN).update(
            status=ExtensionProposal.Status.NOT_CARRIED, decided_at=now
        )
        _audit(
            "evaluation.extension_not_carried", session, actor=actor, now=now, proposal=proposal.pk, yes=yes, members=len(sitting)
        )
        _publish(session, "extension_not_carried", {"proposal": proposal.pk}, now=now)


# --- Replacing a member during the evaluation (条例48) -----------------------------------------------------------


@transaction.atomic
def session_member_replace(
    *, session: EvaluationSession, member: DrawnExpert, actor, reason: str, now: datetime | None = None
) -> DrawnExpert:
    """Staff replace a sitting member (a declared conflict, illness, misconduct). The request goes back to `drawn`
    and evaluation.services.member_replace withdraws the member and invites the line's next backup; the committee is
    fixed again when the backup confirms (member_respond), and until then every session action is refused
    (`committee_incomplete`). The replaced member's marks, submissions, chair vote, ballots and open flags in this
    session are void (条例48). Phases: the phase in progress continues (the newcomer signs in, declares and submits);
    decided review phases stand; a replacement during scoring, price or summary sends the session back to scoring; a
    replaced chair is elected again."""
    now = _now(now)
    require_role(actor, Role.STAFF)
    session = _locked(session)
    if session.phase == SessionPhase.DONE:
        raise DomainError("invalid_phase", "评审已结束", "The evaluation is finished", extra={"phase": session.phase})
    _require_running(session, allow_paused=True)  # replacing a member is often why the room was paused
    if not DrawnExpert.objects.filter(pk=member.pk, draw__request=session.request_id, status=MemberStatus.CONFIRMED).exists():
        raise _not_found()
    DrawRequest.objects.filter(pk=session.request_id, status=DrawRequest.Status.FIXED).update(status=DrawRequest.Status.DRAWN)
    replaced = draws.member_replace(member=member, actor=actor, reason=reason, now=now)
    voided = Mark.objects.filter(session=session, member=member, voided_at__isnull=True).update(
        voided_at=now, void_reason="replaced"
    )
    Submission.objects.filter(session=session, member=member, voided_at__isnull=True).update(voided_at=now)
    SessionMember.objects.filter(session=session, member=member, voided_at__isnull=True).update(voided_at=now)
    SessionMember.objects.filter(session=session, chair_vote=member).update(chair_vote=None)
    DispersionFlag.objects.filter(session=session, member=member, resolution="").update(
        resolution=DispersionFlag.Resolution.VOID, resolved_at=now
    )
    ExtensionBallot.objects.filter(proposal__session=session, member=member, proposal__status="open").delete()
    was_chair = session.chair_id == member.pk
    if was_chair:
        EvaluationSession.objects.filter(pk=session.pk).update(chair=None, chair_round=session.chair_round + 1)
    _audit(
        "evaluation.member_replaced",
        session,
        actor=actor,
        now=now,
        member=member.pk,
        reason=reason,
        marks_voided=voided,
        phase=session.phase,
    )
    if session.phase in RESCORE_PHASES[1:]:
        EvaluationSession.objects.filter(pk=session.pk).update(price_result={}, ranking=[])
        session = _move(session, source=session.phase, target=SessionPhase.SCORING, actor=actor, now=now, restart="replacement")
    _publish(session, "member_replaced", {"member": member.pk}, state={"chair": None} if was_chair else None, now=now)
    _evict(session, replaced.expert.user_id)
    return replaced
