"""Reads for the draw: who may be drawn (avoidance, by construction), and who may see what (secrecy, 法37)."""

from datetime import datetime

from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from evaluation.models import SEATED, DrawnExpert, DrawRequest, EvaluationMethod, MemberStatus
from experts.models import Expert, ExpertInterest, ExpertStatus, ExpertUnavailability, Specialty
from trading import rules
from trading.models import Lot, Role
from trading.selectors import lots_visible_to

WATCHERS = (Role.STAFF, Role.SUPERVISOR)


# --- Avoidance (回避) ---------------------------------------------------------------------------------------------


def _organisations(lot: Lot, also: list[int | None]) -> QuerySet:
    """Credit codes of the lot's bidders (every organisation enrolled in it or with a bid on it: known once unsealed
    at the deadline) and of the organisations `also` names; a subquery."""
    from bidding.models import Bid, Enrolment
    from trading.models import Organisation

    enrolled = Enrolment.objects.filter(lot=lot, bidder_id=OuterRef("pk"))
    bid = Bid.objects.filter(lot=lot, bidder_id=OuterRef("pk"))
    return Organisation.objects.filter(
        Exists(enrolled) | Exists(bid) | Q(pk__in=[pk for pk in also if pk is not None])
    ).values_list("credit_code", flat=True)


def bidder_credit_codes(lot: Lot) -> list[str]:
    return sorted(_organisations(lot, []))


def conflict_organisations(request: DrawRequest) -> QuerySet:
    """The organisations whose staff may not sit, as a subquery of credit codes: the bidders, the tenderee and its
    agency, the project's supervising department. (Employers excluded by staff are on the request.)"""
    project = request.lot.project
    return _organisations(request.lot, [project.tenderee_id, project.agency_id, project.supervising_department_id])


def conflict_credit_codes(request: DrawRequest) -> list[str]:
    """All conflicting credit codes, staff exclusions included: sorted, without blanks."""
    codes = set(conflict_organisations(request)) | set(request.excluded_employers or [])
    codes.discard("")
    return sorted(codes)


def avoided(request: DrawRequest, *, now: datetime, codes: list[str] | None = None) -> list[QuerySet]:
    """The avoidance rules (回避), one subquery of expert ids each; an expert in any of them may not be drawn.

    Each is small and served by an index, so the eligible list is the specialty links minus these sets and the
    pool's size hardly matters (bench/draw.py).

    1. 评标规定12(4), 专家办法: penalised (suspended, blacklisted) experts whose penalty has not lapsed today
       (the complement of `Expert.objects.eligible_on`, within the non-active ones).
    2. 评标规定12(1)(2)(3) and practice: employed by a bidder, the tenderee, its agency, the project's supervising
       department (行政监督部门), or an employer excluded by staff (`conflict_credit_codes`).
    3. 评标规定12(1)(3): a declared interest (`ExpertInterest`) in any of those organisations.
    4. Busy in the evaluation window: a declared unavailability overlapping it.
    5. Busy in the evaluation window: invited to or confirmed on another (not cancelled) committee whose window
       overlaps it.
    6. 专家办法 / regional rule (RuleSet.expert_draw_limit, expert_draw_period_days): confirmed on that many
       committees within the period.
    7. The experts staff excluded by name.
    8. 远程异地评标: the regional pool's experts, unless the request asks for them (DrawRequest.regional_pool).
    """
    rule_set = request.lot.project.rule_set
    # A list, not a subquery: `employer_credit_code = ANY(list)` is what lets PostgreSQL use the employer index.
    codes = conflict_credit_codes(request) if codes is None else codes
    employed = Q(employer_credit_code__in=codes)
    interest = Q(organisation_credit_code__in=codes)
    day = rules.local_date(now)
    start, end = request.window_start, request.window_end
    sets = [
        # Exactly the experts `Expert.objects.eligible_on(day)` leaves out (tests/evaluation/test_avoidance.py checks
        # that the two agree), written as one indexed condition: penalised, and the penalty not lapsed.
        # ...and, in the same scan of the experts table, those employed by a conflicting organisation.
        Expert.objects.filter(
            (Q(status__in=[ExpertStatus.SUSPENDED, ExpertStatus.BLACKLISTED]) & ~Q(status_until__lt=day)) | employed
        ).values("pk"),
        ExpertInterest.objects.filter(interest).values("expert_id"),
        ExpertUnavailability.objects.filter(start__lt=end, end__gt=start).values("expert_id"),
        DrawnExpert.objects.filter(status__in=SEATED, draw__request__window_start__lt=end, draw__request__window_end__gt=start)
        .exclude(draw__request=request)
        .exclude(draw__request__status=DrawRequest.Status.CANCELLED)
        .values("expert_id"),
        DrawnExpert.objects.filter(status=MemberStatus.CONFIRMED, invited_at__gte=rules.draw_limit_since(rule_set, now=now))
        .values("expert_id")
        .annotate(n=Count("id"))
        .filter(n__gte=rule_set.expert_draw_limit)
        .values("expert_id"),
    ]
    if request.excluded_experts:
        sets.append(Expert.objects.filter(pk__in=request.excluded_experts).values("pk"))
    if not request.regional_pool:
        sets.append(Expert.objects.filter(pool="regional").values("pk"))
    return sets


def eligible_experts(request: DrawRequest, *, now: datetime) -> QuerySet[Expert]:
    """Every expert the request may draw, before the specialty."""
    qs = Expert.objects.all()
    for ids in avoided(request, now=now):
        qs = qs.exclude(pk__in=ids)
    return qs


def specialty_filter(code: str) -> Q:
    """Experts holding `code` or a specialty below it (A08 matches A0801), through the specialties' ids."""
    through = Expert.specialties.through
    ids = Specialty.objects.filter(code__startswith=code).values("pk")
    return Q(Exists(through.objects.filter(expert_id=OuterRef("pk"), specialty_id__in=ids)))


def eligible_ids_by_line(request: DrawRequest, *, now: datetime, lines: list[str] | None = None) -> list[tuple[str, list[int]]]:
    """[(specialty code, ascending eligible expert ids)] in the request's line order: the draw's snapshot.

    Three queries whatever the pool's size: the specialties under the lines' codes (a small table), the conflicting
    credit codes, and one query over the specialty links of those specialties (index on specialty_id) minus every avoided set (`avoided`),
    grouped by specialty; the groups are then merged by line.
    """
    if lines is None:
        lines = [line.specialty_code for line in request.lines.order_by("position")]
    prefix = Q()
    for code in lines:
        prefix |= Q(code__startswith=code)
    by_specialty: dict[int, list[str]] = {}
    for pk, code in Specialty.objects.filter(prefix).values_list("pk", "code"):
        by_specialty[pk] = [line for line in lines if code.startswith(line)]
    links = Expert.specialties.through.objects.filter(specialty_id__in=list(by_specialty))
    for ids in avoided(request, now=now):
        links = links.exclude(expert_id__in=ids)
    sql, params = links.values_list("specialty_id", "expert_id").query.sql_with_params()
    if connection.vendor == "postgresql":
        # One row per specialty with its experts as an array (parsed in C): ~10,000 ids without a Python loop.
        sql = f"SELECT specialty_id, array_agg(expert_id) FROM ({sql}) AS links GROUP BY specialty_id"  # noqa: S608 (the ORM's own SQL, parameters apart)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if connection.vendor != "postgresql":
        grouped: dict[int, list[int]] = {}
        for specialty_id, expert_id in rows:
            grouped.setdefault(specialty_id, []).append(expert_id)
        rows = list(grouped.items())
    found: dict[str, set[int]] = {line: set() for line in lines}
    for specialty_id, expert_ids in rows:
        for line in by_specialty[specialty_id]:
            found[line].update(expert_ids)
    return [(line, sorted(found[line])) for line in lines]


def is_eligible(request: DrawRequest, expert_id: int, *, line_code: str, now: datetime) -> bool:
    """Whether one expert is still eligible now (a backup being promoted, a replacement being drawn)."""
    return eligible_experts(request, now=now).filter(specialty_filter(line_code), pk=expert_id).exists()


# --- Secrecy (法37): the list is seen by staff and supervisors; an expert sees only their own invitations ---------

SHOWN_TO_EXPERT = (
    MemberStatus.INVITED,
    MemberStatus.CONFIRMED,
    MemberStatus.DECLINED,
    MemberStatus.TIMED_OUT,
    MemberStatus.REPLACED,
)


def draw_requests_visible_to(user) -> QuerySet[DrawRequest]:
    qs = DrawRequest.objects.select_related("lot", "draw").prefetch_related("lines", "venues__venue")
    if not user.is_authenticated or user.role not in WATCHERS:
        return qs.none()
    return qs


def committee_of(lot_id: int) -> QuerySet[DrawnExpert]:
    """The lot's evaluation committee: the confirmed members of its fixed draw, with their expert and venue."""
    return DrawnExpert.objects.filter(
        draw__request__lot_id=lot_id, draw__request__status=DrawRequest.Status.FIXED, status=MemberStatus.CONFIRMED
    ).select_related("expert", "venue")


def members_visible_to(user) -> QuerySet[DrawnExpert]:
    """Staff and supervisors: every row. An expert: their own invitations (never backups or skipped items).
    Bidders, the tenderee, the agency, anyone else: nothing, ever."""
    qs = DrawnExpert.objects.select_related("expert", "line", "venue", "draw__request")
    if not user.is_authenticated:
        return qs.none()
    if user.role in WATCHERS:
        return qs
    if user.role == Role.EXPERT:
        return qs.filter(expert__user=user, status__in=SHOWN_TO_EXPERT)
    return qs.none()


# --- The evaluation method: part of the tender documents ----------------------------------------------------------


def methods_visible_to(user) -> QuerySet[EvaluationMethod]:
    """The method of every lot the user may see (trading.selectors.lots_visible_to): staff and supervisors all, the
    tenderee side its own lots (drafts included, nobody else's), bidders and experts the lots whose documents are
    issued, because the method is published with them."""
    if not user.is_authenticated:
        return EvaluationMethod.objects.none()
    return (
        EvaluationMethod.objects.filter(lot__in=lots_visible_to(user).values("pk"))
        .select_related("lot")
        .prefetch_related("criteria")
    )
