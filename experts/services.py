"""Writes for the expert pool: specialties, status (暂停 / 黑名单 / 恢复), declared unavailability and interests, 考评.

Only centre staff manage the pool; an expert (role expert) maintains their own unavailability and interests.
Each action writes one audit event in the same transaction.
"""

from datetime import date, datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from rest_framework import status

from audit.services import audit_record
from experts.models import (
    Expert,
    ExpertInterest,
    ExpertStatus,
    ExpertUnavailability,
    PerformanceRecord,
    Specialty,
    parent_code,
)
from trading.access import forbidden, require_role
from trading.api import DomainError
from trading.codes import is_valid_credit_code
from trading.models import Lot, Role


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def _bad(code: str, zh: str, en: str) -> DomainError:
    return DomainError(code, zh, en, status_code=status.HTTP_400_BAD_REQUEST)


def _status_snapshot(expert: Expert) -> dict:
    return {
        "status": expert.status,
        "status_reason": expert.status_reason,
        "status_until": expert.status_until,
    }


def require_self_or_staff(actor, expert: Expert) -> None:
    """Staff manage every expert; an expert only their own record."""
    if actor.role == Role.STAFF:
        return
    require_role(actor, Role.STAFF, Role.EXPERT)
    if expert.user_id is not None and expert.user_id == actor.pk:
        return
    raise forbidden("只能维护本人的专家信息", "Experts may only maintain their own record", code="not_own_expert_record")


# --- Specialties -------------------------------------------------------------------------------------


@transaction.atomic
def specialty_save(*, specialty: Specialty, actor, now: datetime | None = None) -> Specialty:
    """Creates or updates a specialty with `parent` set from the code's prefix (A0801 → A08).

    Below the first numbered level (A08) the parent must exist; a one-letter category (A) is optional.
    The code never changes once created (the prefix is the tree).
    """
    require_role(actor, Role.STAFF)
    try:
        specialty.full_clean(exclude=["parent"], validate_unique=True)
    except ValidationError as error:
        raise _bad("invalid_specialty", "专业代码或名称无效", f"Invalid specialty: {error.messages}") from error
    prefix = parent_code(specialty.code)
    parent = Specialty.objects.filter(code=prefix).first() if prefix else None
    if parent is None and prefix is not None and len(specialty.code) > 3:
        raise _bad(
            "specialty_parent_missing",
            f"上级专业 {prefix} 不存在，请先建立上级专业",
            f"The parent specialty {prefix} does not exist; create it first",
        )
    created = specialty.pk is None
    if not created and Specialty.objects.filter(pk=specialty.pk).values_list("code", flat=True).first() != specialty.code:
        raise _bad(
            "specialty_code_fixed",
            "专业代码建立后不能修改（下级专业和专家均按代码关联）",
            "A specialty's code cannot change once created",
        )
    specialty.parent = parent
    specialty.save()
    audit_record(
        action="specialty.created" if created else "specialty.updated",
        actor=actor,
        obj=specialty,
        after={"code": specialty.code, "name": specialty.name, "parent": prefix if parent else None},
        now=_now(now),
    )
    return specialty


# --- Expert record (admin) ---------------------------------------------------------------------------

EDITABLE_FIELDS = [
    "number",
    "name",
    "user",
    "title",
    "practice_years",
    "region_code",
    "employer_name",
    "employer_credit_code",
    "phone",
    "email",
]


@transaction.atomic
def expert_save(*, expert: Expert, actor, changed: list[str] | None = None, now: datetime | None = None) -> Expert:
    """Saves an expert's record as edited by staff (Django admin); status is not among the fields."""
    require_role(actor, Role.STAFF)
    created = expert.pk is None
    if not created:
        current = Expert.objects.select_for_update().get(pk=expert.pk)
        if (current.status, current.status_until) != (expert.status, expert.status_until):
            raise DomainError("status_not_editable", "状态须通过暂停、黑名单、恢复操作变更", "Change status through its actions")
    fields = [f for f in (changed if changed is not None else EDITABLE_FIELDS) if f in EDITABLE_FIELDS]
    if expert.employer_credit_code:
        expert.employer_credit_code = expert.employer_credit_code.strip().upper()
    if expert.employer_credit_code and not is_valid_credit_code(expert.employer_credit_code):
        raise _bad("invalid_credit_code", "统一社会信用代码无效（应为18位，校验位按 GB 32100-2015 计算）", "Invalid credit code")
    expert.save()
    values = {f: (getattr(expert, f"{f}_id") if f == "user" else getattr(expert, f)) for f in fields}
    audit_record(action="expert.created" if created else "expert.changed", actor=actor, obj=expert, after=values, now=_now(now))
    return expert


@transaction.atomic
def expert_specialties_changed(*, expert: Expert, actor, before: set[str], after: set[str], now: datetime | None = None) -> None:
    """Audits a change of an expert's specialties made in the admin (the M2M rows are already written)."""
    require_role(actor, Role.STAFF)
    audit_record(
        action="expert.specialties_changed",
        actor=actor,
        obj=expert,
        before={"specialties": sorted(before)},
        after={"specialties": sorted(after)},
        now=_now(now),
    )


# --- Status ------------------------------------------------------------------------------------------


def _penalise(
    *, expert: Expert, target: str, action: str, actor, reason: str, until: date | None, now: datetime | None
) -> Expert:
    require_role(actor, Role.STAFF)
    now = _now(now)
    reason = (reason or "").strip()
    if not reason:
        raise _bad("status_reason_required", "须填写处理原因", "A reason is required")
    if until is not None and until < timezone.localdate(now):
        raise _bad("status_until_past", "处理期限不能早于今天", "The end of the period cannot be in the past")
    locked = Expert.objects.select_for_update().get(pk=expert.pk)
    before = _status_snapshot(locked)
    if locked.status == ExpertStatus.BLACKLISTED and target == ExpertStatus.SUSPENDED:
        raise DomainError(
            "expert_blacklisted",
            "该专家已列入黑名单，不能改为暂停；如需调整请先恢复",
            "The expert is blacklisted; reinstate first to change it to a suspension",
        )
    locked.status = target
    locked.status_reason = reason
    locked.status_until = until
    locked.status_changed_at = now
    locked.save(update_fields=["status", "status_reason", "status_until", "status_changed_at"])
    audit_record(action=action, actor=actor, obj=locked, before=before, after=_status_snapshot(locked), now=now)
    expert.refresh_from_db()
    return locked


@transaction.atomic
def expert_suspend(*, expert: Expert, actor, reason: str, until: date | None = None, now: datetime | None = None) -> Expert:
    """暂停: the expert is not drawn until `until` (inclusive), or until reinstated when `until` is None."""
    return _penalise(
        expert=expert, target=ExpertStatus.SUSPENDED, action="expert.suspended", actor=actor, reason=reason, until=until, now=now
    )


@transaction.atomic
def expert_blacklist(*, expert: Expert, actor, reason: str, until: date | None = None, now: datetime | None = None) -> Expert:
    """列入黑名单 (评标规定12: penalised for misconduct): never drawn until `until` (inclusive); None = indefinite."""
    return _penalise(
        expert=expert,
        target=ExpertStatus.BLACKLISTED,
        action="expert.blacklisted",
        actor=actor,
        reason=reason,
        until=until,
        now=now,
    )


@transaction.atomic
def expert_reinstate(*, expert: Expert, actor, reason: str = "", now: datetime | None = None) -> Expert:
    """恢复: back to active. Refused for an expert who is already active."""
    require_role(actor, Role.STAFF)
    now = _now(now)
    locked = Expert.objects.select_for_update().get(pk=expert.pk)
    if locked.status == ExpertStatus.ACTIVE:
        raise DomainError("expert_already_active", "该专家已是正常状态", "The expert is already active")
    before = _status_snapshot(locked)
    locked.status = ExpertStatus.ACTIVE
    locked.status_reason = (reason or "").strip()
    locked.status_until = None
    locked.status_changed_at = now
    locked.save(update_fields=["status", "status_reason", "status_until", "status_changed_at"])
    audit_record(action="expert.reinstated", actor=actor, obj=locked, before=before, after=_status_snapshot(locked), now=now)
    expert.refresh_from_db()
    return locked


# --- Declared unavailability and interests -----------------------------------------------------------


def _unavailability_snapshot(item: ExpertUnavailability) -> dict:
    return {"expert": item.expert_id, "start": item.start, "end": item.end, "reason": item.reason}


def _check_span(start: datetime, end: datetime) -> None:
    if timezone.is_naive(start) or timezone.is_naive(end):
        raise _bad("naive_datetime", "时间须带时区", "Times must carry a time zone")
    if end <= start:
        raise _bad("unavailability_end_before_start", "结束时间须晚于开始时间", "The end must be after the start")


@transaction.atomic
def unavailability_create(
    *, expert: Expert, actor, start: datetime, end: datetime, reason: str = "", now: datetime | None = None
) -> ExpertUnavailability:
    require_self_or_staff(actor, expert)
    _check_span(start, end)
    item = ExpertUnavailability.objects.create(expert=expert, start=start, end=end, reason=reason)
    audit_record(action="expert.unavailability_added", actor=actor, obj=item, after=_unavailability_snapshot(item), now=_now(now))
    return item


@transaction.atomic
def unavailability_update(
    *, item: ExpertUnavailability, actor, start: datetime, end: datetime, reason: str = "", now: datetime | None = None
) -> ExpertUnavailability:
    require_self_or_staff(actor, item.expert)
    _check_span(start, end)
    before = _unavailability_snapshot(item)
    item.start, item.end, item.reason = start, end, reason
    item.save(update_fields=["start", "end", "reason"])
    audit_record(
        action="expert.unavailability_changed",
        actor=actor,
        obj=item,
        before=before,
        after=_unavailability_snapshot(item),
        now=_now(now),
    )
    return item


def _delete_declared(item, *, actor, action: str, before: dict, now: datetime | None) -> None:
    """Removes an expert's own declaration (unavailability, interest), audited with what it said."""
    require_self_or_staff(actor, item.expert)
    pk = item.pk
    item.delete()
    audit_record(action=action, actor=actor, object_type=item._meta.label_lower, object_id=str(pk), before=before, now=_now(now))


@transaction.atomic
def unavailability_delete(*, item: ExpertUnavailability, actor, now: datetime | None = None) -> None:
    _delete_declared(item, actor=actor, action="expert.unavailability_removed", before=_unavailability_snapshot(item), now=now)


def _interest_snapshot(item: ExpertInterest) -> dict:
    return {
        "expert": item.expert_id,
        "kind": item.kind,
        "organisation_credit_code": item.organisation_credit_code,
        "person_name": item.person_name,
        "note": item.note,
    }


def _check_interest(kind: str, organisation_credit_code: str, person_name: str) -> None:
    if kind not in ExpertInterest.Kind.values:
        raise _bad("invalid_interest_kind", "利害关系类型无效", f"Unknown interest kind {kind!r}")
    if organisation_credit_code and not is_valid_credit_code(organisation_credit_code):
        raise _bad(
            "invalid_credit_code",
            "统一社会信用代码无效（应为18位，校验位按 GB 32100-2015 计算）",
            "Invalid unified social credit code",
        )
    if not organisation_credit_code and not person_name.strip():
        raise _bad(
            "interest_names_nobody", "须填写相关单位的信用代码或相关人员姓名", "Name an organisation (credit code) or a person"
        )


@transaction.atomic
def interest_create(
    *,
    expert: Expert,
    actor,
    kind: str,
    organisation_credit_code: str = "",
    person_name: str = "",
    note: str = "",
    now: datetime | None = None,
) -> ExpertInterest:
    require_self_or_staff(actor, expert)
    organisation_credit_code = organisation_credit_code.strip().upper()
    _check_interest(kind, organisation_credit_code, person_name)
    item = ExpertInterest.objects.create(
        expert=expert, kind=kind, organisation_credit_code=organisation_credit_code, person_name=person_name.strip(), note=note
    )
    audit_record(action="expert.interest_declared", actor=actor, obj=item, after=_interest_snapshot(item), now=_now(now))
    return item


@transaction.atomic
def interest_update(
    *,
    item: ExpertInterest,
    actor,
    kind: str,
    organisation_credit_code: str = "",
    person_name: str = "",
    note: str = "",
    now: datetime | None = None,
) -> ExpertInterest:
    require_self_or_staff(actor, item.expert)
    organisation_credit_code = organisation_credit_code.strip().upper()
    _check_interest(kind, organisation_credit_code, person_name)
    before = _interest_snapshot(item)
    item.kind, item.organisation_credit_code, item.person_name, item.note = (
        kind,
        organisation_credit_code,
        person_name.strip(),
        note,
    )
    item.save(update_fields=["kind", "organisation_credit_code", "person_name", "note"])
    audit_record(
        action="expert.interest_changed", actor=actor, obj=item, before=before, after=_interest_snapshot(item), now=_now(now)
    )
    return item


@transaction.atomic
def interest_delete(*, item: ExpertInterest, actor, now: datetime | None = None) -> None:
    _delete_declared(item, actor=actor, action="expert.interest_withdrawn", before=_interest_snapshot(item), now=now)


# --- Performance (考评) -------------------------------------------------------------------------------


@transaction.atomic
def record_performance(
    *,
    expert: Expert,
    actor,
    attended: bool,
    lot: Lot | None = None,
    late_minutes: int = 0,
    score_deviation: Decimal | None = None,
    complaints: int = 0,
    note: str = "",
    now: datetime | None = None,
) -> PerformanceRecord:
    """考评 after an evaluation. One record per expert and lot."""
    require_role(actor, Role.STAFF)
    now = _now(now)
    if late_minutes < 0 or complaints < 0:
        raise _bad("invalid_performance", "迟到分钟数和投诉次数不能为负", "Lateness and complaints cannot be negative")
    if not attended and late_minutes:
        raise _bad("late_but_absent", "未到场的专家不能记录迟到分钟数", "An expert who did not attend cannot be recorded as late")
    Expert.objects.select_for_update().filter(pk=expert.pk).first()  # serialises records for one expert
    if lot is not None and PerformanceRecord.objects.filter(expert=expert, lot=lot).exists():
        raise DomainError(
            "performance_already_recorded",
            "该专家在本标段的考评已记录",
            "This expert's performance for this lot is already recorded",
        )
    record = PerformanceRecord.objects.create(
        expert=expert,
        lot=lot,
        attended=attended,
        late_minutes=late_minutes,
        score_deviation=score_deviation,
        complaints=complaints,
        note=note,
        recorded_by=actor,
        recorded_at=now,
    )
    audit_record(
        action="expert.performance_recorded",
        actor=actor,
        obj=record,
        lot_id=lot.pk if lot else None,
        after={
            "expert": expert.pk,
            "lot": lot.pk if lot else None,
            "attended": attended,
            "late_minutes": late_minutes,
            "score_deviation": score_deviation,
            "complaints": complaints,
        },
        now=now,
    )
    return record


# --- Import -------------------------------------------------------------------------------------------

IMPORTED_FIELDS = [
    "name",
    "title",
    "practice_years",
    "region_code",
    "employer_name",
    "employer_credit_code",
    "phone",
    "email",
]


def experts_import(
    *,
    actor,
    filename: str,
    data: bytes,
    dry_run: bool = False,
    partial: bool = False,
    create_accounts: bool = False,
    now: datetime | None = None,
) -> dict:
    """Imports a CSV/XLSX of experts, upserting on 专家编号 (`Expert.number`); returns the report.

    All or nothing unless `partial`: with any bad row nothing is written and the report lists every problem.
    `actor` None is the operator at the shell (manage.py import_experts); through the API it is a staff user.
    Status, unavailability, interests and performance are never touched by an import.
    `create_accounts` gives each new expert a login (username `expert-<编号>`, no usable password yet).
    """
    import hashlib

    from experts import importing

    if actor is not None:
        require_role(actor, Role.STAFF)
    now = _now(now)
    report = {
        "ok": False,
        "dry_run": dry_run,
        "partial": partial,
        "imported": False,
        "rows": 0,
        "valid": 0,
        "created": 0,
        "updated": 0,
        "unchanged": 0,
        "errors": [],
    }
    specialty_ids = dict(Specialty.objects.values_list("code", "id"))
    try:
        parsed = importing.parse(filename, data, known_specialties=set(specialty_ids))
    except importing.FileRejected as rejected:
        report["errors"] = [rejected.error.as_dict()]
        return report
    report["rows"], report["valid"] = parsed.total, len(parsed.rows)
    errors = list(parsed.errors)

    existing = {
        e.number: e for e in Expert.objects.filter(number__in=[r.number for r in parsed.rows]).prefetch_related("specialties")
    }
    new_rows = [r for r in parsed.rows if r.number not in existing]
    if create_accounts and new_rows:
        from trading.models import User

        wanted = {f"expert-{r.number}": r for r in new_rows}
        for username in User.objects.filter(username__in=list(wanted)).values_list("username", flat=True):
            row = wanted[username]
            errors.append(importing.RowError(row.row, "专家编号", "account_username_taken", username))
        taken = {e.row for e in errors}
        parsed.rows = [r for r in parsed.rows if r.row not in taken]
        new_rows = [r for r in new_rows if r.row not in taken]

    order = {name: i for i, name in enumerate(importing.COLUMNS)}
    errors.sort(key=lambda e: (e.row, order.get(e.column, len(order))))
    report["errors"] = [e.as_dict() for e in errors]
    report["valid"] = len(parsed.rows)
    if errors and not partial:
        return report

    changed = []
    for row in parsed.rows:
        expert = existing.get(row.number)
        if expert is None:
            continue
        fields = [f for f in IMPORTED_FIELDS if getattr(expert, f) != getattr(row, f)]
        same_specialties = {s.code for s in expert.specialties.all()} == set(row.specialties)
        if fields or not same_specialties:
            changed.append((expert, row, fields, same_specialties))
    report["created"] = len(new_rows)
    report["updated"] = len(changed)
    report["unchanged"] = len(parsed.rows) - len(new_rows) - len(changed)
    report["ok"] = not errors
    if dry_run or not parsed.rows:
        return report

    with transaction.atomic():
        _apply_import(new_rows, changed, specialty_ids, create_accounts)
        audit_record(
            action="expert.imported",
            actor=actor,
            object_type=Expert._meta.label_lower,
            after={
                "filename": filename,
                "sha256": hashlib.sha256(data).hexdigest(),
                "rows": parsed.total,
                "rejected_rows": len(parsed.bad_rows),
                "created": [r.number for r in new_rows],
                "updated": [e.number for e, *_ in changed],
                "accounts": create_accounts,
            },
            now=now,
        )
    report["imported"] = True
    return report


def _apply_import(new_rows, changed, specialty_ids: dict[str, int], create_accounts: bool) -> None:
    through = Expert.specialties.through
    users = {}
    if create_accounts and new_rows:
        from trading.models import User

        accounts = []
        for row in new_rows:
            account = User(
                username=f"expert-{row.number}", role=Role.EXPERT, first_name=row.name, phone=row.phone, email=row.email
            )
            account.set_unusable_password()
            accounts.append(account)
        User.objects.bulk_create(accounts)
        users = dict(User.objects.filter(username__in=[a.username for a in accounts]).values_list("username", "id"))
    created = Expert.objects.bulk_create(
        [
            Expert(number=r.number, user_id=users.get(f"expert-{r.number}"), **{f: getattr(r, f) for f in IMPORTED_FIELDS})
            for r in new_rows
        ]
    )
    if created and created[0].pk is None:  # a backend that does not return keys from bulk inserts
        ids = dict(Expert.objects.filter(number__in=[r.number for r in new_rows]).values_list("number", "id"))
        for expert in created:
            expert.pk = ids[expert.number]
    links = [
        through(expert_id=expert.pk, specialty_id=specialty_ids[code])
        for expert, row in zip(created, new_rows, strict=True)
        for code in row.specialties
    ]
    for expert, row, fields, same_specialties in changed:
        for f in fields:
            setattr(expert, f, getattr(row, f))
        if fields:
            expert.save(update_fields=fields)
        if not same_specialties:
            through.objects.filter(expert_id=expert.pk).delete()
            links.extend(through(expert_id=expert.pk, specialty_id=specialty_ids[code]) for code in row.specialties)
    through.objects.bulk_create(links, batch_size=2000)
