"""Writes for the expert draw (专家抽取) and the committee it forms (评标委员会组建).

request created (staff) → draw run: seed committed in the audit trail, then the streams drawn, members invited,
backups kept → each member confirms or declines (the expert, or staff recording a telephone answer); a decline,
a timeout (the sweep) or a replacement by staff invites the next item of the same line's stream → every seat
confirmed: the committee is fixed and the seed revealed. docs/experts.md ("Draw") is the specification.

Every change to a draw's members holds the Draw row's lock, so two answers or an answer and the sweep
never fill one seat twice.
"""

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status

from audit.services import audit_record
from evaluation import draw_random, formulas
from evaluation.models import (
    PASS_FAIL_STAGES,
    SCORED_STAGES,
    SEATED,
    Criterion,
    CriterionStage,
    Draw,
    DrawLine,
    DrawnExpert,
    DrawRequest,
    DrawVenue,
    EvaluationKind,
    EvaluationMethod,
    MemberStatus,
    Venue,
)
from evaluation.notify import Message, notify
from evaluation.selectors import eligible_ids_by_line, is_eligible
from experts.models import Expert, Specialty
from realtime.services import push_to_users
from trading import rules
from trading.access import forbidden, require_role, require_tenderee_side
from trading.api import DomainError
from trading.codes import validate_credit_code
from trading.models import Lot, LotStatus, PriceFormula, Review, Role, RuleSet
from trading.sealing import seal, unseal
from trading.services import breach_error

SEAL_PURPOSE = "expert-draw"
# The lot states in which a committee may be requested; it is drawn once the bidders are known (at opening).
REQUEST_STATES = (
    LotStatus.REGISTERED,
    LotStatus.FILED,
    LotStatus.PUBLISHED,
    LotStatus.TENDERING,
    LotStatus.OPENING,
    LotStatus.EVALUATING,
)
DRAW_STATES = (LotStatus.OPENING, LotStatus.EVALUATING)


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def _bad(code: str, zh: str, en: str, **extra) -> DomainError:
    return DomainError(code, zh, en, status_code=status.HTTP_400_BAD_REQUEST, extra=extra or None)


def _seal_scope(draw_id: int) -> str:
    return f"draw-{draw_id}"


def draw_seed(draw: Draw) -> bytes:
    """The seed: in clear once revealed, else opened from its seal."""
    if draw.seed:
        return bytes.fromhex(draw.seed)
    return bytes.fromhex(unseal(SEAL_PURPOSE, _seal_scope(draw.pk), draw.seed_sealed)["seed"])


# --- The request --------------------------------------------------------------------------------------------------


@transaction.atomic
def draw_request_create(
    *,
    lot: Lot,
    actor,
    lines: list[dict],
    venues: list[dict],
    window_start: datetime,
    window_end: datetime,
    backups_per_line: int = 2,
    tenderee_reps: int = 0,
    response_minutes: int = 30,
    excluded_employers: list[str] | None = None,
    excluded_experts: list[int] | None = None,
    exclusion_note: str = "",
    regional_pool: bool = False,
    now: datetime | None = None,
) -> DrawRequest:
    """lines: [{"specialty_code", "count"}]; venues: [{"venue": Venue, "seats"}]. Every check comes before any write."""
    now = _now(now)
    require_role(actor, Role.STAFF)
    lot = Lot.objects.select_related("project__rule_set").get(pk=lot.pk)
    if lot.status not in REQUEST_STATES:
        raise DomainError("invalid_lot_state", "该标段当前不能申请抽取专家", "No expert draw can be requested for this lot now")
    excluded_employers = sorted({code.strip().upper() for code in excluded_employers or [] if code.strip()})
    excluded_experts = sorted(set(excluded_experts or []))
    _check_lines(lines)
    if window_end <= window_start or window_start <= now:
        raise _bad(
            "invalid_window",
            "评标时间须在将来且结束晚于开始",
            "The evaluation window must be in the future and end after it starts",
        )
    experts = sum(line["count"] for line in lines)
    breaches = rules.committee_breaches(lot.project.rule_set, experts=experts, tenderee_reps=tenderee_reps)
    if breaches:
        error = breach_error(breaches[0])
        error.extra = {"breaches": [{"code": b.code, "article": b.article, "zh": b.zh, "en": b.en} for b in breaches]}
        raise error
    _check_venues(venues, experts)
    for code in excluded_employers:
        try:
            validate_credit_code(code)
        except ValidationError:
            raise _bad("invalid_credit_code", f"回避单位代码无效：{code}", f"Not a valid credit code: {code}") from None
    if Expert.objects.filter(pk__in=excluded_experts).count() != len(excluded_experts):
        raise _bad("unknown_expert", "回避专家不存在", "An excluded expert does not exist")
    try:
        with transaction.atomic():
            request = DrawRequest.objects.create(
                lot=lot,
                backups_per_line=backups_per_line,
                tenderee_reps=tenderee_reps,
                window_start=window_start,
                window_end=window_end,
                response_minutes=response_minutes,
                excluded_employers=excluded_employers,
                excluded_experts=excluded_experts,
                exclusion_note=exclusion_note,
                regional_pool=regional_pool,
                created_by=actor,
                created_at=now,
            )
    except IntegrityError:
        raise DomainError(
            "draw_request_exists", "该标段已有专家抽取申请", "This lot already has an expert draw request"
        ) from None
    DrawLine.objects.bulk_create(
        DrawLine(request=request, position=i, specialty_code=line["specialty_code"], count=line["count"])
        for i, line in enumerate(lines)
    )
    DrawVenue.objects.bulk_create(DrawVenue(request=request, venue=v["venue"], seats=v["seats"]) for v in venues)
    audit_record(
        action="draw_request.created",
        actor=actor,
        obj=request,
        lot_id=lot.pk,
        after={
            "lines": [{"specialty": line["specialty_code"], "count": line["count"]} for line in lines],
            "backups_per_line": backups_per_line,
            "tenderee_reps": tenderee_reps,
            "venues": [{"venue": v["venue"].pk, "seats": v["seats"]} for v in venues],
            "window": [window_start, window_end],
            "excluded_employers": excluded_employers,
            "excluded_experts": excluded_experts,
            "exclusion_note": exclusion_note,
            "regional_pool": regional_pool,
        },
        now=now,
    )
    return request


def _check_lines(lines: list[dict]) -> None:
    if not lines:
        raise _bad("no_lines", "至少须抽取一个专业", "A draw needs at least one specialty line")
    codes = [line["specialty_code"] for line in lines]
    if len(set(codes)) != len(codes):
        raise _bad("duplicate_line", "同一专业不能重复申请", "A specialty appears twice")
    known = set(Specialty.objects.filter(code__in=codes).values_list("code", flat=True))
    if unknown := [code for code in codes if code not in known]:
        raise _bad("unknown_specialty", f"专业代码不存在：{'、'.join(unknown)}", f"Unknown specialty: {', '.join(unknown)}")
    if any(line["count"] < 1 for line in lines):
        raise _bad("invalid_count", "每个专业至少抽取1人", "Each line draws at least one expert")


def _check_venues(venues: list[dict], experts: int) -> None:
    ids = [v["venue"].pk for v in venues]
    if not venues or len(set(ids)) != len(ids):
        raise _bad("invalid_venues", "须指定评标场地且不得重复", "Name the venues, each once")
    if sum(1 for v in venues if v["venue"].kind == Venue.Kind.MAIN) != 1:
        raise _bad("one_main_venue", "远程异地评标须有且仅有一个主场", "A remote evaluation has exactly one main venue")
    for v in venues:
        if not v["venue"].active or not 0 < v["seats"] <= v["venue"].seats:
            raise _bad(
                "venue_seats",
                f"{v['venue'].name} 席位数不足或场地未启用",
                f"{v['venue'].name}: not enough seats, or not in use",
            )
    if sum(v["seats"] for v in venues) != experts:
        raise _bad(
            "seats_mismatch",
            f"各场地席位合计应等于抽取专家人数（{experts}人）",
            f"The seats booked must add up to the experts drawn ({experts})",
        )


@transaction.atomic
def draw_request_cancel(*, request: DrawRequest, actor, reason: str, now: datetime | None = None) -> DrawRequest:
    """Cancels a request before its committee is fixed; invited and confirmed members are released and the seed,
    if drawn, is revealed (the draw can then be checked like any other)."""
    now = _now(now)
    require_role(actor, Role.STAFF)
    if not reason.strip():
        raise _bad("reasons_required", "取消须说明理由", "Cancelling needs a reason")
    draw = Draw.objects.select_for_update().filter(pk=request.pk).first()
    updated = DrawRequest.objects.filter(pk=request.pk, status__in=[DrawRequest.Status.PENDING, DrawRequest.Status.DRAWN]).update(
        status=DrawRequest.Status.CANCELLED
    )
    if updated != 1:
        raise _invalid_state(request)
    released = []
    if draw is not None:
        released = list(DrawnExpert.objects.filter(draw=draw, status__in=SEATED).select_related("expert"))
        DrawnExpert.objects.filter(pk__in=[m.pk for m in released]).update(status=MemberStatus.REPLACED, reason="申请已取消")
        _reveal(draw, actor=actor, now=now)
    request.refresh_from_db()
    audit_record(
        action="draw_request.cancelled",
        actor=actor,
        obj=request,
        lot_id=request.lot_id,
        after={"reason": reason, "released": [m.expert_id for m in released]},
        now=now,
    )
    _after_commit_notify([(m.expert, Message("replaced")) for m in released])
    return request


def _invalid_state(request: DrawRequest) -> DomainError:
    current = DrawRequest.objects.filter(pk=request.pk).values_list("status", flat=True).first()
    return DomainError(
        "invalid_draw_state",
        f"抽取申请当前状态为“{DrawRequest.Status(current).label}”，不能执行此操作",
        f"The draw request is {current}; this action is not possible",
        extra={"status": current},
    )


# --- The draw ----------------------------------------------------------------------------------------------------


def _seats(request: DrawRequest) -> list[tuple[Venue, int]]:
    """Every seat booked, main venue first, then the secondary venues in booking order: (venue, seat number)."""
    booked = sorted(request.venues.select_related("venue"), key=lambda b: (b.venue.kind != Venue.Kind.MAIN, b.pk))
    return [(b.venue, n) for b in booked for n in range(1, b.seats + 1)]


def _shortfall_error(shortfall: list[dict]) -> DomainError:
    text = "；".join(f"{s['specialty']} 需 {s['needed']} 人，符合条件 {s['eligible']} 人" for s in shortfall)
    text_en = "; ".join(f"{s['specialty']}: {s['needed']} needed, {s['eligible']} eligible" for s in shortfall)
    return DomainError(
        "too_few_eligible_experts",
        f"符合条件的专家不足，无法抽取（条例46）：{text}",
        f"Too few eligible experts to draw (条例46): {text_en}",
        status_code=status.HTTP_422_UNPROCESSABLE_ENTITY,
        extra={"shortfall": shortfall},
    )


@transaction.atomic
def draw_run(*, request: DrawRequest, actor, now: datetime | None = None, seed: bytes | None = None) -> Draw:
    """条例46: commit to a fresh seed in the audit trail, then draw every line's stream and invite the members.

    `seed` is for tests and the benchmark only; the service otherwise takes 32 fresh bytes from `secrets`.
    """
    now = _now(now)
    require_role(actor, Role.STAFF)
    request = DrawRequest.objects.select_for_update().select_related("lot__project__rule_set").get(pk=request.pk)
    if request.status != DrawRequest.Status.PENDING:
        raise _invalid_state(request)
    lot = request.lot
    if lot.status not in DRAW_STATES or lot.enrolments_unsealed_at is None:
        raise DomainError(
            "bidders_not_known",
            "开标后（投标人名单解封后）方可抽取专家",
            "Experts are drawn after the opening, once the bidders are known",
        )
    if request.window_start <= now:
        raise DomainError(
            "window_passed", "评标开始时间已过，请重新申请", "The evaluation window has started; make a new request"
        )
    lines = list(request.lines.order_by("position"))
    eligible = eligible_ids_by_line(request, now=now, lines=[line.specialty_code for line in lines])
    needed = {line.specialty_code: line.count + request.backups_per_line for line in lines}
    shortfall = [
        {"specialty": code, "needed": needed[code], "eligible": len(ids), "missing": needed[code] - len(ids)}
        for code, ids in eligible
        if len(ids) < needed[code]
    ]
    if shortfall:
        raise _shortfall_error(shortfall)

    # 1. Commit: the seed is fixed and its commitment written to the audit trail before anything is drawn.
    seed = seed or draw_random.new_seed()
    snapshot = draw_random.encode_snapshot(eligible)
    snapshot_sha256 = draw_random.snapshot_hash(snapshot)
    commitment = draw_random.commitment(
        seed=seed, draw_id=request.pk, transaction_code=lot.transaction_code, eligible_hash=snapshot_sha256
    )
    draw = Draw.objects.create(
        request=request,
        commitment=commitment,
        seed_sealed=seal(SEAL_PURPOSE, _seal_scope(request.pk), {"seed": seed.hex()}),
        snapshot=snapshot,
        snapshot_sha256=snapshot_sha256,
        created_by=actor,
        created_at=now,
    )
    audit_record(
        action="draw.committed",
        actor=actor,
        obj=draw,
        lot_id=lot.pk,
        after={
            "commitment": commitment,
            "snapshot_sha256": snapshot_sha256,
            "transaction_code": lot.transaction_code,
            "eligible": [{"specialty": code, "count": len(ids)} for code, ids in eligible],
        },
        now=now,
    )

    # 2. Draw: each line's stream in order; an expert already taken by an earlier line is skipped.
    rows, taken, shortfall = [], set(), []
    seats = iter(_seats(request))
    respond_by = now + timedelta(minutes=request.response_minutes)
    for line, (code, ids) in zip(lines, eligible, strict=True):
        wanted = line.count + request.backups_per_line
        got = 0
        for position, expert_id in enumerate(draw_random.stream(seed, code, ids)):
            if got == wanted:
                break
            row = DrawnExpert(draw=draw, line=line, position=position, expert_id=expert_id)
            if expert_id in taken:
                row.status, row.reason = MemberStatus.SKIPPED, "duplicate"
            elif got < line.count:
                venue, seat = next(seats)
                row.status, row.venue, row.seat, row.invited_at, row.respond_by = (
                    MemberStatus.INVITED,
                    venue,
                    seat,
                    now,
                    respond_by,
                )
                taken.add(expert_id)
                got += 1
            else:
                row.status = MemberStatus.BACKUP
                taken.add(expert_id)
                got += 1
            rows.append(row)
        if got < wanted:
            shortfall.append({"specialty": code, "needed": wanted, "eligible": got, "missing": wanted - got})
    if shortfall:
        raise _shortfall_error(shortfall)  # only experts shared between lines can cause this; nothing is kept
    DrawnExpert.objects.bulk_create(rows)
    DrawRequest.objects.filter(pk=request.pk, status=DrawRequest.Status.PENDING).update(status=DrawRequest.Status.DRAWN)
    audit_record(
        action="draw.drawn",
        actor=actor,
        obj=draw,
        lot_id=lot.pk,
        after={
            "members": [
                {
                    "specialty": r.line.specialty_code,
                    "position": r.position,
                    "expert": r.expert_id,
                    "status": r.status,
                    "reason": r.reason,
                }
                for r in rows
            ]
        },
        now=now,
    )
    _invite_after_commit([r for r in rows if r.status == MemberStatus.INVITED], request)
    return draw


def _invite_after_commit(members: list[DrawnExpert], request: DrawRequest) -> None:
    if not members:
        return
    experts = Expert.objects.in_bulk([m.expert_id for m in members])
    _after_commit_notify(
        [
            (
                experts[m.expert_id],
                Message(
                    "invitation",
                    window_start=timezone.localtime(request.window_start),
                    window_end=timezone.localtime(request.window_end),
                    venue=m.venue.name,
                    seat=m.seat,
                    respond_by=timezone.localtime(m.respond_by),
                ),
            )
            for m in members
        ]
    )
    user_ids = [experts[m.expert_id].user_id for m in members if experts[m.expert_id].user_id]
    push_to_users(user_ids, {"type": "committee_invitation"})


def _after_commit_notify(messages: list[tuple[Expert, Message]]) -> None:
    if messages:
        transaction.on_commit(lambda: [notify(expert, message) for expert, message in messages])


# --- Answers, replacements, the committee fixed ------------------------------------------------------------------------


def _locked_draw(member: DrawnExpert) -> Draw:
    return Draw.objects.select_for_update().select_related("request__lot").get(pk=member.draw_id)


def _member_audit(action: str, member: DrawnExpert, *, actor, now: datetime, **after) -> None:
    audit_record(
        action=action,
        actor=actor,
        obj=member,
        lot_id=member.draw.request.lot_id,
        after={"expert": member.expert_id, "specialty": member.line.specialty_code, "position": member.position, **after},
        now=now,
    )


@transaction.atomic
def member_respond(*, member: DrawnExpert, actor, accept: bool, reason: str = "", now: datetime | None = None) -> DrawnExpert:
    """The invited expert confirms or declines (or staff record the answer given by telephone)."""
    now = _now(now)
    member = DrawnExpert.objects.select_related("expert", "line", "draw__request").get(pk=member.pk)
    if actor.role != Role.STAFF and not (actor.role == Role.EXPERT and member.expert.user_id == actor.pk):
        raise forbidden("只有被抽取的专家本人或交易中心工作人员可以答复", "Only the drawn expert or centre staff may answer")
    if not accept and not reason.strip():
        raise _bad("reasons_required", "拒绝须说明理由", "Declining needs a reason")
    draw = _locked_draw(member)
    if member.status == MemberStatus.INVITED and member.respond_by <= now:
        raise DomainError("response_too_late", "答复时限已过", "The time to answer has passed")
    target = MemberStatus.CONFIRMED if accept else MemberStatus.DECLINED
    updated = DrawnExpert.objects.filter(
        pk=member.pk, status=MemberStatus.INVITED, draw__request__status=DrawRequest.Status.DRAWN
    ).update(status=target, responded_at=now, reason=reason[:200])
    if updated != 1:
        raise DomainError(
            "invalid_member_state", "该邀请已答复或已失效", "This invitation has already been answered or withdrawn"
        )
    member.refresh_from_db()
    _member_audit(f"member.{target}", member, actor=actor, now=now, reason=reason, recorded_by_staff=actor.role == Role.STAFF)
    if accept:
        _fix_if_complete(draw, actor=actor, now=now)
    else:
        _replace(draw, member, actor=actor, now=now)
    return member


@transaction.atomic
def member_replace(*, member: DrawnExpert, actor, reason: str, now: datetime | None = None) -> DrawnExpert:
    """Staff withdraw an invited or confirmed member before the committee is fixed (e.g. a conflict found late);
    the next item of the same line's stream takes the seat."""
    now = _now(now)
    require_role(actor, Role.STAFF)
    if not reason.strip():
        raise _bad("reasons_required", "替换须说明理由", "Replacing needs a reason")
    member = DrawnExpert.objects.select_related("expert", "line", "draw__request").get(pk=member.pk)
    draw = _locked_draw(member)
    updated = DrawnExpert.objects.filter(pk=member.pk, status__in=SEATED, draw__request__status=DrawRequest.Status.DRAWN).update(
        status=MemberStatus.REPLACED, reason=reason[:200]
    )
    if updated != 1:
        raise DomainError(
            "invalid_member_state", "只有待确认或已确认的成员可以替换", "Only an invited or confirmed member can be replaced"
        )
    member.refresh_from_db()
    _member_audit("member.replaced", member, actor=actor, now=now, reason=reason)
    _after_commit_notify([(member.expert, Message("replaced"))])
    _replace(draw, member, actor=actor, now=now)
    return member


def _replace(draw: Draw, vacated: DrawnExpert, *, actor, now: datetime) -> DrawnExpert | None:
    """Fills the seat `vacated` left: the line's next backup still eligible, else the stream's next items."""
    request = draw.request
    line = vacated.line
    respond_by = now + timedelta(minutes=request.response_minutes)
    seat = {"venue": vacated.venue, "seat": vacated.seat, "invited_at": now, "respond_by": respond_by}
    chosen = None
    for backup in DrawnExpert.objects.filter(line=line, status=MemberStatus.BACKUP).order_by("position"):
        if is_eligible(request, backup.expert_id, line_code=line.specialty_code, now=now):
            if (
                DrawnExpert.objects.filter(pk=backup.pk, status=MemberStatus.BACKUP).update(status=MemberStatus.INVITED, **seat)
                == 1
            ):
                chosen = backup
                break
        else:
            DrawnExpert.objects.filter(pk=backup.pk).update(status=MemberStatus.SKIPPED, reason="no_longer_eligible")
            _member_audit("member.skipped", backup, actor=actor, now=now, reason="no_longer_eligible")
    if chosen is None:
        chosen = _next_from_stream(draw, line, seat, actor=actor, now=now)
    if chosen is None:
        audit_record(
            action="draw.seat_unfilled",
            actor=actor,
            obj=draw,
            lot_id=request.lot_id,
            after={"specialty": line.specialty_code, "venue": vacated.venue_id, "seat": vacated.seat},
            now=now,
        )
        return None
    chosen.refresh_from_db()
    _member_audit(
        "member.invited", chosen, actor=actor, now=now, replaces=vacated.expert_id, venue=chosen.venue_id, seat=chosen.seat
    )
    _invite_after_commit([chosen], request)
    return chosen


def _next_from_stream(draw: Draw, line: DrawLine, seat: dict, *, actor, now: datetime) -> DrawnExpert | None:
    """Continues the line's stream past the last recorded position (the backups are used up)."""
    ids = dict(draw_random.decode_snapshot(draw.snapshot))[line.specialty_code]
    last = DrawnExpert.objects.filter(line=line).order_by("-position").values_list("position", flat=True).first()
    taken = set(DrawnExpert.objects.filter(draw=draw).exclude(status=MemberStatus.SKIPPED).values_list("expert_id", flat=True))
    for position, expert_id in enumerate(draw_random.stream(draw_seed(draw), line.specialty_code, ids)):
        if position <= last:
            continue
        row = DrawnExpert(draw=draw, line=line, position=position, expert_id=expert_id)
        if expert_id in taken:
            row.status, row.reason = MemberStatus.SKIPPED, "duplicate"
        elif not is_eligible(draw.request, expert_id, line_code=line.specialty_code, now=now):
            row.status, row.reason = MemberStatus.SKIPPED, "no_longer_eligible"
        else:
            row.status = MemberStatus.INVITED
            for field, value in seat.items():
                setattr(row, field, value)
        row.save(force_insert=True)
        if row.status == MemberStatus.INVITED:
            return row
        _member_audit("member.skipped", row, actor=actor, now=now, reason=row.reason)
    return None


def _reveal(draw: Draw, *, actor, now: datetime) -> None:
    seed = draw_seed(draw).hex()
    Draw.objects.filter(pk=draw.pk, revealed_at__isnull=True).update(seed=seed, revealed_at=now)
    audit_record(
        action="draw.revealed",
        actor=actor,
        obj=draw,
        lot_id=draw.request.lot_id,
        after={"seed": seed, "commitment": draw.commitment, "snapshot_sha256": draw.snapshot_sha256},
        now=now,
    )


def _fix_if_complete(draw: Draw, *, actor, now: datetime) -> bool:
    """Every seat confirmed: the committee is fixed, then the seed is revealed (audit event with the seed)."""
    request = draw.request
    seats = sum(request.lines.values_list("count", flat=True))
    if DrawnExpert.objects.filter(draw=draw, status=MemberStatus.CONFIRMED).count() < seats:
        return False
    if (
        DrawRequest.objects.filter(pk=request.pk, status=DrawRequest.Status.DRAWN).update(
            status=DrawRequest.Status.FIXED, fixed_at=now
        )
        != 1
    ):
        return False
    audit_record(action="committee.fixed", actor=actor, obj=request, lot_id=request.lot_id, after={"experts": seats}, now=now)
    _reveal(draw, actor=actor, now=now)
    return True


# --- The sweep: unanswered invitations ------------------------------------------------------------------------------


def draws_sweep(*, now: datetime | None = None, batch: int = 200) -> int:
    """Invitations past their answer deadline time out and the next of the stream is invited. Safe to run twice:
    each member moves with a conditional update under the draw's lock, in its own transaction."""
    now = _now(now)
    done = 0
    for member in DrawnExpert.objects.filter(status=MemberStatus.INVITED, respond_by__lte=now).select_related(
        "line", "draw__request"
    )[:batch]:
        with transaction.atomic():
            draw = _locked_draw(member)
            if (
                DrawnExpert.objects.filter(pk=member.pk, status=MemberStatus.INVITED, respond_by__lte=now).update(
                    status=MemberStatus.TIMED_OUT, responded_at=now
                )
                != 1
            ):
                continue
            member.refresh_from_db()
            _member_audit("member.timed_out", member, actor=None, now=now)
            _replace(draw, member, actor=None, now=now)
            done += 1
    return done


# --- The evaluation method (评标办法) of a lot -----------------------------------------------------------------------
# Part of the tender documents: the tenderee side writes it while the lot is being prepared, and it is frozen once the
# documents are issued (法40, 条例49: the committee evaluates by the method the documents state, and by no other).
# evaluation/formulas.py applies it; `price_rule` and `aggregation_rule` hand the lot's parameters to the formulas.

# Before the documents are issued (lot_publish sets docs_issued_at and leaves these states).
METHOD_EDIT_STATES = (LotStatus.DRAFT, LotStatus.REGISTERED, LotStatus.FILED)
_PARAMETERS = (
    "price_drop_extremes",
    "price_drop_min_bids",
    "price_k",
    "price_e_above",
    "price_e_below",
    "score_drop_extremes",
    "score_drop_min_members",
)


@dataclass(frozen=True)
class MethodInput:
    """What the tenderee side states: the method, the weights, the price formula, optionally the parameters (None:
    the rule set's value), and the criteria [{"stage", "name", "max_score" (scored stages only), "guidance"}]."""

    kind: str
    criteria: list[dict]
    technical_weight: Decimal = Decimal(0)
    commercial_weight: Decimal = Decimal(0)
    price_weight: Decimal = Decimal(0)
    price_formula: str | None = None
    price_drop_extremes: bool | None = None
    price_drop_min_bids: int | None = None
    price_k: Decimal | None = None
    price_e_above: Decimal | None = None
    price_e_below: Decimal | None = None
    score_drop_extremes: bool | None = None
    score_drop_min_members: int | None = None
    note: str = ""


def price_rule(method: EvaluationMethod) -> formulas.PriceRule:
    return formulas.PriceRule(
        formula=method.price_formula,
        weight=method.price_weight,
        drop_extremes=method.price_drop_extremes,
        drop_min_bids=method.price_drop_min_bids,
        k=method.price_k,
        e_above=method.price_e_above,
        e_below=method.price_e_below,
    )


def aggregation_rule(method: EvaluationMethod) -> formulas.AggregationRule:
    return formulas.AggregationRule(drop_extremes=method.score_drop_extremes, drop_min_members=method.score_drop_min_members)


def _method_snapshot(method: EvaluationMethod) -> dict:
    return {
        "kind": method.kind,
        "weights": [method.technical_weight, method.commercial_weight, method.price_weight],
        "price_formula": method.price_formula,
        **{name: getattr(method, name) for name in _PARAMETERS},
        "criteria": [
            [c.stage, c.position, c.name, c.max_score, c.guidance] for c in method.criteria.order_by("stage", "position")
        ],
    }


def _locked_editable_lot(lot: Lot, actor) -> Lot:
    """The lot, locked (lot_publish takes the same lock), if its method may still change; refused otherwise."""
    require_tenderee_side(actor, lot.project)
    lot = Lot.objects.select_for_update().select_related("project__rule_set").get(pk=lot.pk)
    if lot.status not in METHOD_EDIT_STATES or lot.docs_issued_at is not None:
        raise DomainError(
            "method_frozen",
            "招标文件已发出，评标办法不得修改（条例49）",
            "The tender documents are issued; the evaluation method can no longer change (条例49)",
            extra={"status": lot.status},
        )
    if Review.objects.filter(lot=lot, kind=Review.Kind.FILING, status=Review.Status.PENDING).exists():
        raise DomainError("review_pending", "备案审核中，不能修改评标办法", "The filing is under review")
    return lot


def _weight_sum_error(stage: str, weight: Decimal, total: Decimal) -> DomainError:
    label = CriterionStage(stage).label
    return _bad(
        "max_scores_sum",
        f"{label}各评审因素分值合计（{total}）应等于其权重（{weight}）",
        f"The {stage} criteria's maximum scores add up to {total}; they must add up to the weight {weight}",
        stage=stage,
        weight=str(weight),
        sum=str(total),
    )


def _checked_method(rule_set: RuleSet, spec: MethodInput) -> tuple[dict, list[Criterion]]:
    """The method's fields (the parameters not given taken from the rule set) and its criteria, numbered in order
    within each stage; or a 400 for the first fault."""
    fields, criteria = asdict(spec), spec.criteria
    kind = fields.get("kind")
    if kind not in EvaluationKind.values:
        raise _bad("invalid_kind", "评标方法无效", "Unknown evaluation method")
    weights = {
        stage: Decimal(fields.get(f"{stage}_weight") or 0)
        for stage in (CriterionStage.TECHNICAL, CriterionStage.COMMERCIAL, "price")
    }
    if any(w < 0 for w in weights.values()):
        raise _bad("invalid_weight", "权重不得为负数", "Weights cannot be negative")
    values = {name: getattr(rule_set, name) if fields.get(name) is None else fields[name] for name in _PARAMETERS}
    formula = fields.get("price_formula") or ""
    if kind == EvaluationKind.COMPREHENSIVE:
        formula = formula or rule_set.price_formula
        if formula not in PriceFormula.values:
            raise _bad("invalid_price_formula", "价格分计算方法无效", "Unknown price formula")
        if weights["price"] <= 0:
            raise _bad(
                "price_weight_required",
                "综合评估法须设置价格分权重（评标规定36）",
                "The comprehensive method needs a price weight",
            )
        if sum(weights.values()) != 100:
            total = sum(weights.values())
            raise _bad(
                "weights_sum",
                f"技术、商务、价格权重合计应为100（现为{total}）",
                f"The technical, commercial and price weights must add up to 100 (they add up to {total})",
                sum=str(total),
            )
    else:
        if any(weights.values()) or formula:
            raise _bad(
                "weights_not_allowed",
                "经评审的最低投标价法不设评分权重和价格分公式",
                "The lowest evaluated price method has no score weights and no price formula",
            )
    # Bounds of the parameters (also database constraints): a drop must leave a value; 0 < K <= 1; E >= 0.
    if values["price_drop_min_bids"] < 3 or values["score_drop_min_members"] < 3:
        raise _bad("invalid_parameter", "去掉最高最低值所需最少数量不得小于3", "Dropping the extremes needs at least 3 values")
    if not 0 < Decimal(values["price_k"]) <= 1:
        raise _bad("invalid_parameter", "基准价系数K应大于0且不大于1", "K must be above 0 and at most 1")
    if Decimal(values["price_e_above"]) < 0 or Decimal(values["price_e_below"]) < 0:
        raise _bad("invalid_parameter", "偏离扣分系数E不得为负数", "E cannot be negative")

    rows: list[Criterion] = []
    positions: dict[str, int] = {}
    for item in criteria:
        stage, name, max_score = item.get("stage"), (item.get("name") or "").strip(), item.get("max_score")
        if stage not in CriterionStage.values or not name:
            raise _bad("invalid_criterion", "评审因素须有评审阶段和名称", "Each criterion needs a stage and a name")
        if stage in PASS_FAIL_STAGES and max_score is not None:
            raise _bad("max_score_not_allowed", f"“{name}”为合格制评审，不设分值", f"“{name}” is pass/fail and has no score")
        if stage in SCORED_STAGES:
            if kind == EvaluationKind.LOWEST_PRICE:
                raise _bad(
                    "scored_criteria_not_allowed",
                    "经评审的最低投标价法不设评分因素",
                    "The lowest evaluated price method has no scored criteria",
                )
            if max_score is None or Decimal(max_score) <= 0:
                raise _bad(
                    "max_score_required", f"评分因素“{name}”须设分值", f"The scored criterion “{name}” needs a maximum score"
                )
        positions[stage] = positions.get(stage, 0) + 1
        rows.append(
            Criterion(stage=stage, position=positions[stage], name=name, max_score=max_score, guidance=item.get("guidance") or "")
        )
    if not any(row.stage in PASS_FAIL_STAGES for row in rows):
        raise _bad(
            "no_review_criteria",
            "评标办法须至少包含一项资格或符合性评审因素",
            "The method needs at least one qualification or compliance criterion",
        )
    if kind == EvaluationKind.COMPREHENSIVE:
        for stage in SCORED_STAGES:
            total = sum((Decimal(row.max_score) for row in rows if row.stage == stage), Decimal(0))
            if total != weights[stage]:
                raise _weight_sum_error(stage, weights[stage], total)
    method_fields = {
        "kind": kind,
        "technical_weight": weights[CriterionStage.TECHNICAL],
        "commercial_weight": weights[CriterionStage.COMMERCIAL],
        "price_weight": weights["price"],
        "price_formula": formula,
        "note": fields.get("note") or "",
        **values,
    }
    return method_fields, rows


@transaction.atomic
def method_create(*, lot: Lot, actor, spec: MethodInput, now: datetime | None = None) -> EvaluationMethod:
    """Creates the lot's evaluation method (tenderee or agency, before the documents are issued).
    Every check comes before any write."""
    now = _now(now)
    lot = _locked_editable_lot(lot, actor)
    method_fields, rows = _checked_method(lot.project.rule_set, spec)
    try:
        with transaction.atomic():
            method = EvaluationMethod.objects.create(
                lot=lot, created_by=actor, created_at=now, updated_by=actor, updated_at=now, **method_fields
            )
    except IntegrityError:
        raise DomainError("method_exists", "该标段已有评标办法，请修改", "This lot already has an evaluation method") from None
    for row in rows:
        row.method = method
    Criterion.objects.bulk_create(rows)
    audit_record(
        action="evaluation_method.created", actor=actor, obj=method, lot_id=lot.pk, after=_method_snapshot(method), now=now
    )
    return method


@transaction.atomic
def method_replace(*, method: EvaluationMethod, actor, spec: MethodInput, now: datetime | None = None) -> EvaluationMethod:
    """Replaces the whole method and its criteria, before the documents are issued."""
    now = _now(now)
    lot = _locked_editable_lot(method.lot, actor)
    method = EvaluationMethod.objects.get(pk=method.pk)
    method_fields, rows = _checked_method(lot.project.rule_set, spec)
    before = _method_snapshot(method)
    EvaluationMethod.objects.filter(pk=method.pk).update(updated_by=actor, updated_at=now, **method_fields)
    method.criteria.all().delete()
    for row in rows:
        row.method = method
    Criterion.objects.bulk_create(rows)
    method.refresh_from_db()
    audit_record(
        action="evaluation_method.replaced",
        actor=actor,
        obj=method,
        lot_id=lot.pk,
        before=before,
        after=_method_snapshot(method),
        now=now,
    )
    return method
