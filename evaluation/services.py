"""Writes for the expert draw (专家抽取) and the committee it forms (评标委员会组建).

request created (staff) → draw run: seed committed in the audit trail, then the streams drawn, members invited,
backups kept → each member confirms or declines (the expert, or staff recording a telephone answer); a decline,
a timeout (the sweep) or a replacement by staff invites the next item of the same line's stream → every seat
confirmed: the committee is fixed and the seed revealed. docs/experts.md ("Draw") is the specification.

Every change to a draw's members holds the Draw row's lock, so two answers or an answer and the sweep
never fill one seat twice.
"""

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status

from audit.services import audit_record
from evaluation import draw_random
from evaluation.models import SEATED, Draw, DrawLine, DrawnExpert, DrawRequest, DrawVenue, MemberStatus, Venue
from evaluation.notify import Message, notify
from evaluation.selectors import eligible_ids_by_line, is_eligible
from experts.models import Expert, Specialty
from realtime.services import push_to_users
from trading import rules
from trading.access import forbidden, require_role
from trading.api import DomainError
from trading.codes import validate_credit_code
from trading.models import Lot, LotStatus, Role
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
