"""Writes for the centre's core: projects, lots, registration and filing, the lot lifecycle, objections.

Every transition guards its source state with a conditional update, writes one audit event in the
same transaction, and leaves side effects (pushes, tasks) to after commit.
"""

import re
import uuid
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import BinaryIO

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status

from audit.services import audit_record
from trading import rules
from trading.access import TENDEREE_SIDE, forbidden, require_org, require_role, require_tenderee_side
from trading.api import DomainError, store_unavailable
from trading.codes import transaction_code
from trading.models import (
    Lot,
    LotStatus,
    Objection,
    Organisation,
    Review,
    Role,
    RuleSet,
    SuspensionKind,
    TenderDocument,
    TenderProject,
)
from trading.objectstore import StoreUnavailable, get_store
from trading.sealing import seal
from trading.selectors import objection_raiser_index

# States in which a lot is still running and may be suspended or terminated.
ACTIVE = (
    LotStatus.REGISTERED,
    LotStatus.FILED,
    LotStatus.PUBLISHED,
    LotStatus.TENDERING,
    LotStatus.OPENING,
    LotStatus.EVALUATING,
    LotStatus.PUBLICITY,
)


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def breach_error(breach: rules.Breach, status_code: int = status.HTTP_422_UNPROCESSABLE_ENTITY) -> DomainError:
    return DomainError(
        breach.code, f"{breach.zh}（{breach.article}）", f"{breach.en} ({breach.article})", status_code=status_code
    )


def _raise_breaches(breaches: list[rules.Breach]) -> None:
    if breaches:
        error = breach_error(breaches[0])
        error.extra = {"breaches": [{"code": b.code, "article": b.article, "zh": b.zh, "en": b.en} for b in breaches]}
        raise error


def _lot_snapshot(lot: Lot) -> dict:
    return {
        "status": lot.status,
        "suspended_from": lot.suspended_from,
        "bid_deadline": lot.bid_deadline,
        "docs_sale_end": lot.docs_sale_end,
    }


def _move(
    lot: Lot,
    *,
    sources: Iterable[str],
    target: str,
    action: str,
    actor,
    now: datetime,
    fields: dict | None = None,
    details: dict | None = None,
) -> Lot:
    """Moves a lot from one of `sources` to `target` with a conditional update, and audits it."""
    sources = list(sources)
    fields = fields or {}
    before = _lot_snapshot(lot)
    updated = Lot.objects.filter(pk=lot.pk, status__in=sources).update(status=target, status_changed_at=now, **fields)
    if updated != 1:
        current = Lot.objects.filter(pk=lot.pk).values_list("status", flat=True).first()
        raise DomainError(
            "invalid_lot_state",
            f"标段当前状态为“{LotStatus(current).label}”，不能执行此操作",
            f"The lot is {current}; this action needs it to be one of: {', '.join(sources)}",
            extra={"status": current},
        )
    lot.refresh_from_db()
    audit_record(
        action=action,
        actor=actor,
        obj=lot,
        lot_id=lot.pk,
        before=before,
        after={**_lot_snapshot(lot), **(details or {})},
        now=now,
    )
    return lot


# --- Projects and lots ----------------------------------------------------------------------


@transaction.atomic
def project_create(
    *,
    actor,
    code: str,
    name: str,
    rule_set: RuleSet,
    region_code: str,
    tenderee: Organisation | None = None,
    funding_source: str = "",
    description: str = "",
    supervising_department: Organisation | None = None,
    now: datetime | None = None,
) -> TenderProject:
    require_role(actor, *TENDEREE_SIDE)
    require_org(actor)
    if supervising_department is not None and supervising_department.kind != Organisation.Kind.SUPERVISOR:
        raise DomainError(
            "not_a_supervisor",
            "行政监督部门须为监督部门类单位",
            "The supervising department must be a supervisor",
            status_code=400,
        )
    if actor.role == Role.AGENCY:
        if tenderee is None or tenderee.kind != Organisation.Kind.TENDEREE:
            raise DomainError(
                "tenderee_required", "代理机构须指定委托的招标人", "An agency must name the tenderee it acts for", status_code=400
            )
        agency = actor.organisation
    else:
        tenderee, agency = actor.organisation, None
    project = TenderProject.objects.create(
        code=code,
        name=name,
        tenderee=tenderee,
        agency=agency,
        rule_set=rule_set,
        region_code=region_code,
        funding_source=funding_source,
        description=description,
        supervising_department=supervising_department,
        created_by=actor,
    )
    audit_record(action="project.created", actor=actor, obj=project, after={"code": code, "name": name}, now=_now(now))
    return project


# A contact's phone: digits, with the usual separators and an optional + (a mobile, or a landline with area code).
CONTACT_PHONE = re.compile(r"\+?[0-9][0-9 ()-]{5,28}")


@transaction.atomic
def organisation_update_contact(*, organisation: Organisation, actor, contact_name: str, contact_phone: str, now=None):
    """An organisation's own users keep its contact person and phone (单位信息). Its name, credit code and kind are
    the centre's to register: they are never changed here."""
    require_org(actor)
    if actor.organisation_id != organisation.pk:
        raise forbidden(
            "只能维护本单位的信息", "Only your own organisation's details can be changed", code="not_your_organisation"
        )
    contact_name, contact_phone = contact_name.strip(), contact_phone.strip()
    if not contact_name or len(contact_name) > 50:
        raise DomainError(
            "invalid_contact_name", "请填写联系人（50字以内）", "Give a contact person (50 characters at most)", status_code=400
        )
    if not CONTACT_PHONE.fullmatch(contact_phone):
        raise DomainError(
            "invalid_contact_phone", "联系电话格式不正确", "The contact phone is not a phone number", status_code=400
        )
    locked = Organisation.objects.select_for_update().get(pk=organisation.pk)
    before = {"contact_name": locked.contact_name, "contact_phone": locked.contact_phone}
    after = {"contact_name": contact_name, "contact_phone": contact_phone}
    if before != after:
        Organisation.objects.filter(pk=locked.pk).update(**after)
        audit_record(action="organisation.contact_updated", actor=actor, obj=locked, before=before, after=after, now=now)
    locked.refresh_from_db()
    return locked


def _next_transaction_code(tenderee_id: int, now: datetime) -> str:
    """The next serial among the tenderee's lots of the day; locking the tenderee's row serialises it."""
    tenderee = Organisation.objects.select_for_update().get(pk=tenderee_id)
    day = rules.local_date(now)
    serial = Lot.objects.filter(transaction_code__startswith=f"{tenderee.credit_code}{day:%Y%m%d}").count() + 1
    return transaction_code(tenderee.credit_code, day, serial)


@transaction.atomic
def lot_create(
    *,
    actor,
    project: TenderProject,
    name: str,
    estimated_price: Decimal,
    bond_amount: Decimal,
    max_price: Decimal | None = None,
    now: datetime | None = None,
) -> Lot:
    now = _now(now)
    require_tenderee_side(actor, project)
    if project.registered_at is not None:
        raise DomainError(
            "project_registered", "项目已入场登记，不能再增加标段", "The project is registered; lots can no longer be added"
        )
    breach = rules.bond_breach(project.rule_set, estimated_price=estimated_price, bond_amount=bond_amount)
    if breach:
        raise breach_error(breach)
    lot = Lot.objects.create(
        project=project,
        seq=project.lots.count() + 1,
        name=name,
        transaction_code=_next_transaction_code(project.tenderee_id, now),
        estimated_price=estimated_price,
        max_price=max_price,
        bond_amount=bond_amount,
        status_changed_at=now,
    )
    audit_record(
        action="lot.created",
        actor=actor,
        obj=lot,
        lot_id=lot.pk,
        after={"transaction_code": lot.transaction_code, "estimated_price": estimated_price, "bond_amount": bond_amount},
        now=now,
    )
    return lot


# --- 入场登记 and 招标备案 ------------------------------------------------------------------------


def _decide(review: Review, *, actor, accept: bool, reasons: str, now: datetime) -> Review:
    require_role(actor, Role.STAFF)
    if not accept and not reasons.strip():
        raise DomainError("reasons_required", "退回须说明理由", "Returning a submission needs reasons", status_code=400)
    new_status = Review.Status.ACCEPTED if accept else Review.Status.RETURNED
    updated = Review.objects.filter(pk=review.pk, status=Review.Status.PENDING).update(
        status=new_status, reasons=reasons, reviewed_by=actor, reviewed_at=now
    )
    if updated != 1:
        raise DomainError("review_decided", "该申请已处理", "This submission has already been decided")
    review.refresh_from_db()
    audit_record(
        action=f"{review.kind}.{new_status}",
        actor=actor,
        obj=review,
        lot_id=review.lot_id,
        after={"status": new_status, "reasons": reasons},
        now=now,
    )
    return review


def _submit_review(kind: str, *, project: TenderProject, lot: Lot | None, actor, note: str, now: datetime) -> Review:
    """One pending review per project (registration) or lot (filing); the database constraint decides races."""
    try:
        with transaction.atomic():
            return Review.objects.create(kind=kind, project=project, lot=lot, note=note, submitted_by=actor, submitted_at=now)
    except IntegrityError:
        label = Review.Kind(kind).label
        raise DomainError("review_pending", f"已有待审核的{label}申请", f"A {kind} is already awaiting review") from None


@transaction.atomic
def registration_submit(*, project: TenderProject, actor, note: str = "", now: datetime | None = None) -> Review:
    now = _now(now)
    require_tenderee_side(actor, project)
    if project.registered_at is not None:
        raise DomainError("project_registered", "项目已入场登记", "The project is already registered")
    if not project.lots.exists():
        raise DomainError("no_lots", "项目至少须有一个标段", "A project needs at least one lot", status_code=400)
    review = _submit_review(Review.Kind.REGISTRATION, project=project, lot=None, actor=actor, note=note, now=now)
    audit_record(action="registration.submitted", actor=actor, obj=review, after={"project": project.pk}, now=now)
    return review


@transaction.atomic
def registration_decide(*, review: Review, actor, accept: bool, reasons: str = "", now: datetime | None = None) -> Review:
    now = _now(now)
    if review.kind != Review.Kind.REGISTRATION:
        raise DomainError("wrong_review_kind", "不是入场登记申请", "Not a registration", status_code=400)
    review = _decide(review, actor=actor, accept=accept, reasons=reasons, now=now)
    if accept:
        TenderProject.objects.filter(pk=review.project_id).update(registered_at=now)
        for lot in Lot.objects.filter(project_id=review.project_id, status=LotStatus.DRAFT):
            _move(lot, sources=[LotStatus.DRAFT], target=LotStatus.REGISTERED, action="lot.registered", actor=actor, now=now)
    return review


@transaction.atomic
def filing_submit(
    *, lot: Lot, actor, docs_sale_end: datetime, bid_deadline: datetime, note: str = "", now: datetime | None = None
) -> Review:
    """招标备案: the tender plan and documents. The schedule is checked now, and again when published."""
    now = _now(now)
    require_tenderee_side(actor, lot.project)
    lot = Lot.objects.select_for_update().get(pk=lot.pk)
    if lot.status != LotStatus.REGISTERED:
        raise DomainError("invalid_lot_state", "只有已入场登记的标段可以备案", "Only a registered lot can be filed")
    if not lot.documents.exists():
        raise DomainError("no_documents", "备案前须上传招标文件", "Upload the tender documents before filing", status_code=400)
    _raise_breaches(
        rules.tender_schedule_breaches(lot.project.rule_set, issued_at=now, sale_end=docs_sale_end, deadline=bid_deadline)
    )
    Lot.objects.filter(pk=lot.pk).update(docs_sale_end=docs_sale_end, bid_deadline=bid_deadline)
    review = _submit_review(Review.Kind.FILING, project=lot.project, lot=lot, actor=actor, note=note, now=now)
    audit_record(
        action="filing.submitted",
        actor=actor,
        obj=review,
        lot_id=lot.pk,
        after={"docs_sale_end": docs_sale_end, "bid_deadline": bid_deadline},
        now=now,
    )
    return review


@transaction.atomic
def filing_decide(*, review: Review, actor, accept: bool, reasons: str = "", now: datetime | None = None) -> Review:
    now = _now(now)
    if review.kind != Review.Kind.FILING:
        raise DomainError("wrong_review_kind", "不是备案申请", "Not a filing", status_code=400)
    review = _decide(review, actor=actor, accept=accept, reasons=reasons, now=now)
    if accept:
        _move(review.lot, sources=[LotStatus.REGISTERED], target=LotStatus.FILED, action="lot.filed", actor=actor, now=now)
    return review


# --- Tender documents ---------------------------------------------------------------------------


def document_upload(
    *, lot: Lot, actor, filename: str, stream: BinaryIO, size: int, content_type: str, now: datetime | None = None
) -> TenderDocument:
    """Stores the file first, then records it; if recording fails the stored object is removed."""
    now = _now(now)
    require_tenderee_side(actor, lot.project)
    if lot.status not in (LotStatus.REGISTERED, LotStatus.FILED, LotStatus.PUBLISHED, LotStatus.TENDERING):
        raise DomainError("invalid_lot_state", "当前状态不能上传招标文件", "Tender documents cannot be uploaded in this state")
    if (
        lot.status in (LotStatus.FILED, LotStatus.PUBLISHED, LotStatus.TENDERING)
        and Review.objects.filter(lot=lot, kind=Review.Kind.FILING, status=Review.Status.PENDING).exists()
    ):
        raise DomainError("review_pending", "备案审核中，不能修改招标文件", "The filing is under review")
    # The user's file name stays in the database; keys are ours alone.
    key = f"lots/{lot.pk}/documents/{uuid.uuid4().hex}"
    store = get_store()
    try:
        stored = store.put(key, stream, length=size, content_type=content_type or "application/octet-stream")
    except StoreUnavailable:
        raise store_unavailable() from None
    try:
        with transaction.atomic():
            version = (lot.documents.order_by("-version").values_list("version", flat=True).first() or 0) + 1
            document = TenderDocument.objects.create(
                lot=lot,
                version=version,
                filename=filename,
                object_key=key,
                size=stored.size,
                sha256=stored.sha256,
                content_type=content_type or "application/octet-stream",
                uploaded_by=actor,
                uploaded_at=now,
            )
            audit_record(
                action="document.uploaded",
                actor=actor,
                obj=document,
                lot_id=lot.pk,
                after={"filename": filename, "size": stored.size, "sha256": stored.sha256, "version": version},
                now=now,
            )
    except Exception:
        store.delete(key)
        raise
    return document


# --- Publication and the lifecycle ------------------------------------------------------------


@transaction.atomic
def lot_publish(*, lot: Lot, actor, title: str, body: str, now: datetime | None = None):
    """Publishes the tender notice; the documents are issued now (法24 and 条例16 counted from now)."""
    from notices.services import notice_create

    now = _now(now)
    if actor.role != Role.STAFF:
        require_tenderee_side(actor, lot.project)
    lot = Lot.objects.select_for_update().get(pk=lot.pk)
    if lot.status != LotStatus.FILED:
        raise DomainError("invalid_lot_state", "只有已备案的标段可以发布招标公告", "Only a filed lot can be published")
    _raise_breaches(
        rules.tender_schedule_breaches(lot.project.rule_set, issued_at=now, sale_end=lot.docs_sale_end, deadline=lot.bid_deadline)
    )
    lot = _move(
        lot,
        sources=[LotStatus.FILED],
        target=LotStatus.PUBLISHED,
        action="lot.published",
        actor=actor,
        now=now,
        fields={"docs_issued_at": now},
    )
    notice = notice_create(lot=lot, kind="tender", title=title, body=body, actor=actor, now=now)
    return lot, notice


@transaction.atomic
def clarification_publish(
    *,
    lot: Lot,
    actor,
    title: str,
    body: str,
    affects_bids: bool,
    document: TenderDocument | None = None,
    now: datetime | None = None,
):
    """条例21: publishes a clarification; one that may affect bids moves the deadline to leave 15 days."""
    from bidding.services import enrolled_bidder_ids
    from notices.services import notice_create

    now = _now(now)
    if actor.role != Role.STAFF:
        require_tenderee_side(actor, lot.project)
    lot = Lot.objects.select_for_update().get(pk=lot.pk)
    if lot.status not in (LotStatus.PUBLISHED, LotStatus.TENDERING, LotStatus.SUSPENDED) or lot.bid_deadline <= now:
        raise DomainError(
            "invalid_lot_state", "只有投标截止前的标段可以发布澄清", "Clarifications are published before the bid deadline only"
        )
    if document is not None and document.lot_id != lot.pk:
        raise DomainError("wrong_document", "附件不属于该标段", "The document belongs to another lot", status_code=400)
    before = lot.bid_deadline
    after = rules.deadline_after_clarification(lot.project.rule_set, issued_at=now, deadline=before, affects_bids=affects_bids)
    if after != before:
        Lot.objects.filter(pk=lot.pk).update(bid_deadline=after)
        lot.bid_deadline = after
        audit_record(
            action="lot.deadline_moved",
            actor=actor,
            obj=lot,
            lot_id=lot.pk,
            before={"bid_deadline": before},
            after={"bid_deadline": after, "article": "条例21"},
            now=now,
        )
    notice = notice_create(
        lot=lot,
        kind="clarification",
        title=title,
        body=body,
        actor=actor,
        now=now,
        affects_bids=affects_bids,
        deadline_before=before,
        deadline_after=after,
        document=document,
    )
    from realtime.services import push_to_orgs

    push_to_orgs(
        enrolled_bidder_ids(lot),
        {
            "type": "clarification",
            "lot": lot.pk,
            "notice": notice.pk,
            "title": title,
            "bid_deadline": timezone.localtime(after).isoformat(),
        },
    )
    return notice


@transaction.atomic
def lot_suspend(*, lot: Lot, actor, reason: str, now: datetime | None = None) -> Lot:
    now = _now(now)
    require_role(actor, Role.STAFF, Role.SUPERVISOR)
    if not reason.strip():
        raise DomainError("reasons_required", "暂停须说明理由", "Suspending needs a reason", status_code=400)
    lot = Lot.objects.select_for_update().get(pk=lot.pk)
    kind = SuspensionKind.SUPERVISOR if actor.role == Role.SUPERVISOR else SuspensionKind.STAFF
    if lot.status == LotStatus.SUSPENDED:
        # Already paused (an objection): the stricter pause takes over; resuming returns to the objection pause.
        Lot.objects.filter(pk=lot.pk).update(suspension_kind=kind, suspension_reason=reason)
        lot.refresh_from_db()
        audit_record(action="lot.suspended", actor=actor, obj=lot, lot_id=lot.pk, after={"kind": kind, "reason": reason}, now=now)
        return lot
    return _move(
        lot,
        sources=ACTIVE,
        target=LotStatus.SUSPENDED,
        action="lot.suspended",
        actor=actor,
        now=now,
        fields={"suspended_from": lot.status, "suspension_kind": kind, "suspension_reason": reason},
        details={"kind": kind, "reason": reason},
    )


def _resume(lot: Lot, *, actor, now: datetime) -> Lot:
    if Objection.objects.filter(lot=lot, status=Objection.Status.PENDING).exists():
        Lot.objects.filter(pk=lot.pk).update(suspension_kind=SuspensionKind.OBJECTION, suspension_reason="")
        lot.refresh_from_db()
        audit_record(
            action="lot.pause_narrowed", actor=actor, obj=lot, lot_id=lot.pk, after={"kind": SuspensionKind.OBJECTION}, now=now
        )
        return lot
    return _move(
        lot,
        sources=[LotStatus.SUSPENDED],
        target=lot.suspended_from,
        action="lot.resumed",
        actor=actor,
        now=now,
        fields={"suspended_from": "", "suspension_kind": "", "suspension_reason": ""},
    )


@transaction.atomic
def lot_resume(*, lot: Lot, actor, now: datetime | None = None) -> Lot:
    now = _now(now)
    require_role(actor, Role.STAFF, Role.SUPERVISOR)
    lot = Lot.objects.select_for_update().get(pk=lot.pk)
    if lot.status != LotStatus.SUSPENDED:
        raise DomainError("invalid_lot_state", "标段未暂停", "The lot is not suspended")
    if lot.suspension_kind == SuspensionKind.SUPERVISOR and actor.role != Role.SUPERVISOR:
        raise forbidden("监督暂停只能由监督人员恢复", "Only a supervisor can lift a supervisor's pause", code="supervisor_pause")
    if lot.suspension_kind == SuspensionKind.OBJECTION:
        raise DomainError(
            "objection_pending", "异议未答复，不能恢复（条例22、条例54）", "An objection is awaiting an answer (条例22, 条例54)"
        )
    return _resume(lot, actor=actor, now=now)


@transaction.atomic
def lot_terminate(*, lot: Lot, actor, reason: str, now: datetime | None = None) -> Lot:
    from notices.services import notice_create

    now = _now(now)
    if actor.role != Role.STAFF:
        require_tenderee_side(actor, lot.project)
    if not reason.strip():
        raise DomainError("reasons_required", "终止须说明理由", "Terminating needs a reason", status_code=400)
    lot = _move(
        lot,
        sources=[*ACTIVE, LotStatus.SUSPENDED],
        target=LotStatus.TERMINATED,
        action="lot.terminated",
        actor=actor,
        now=now,
        fields={"suspended_from": "", "suspension_kind": "", "suspension_reason": ""},
        details={"reason": reason},
    )
    if lot.docs_issued_at is not None:
        notice_create(lot=lot, kind="termination", title=f"{lot.name} 终止公告", body=reason, actor=actor, now=now)
    return lot


@transaction.atomic
def lot_fail(*, lot: Lot, reason: str, actor=None, now: datetime | None = None) -> Lot:
    """流标: e.g. fewer bids than the rule set's minimum at opening (条例44). Declared by staff or by the opening service."""
    from notices.services import notice_create

    now = _now(now)
    if actor is not None:
        require_role(actor, Role.STAFF)
    if not reason.strip():
        raise DomainError("reasons_required", "流标须说明理由", "Declaring a failed tender needs a reason", status_code=400)
    lot = _move(
        lot,
        sources=[LotStatus.OPENING, LotStatus.EVALUATING],
        target=LotStatus.FAILED,
        action="lot.failed",
        actor=actor,
        now=now,
        details={"reason": reason},
    )
    notice_create(lot=lot, kind="failure", title=f"{lot.name} 流标公告", body=reason, actor=actor, now=now)
    return lot


@transaction.atomic
def lot_retender(*, lot: Lot, actor, now: datetime | None = None) -> Lot:
    """重新招标: a failed lot is copied into a new registered lot with a new transaction code."""
    now = _now(now)
    if actor.role != Role.STAFF:
        require_tenderee_side(actor, lot.project)
    lot = Lot.objects.select_for_update().get(pk=lot.pk)
    if lot.status != LotStatus.FAILED:
        raise DomainError("invalid_lot_state", "只有流标的标段可以重新招标", "Only a failed lot can be re-tendered")
    if lot.retenders.exists():
        raise DomainError("already_retendered", "该标段已重新招标", "This lot has already been re-tendered")
    new = Lot.objects.create(
        project=lot.project,
        seq=lot.project.lots.count() + 1,
        name=lot.name,
        transaction_code=_next_transaction_code(lot.project.tenderee_id, now),
        estimated_price=lot.estimated_price,
        max_price=lot.max_price,
        bond_amount=lot.bond_amount,
        status=LotStatus.REGISTERED,
        status_changed_at=now,
        retender_of=lot,
    )
    audit_record(
        action="lot.retendered",
        actor=actor,
        obj=new,
        lot_id=new.pk,
        after={"retender_of": lot.pk, "transaction_code": new.transaction_code},
        now=now,
    )
    return new


@transaction.atomic
def lot_archive(*, lot: Lot, actor, now: datetime | None = None) -> Lot:
    now = _now(now)
    require_role(actor, Role.STAFF)
    return _move(
        lot,
        sources=[LotStatus.AWARDED, LotStatus.FAILED, LotStatus.TERMINATED],
        target=LotStatus.ARCHIVED,
        action="lot.archived",
        actor=actor,
        now=now,
    )


# Later stages (opening record, evaluation report, award) add their own guards in bidding/ and evaluation/.


@transaction.atomic
def lot_start_evaluation(*, lot: Lot, actor, now: datetime | None = None) -> Lot:
    """Evaluation starts once the opening record is published and every on-the-spot objection answered."""
    from bidding.models import Opening, OpeningResponse

    now = _now(now)
    require_role(actor, Role.STAFF)
    published = Opening.objects.filter(lot=lot, record_published_at__isnull=False).exists()
    unanswered = OpeningResponse.objects.filter(opening__lot=lot, kind=OpeningResponse.Kind.OBJECTION, answered_at__isnull=True)
    lot = Lot.objects.select_for_update().get(pk=lot.pk)
    if lot.status == LotStatus.OPENING and (not published or unanswered.exists()):
        raise DomainError(
            "opening_not_finished",
            "开标记录尚未公布或开标异议尚未答复，不能开始评标",
            "The opening record is not published yet, or an objection at opening is unanswered",
        )
    return _move(
        lot, sources=[LotStatus.OPENING], target=LotStatus.EVALUATING, action="lot.evaluation_started", actor=actor, now=now
    )


def lot_candidates(lot: Lot) -> list[dict]:
    """The winning candidates (中标候选人) of a lot whose evaluation is done: the first places of the committee's
    ranking, in order, up to the number the report may recommend (条例53). Empty while the evaluation is not done.
    The publicity notice and the award both read them here."""
    from bidding.models import Bid
    from evaluation.models import EvaluationSession, SessionPhase

    session = EvaluationSession.objects.filter(lot_id=lot.pk, phase=SessionPhase.DONE).first()
    if session is None:
        return []
    ranking = sorted(session.ranking, key=lambda row: int(row["rank"]))[: rules.report_candidates_max(lot.project.rule_set)]
    bids = Bid.objects.select_related("bidder").in_bulk([row["bid"] for row in ranking])
    candidates = []
    for row in ranking:
        bid = bids[uuid.UUID(str(row["bid"]))]
        candidates.append(
            {
                "bid": str(bid.pk),
                "bidder": bid.bidder_id,
                "name": bid.bidder.name,
                "credit_code": bid.bidder.credit_code,
                "rank": int(row["rank"]),
                "price": str(row["price"]),
                # 综合评估法: the total score; 经评审的最低投标价法: the evaluated price.
                "total": None if row.get("total") is None else str(row["total"]),
                "evaluated_price": None if row.get("evaluated_price") is None else str(row["evaluated_price"]),
            }
        )
    return candidates


def _local_text(moment: datetime) -> str:
    return moment.astimezone(rules.LOCAL).strftime("%Y年%m月%d日 %H:%M")


def _candidates_notice_body(lot: Lot, candidates: list[dict], *, start: datetime, end: datetime) -> str:
    rule_set = lot.project.rule_set
    lines = [
        f"项目名称：{lot.project.name}",
        f"标段名称：{lot.name}（{lot.transaction_code}）",
        f"招标人：{lot.project.tenderee.name}",
        "中标候选人（按排序）：",
    ]
    for c in candidates:
        measure = f"综合得分：{c['total']}" if c["total"] is not None else f"评标价：人民币 {c['evaluated_price']} 元"
        lines.append(
            f"第{c['rank']}名：{c['name']}（统一社会信用代码 {c['credit_code']}），投标报价：人民币 {c['price']} 元，{measure}"
        )
    lines += [
        f"公示期：{_local_text(start)} 至 {_local_text(end)}（北京时间）",
        "异议：本标段投标人对评标结果有异议的，应当在公示期间通过交易平台提出（《招标投标法实施条例》第五十四条）；"
        f"招标人自收到异议之日起{rule_set.publicity_objection_answer_days}日内作出答复，作出答复前暂停招标投标活动。",
    ]
    return "\n".join(lines)


@transaction.atomic
def lot_start_publicity(*, lot: Lot, actor, now: datetime | None = None) -> Lot:
    """中标候选人公示 (条例54): once the evaluation is done (the report received), the candidates are published with
    the publicity period and how to object. Staff start it; the sweep starts it itself (actor None) on the last day
    of the window."""
    from bidding.models import Bid
    from evaluation.models import EvaluationSession, SessionPhase
    from notices.models import NoticeKind
    from notices.services import notice_create
    from realtime.services import push_to_orgs

    now = _now(now)
    if actor is not None:
        require_role(actor, Role.STAFF)
    lot = Lot.objects.select_for_update().get(pk=lot.pk)
    session = EvaluationSession.objects.filter(lot=lot).first()
    if lot.status == LotStatus.EVALUATING and (session is None or session.phase != SessionPhase.DONE):
        raise DomainError(
            "evaluation_not_done",
            "评标尚未结束（评标报告未完成），不能公示中标候选人",
            "The evaluation is not finished (no signed report yet); the candidates cannot be published",
            extra={"phase": session.phase if session else None},
        )
    candidates = lot_candidates(lot) if lot.status == LotStatus.EVALUATING else []
    if lot.status == LotStatus.EVALUATING and not candidates:
        raise DomainError("no_candidates", "评标报告没有推荐中标候选人", "The evaluation report recommends no candidates")
    rule_set = lot.project.rule_set
    end = rules.publicity_end(rule_set, start=now)
    due = rules.candidates_publicity_due(rule_set, report_at=session.finished_at) if session and session.finished_at else None
    lot = _move(
        lot,
        sources=[LotStatus.EVALUATING],
        target=LotStatus.PUBLICITY,
        action="lot.publicity_started",
        actor=actor,
        now=now,
        fields={"publicity_start": now, "publicity_end": end},
        details={
            "candidates": [{"rank": c["rank"], "bid": c["bid"], "bidder": c["bidder"]} for c in candidates],
            "due": due,
            "late": due is not None and now > due,
        },
    )
    notice = notice_create(
        lot=lot,
        kind=NoticeKind.CANDIDATES,
        title=f"{lot.name} 中标候选人公示",
        body=_candidates_notice_body(lot, candidates, start=now, end=end),
        actor=actor,
        now=now,
    )
    # Every bidder of the opening may object during the publicity: tell them it has started (sent after commit).
    push_to_orgs(
        sorted(set(Bid.objects.filter(lot=lot, opening__isnull=False).values_list("bidder_id", flat=True))),
        {"type": "candidates", "lot": lot.pk, "notice": notice.pk, "publicity_end": timezone.localtime(end).isoformat()},
    )
    return lot


# --- Objections: 条例22 (tender documents), 条例54 (evaluation result) ---------------------------------------


@transaction.atomic
def objection_raise(
    *, lot: Lot, actor, subject: str, content: str, stage: str = Objection.Stage.DOCUMENTS, now: datetime | None = None
) -> Objection:
    """An objection pauses the lot until it is answered: to the tender documents by a potential bidder (条例22), to
    the evaluation result by a bidder of the lot during the candidates' publicity (条例54)."""
    now = _now(now)
    require_role(actor, Role.BIDDER)
    require_org(actor)
    lot = Lot.objects.select_for_update().get(pk=lot.pk)
    if stage == Objection.Stage.RESULTS:
        return _results_objection_raise(lot, actor=actor, subject=subject, content=content, now=now)
    if stage != Objection.Stage.DOCUMENTS:
        raise DomainError("invalid_stage", "异议阶段无效", "Unknown objection stage", status_code=400)
    if lot.status not in (LotStatus.PUBLISHED, LotStatus.TENDERING, LotStatus.SUSPENDED) or lot.docs_issued_at is None:
        raise DomainError(
            "invalid_lot_state", "该标段当前不受理对招标文件的异议", "This lot takes no objections to its documents now"
        )
    breach = rules.objection_breach(lot.project.rule_set, raised_at=now, deadline=lot.bid_deadline)
    if breach:
        raise breach_error(breach)
    objection = Objection.objects.create(
        lot=lot,
        subject=subject,
        content=content,
        raised_at=now,
        answer_due=rules.objection_answer_due(lot.project.rule_set, raised_at=now),
        raiser_sealed=seal("objection", "", {"org": actor.organisation_id, "user": actor.pk}),
        raiser_index=objection_raiser_index(actor.organisation_id),
    )
    # Who objected stays sealed until the deadline, like enrolment.
    audit_record(
        action="objection.raised", actor=actor, obj=objection, lot_id=lot.pk, after={"subject": subject}, sealed=True, now=now
    )
    audit_record(
        action="objection.received",
        obj=objection,
        lot_id=lot.pk,
        after={"subject": subject, "answer_due": objection.answer_due},
        now=now,
    )
    _pause_for_objection(lot, objection, article="条例22", now=now)
    return objection


def _results_objection_raise(lot: Lot, *, actor, subject: str, content: str, now: datetime) -> Objection:
    from bidding.models import Bid

    if not Bid.objects.filter(lot=lot, bidder_id=actor.organisation_id, opening__isnull=False).exists():
        raise forbidden(
            "只有本标段开标的投标人可以对评标结果提出异议",
            "Only a bidder whose bid was opened for this lot may object to its evaluation result",
            code="not_a_bidder_of_lot",
        )
    in_publicity = lot.status == LotStatus.PUBLICITY or (
        lot.status == LotStatus.SUSPENDED and lot.suspended_from == LotStatus.PUBLICITY
    )
    breach = rules.results_objection_breach(
        lot.project.rule_set,
        raised_at=now,
        publicity_start=lot.publicity_start if in_publicity else None,
        publicity_end=lot.publicity_end if in_publicity else None,
    )
    if breach:
        raise breach_error(breach)
    # The bid deadline is long past: the raiser is not sealed from the tenderee (as enrolments are unsealed by then).
    objection = Objection.objects.create(
        lot=lot,
        stage=Objection.Stage.RESULTS,
        subject=subject,
        content=content,
        raised_at=now,
        answer_due=rules.results_objection_answer_due(lot.project.rule_set, raised_at=now),
        raiser_sealed=seal("objection", "", {"org": actor.organisation_id, "user": actor.pk}),
        raiser_index=objection_raiser_index(actor.organisation_id),
        raised_by_id=actor.organisation_id,
    )
    audit_record(
        action="objection.raised",
        actor=actor,
        obj=objection,
        lot_id=lot.pk,
        after={"stage": objection.stage, "subject": subject, "answer_due": objection.answer_due},
        now=now,
    )
    _pause_for_objection(lot, objection, article="条例54", now=now)
    return objection


def _pause_for_objection(lot: Lot, objection: Objection, *, article: str, now: datetime) -> None:
    """The process pauses until the objection is answered; a lot already paused stays paused (resuming it then
    narrows to the objection pause while one is pending)."""
    if lot.status == LotStatus.SUSPENDED:
        return
    _move(
        lot,
        sources=[lot.status],
        target=LotStatus.SUSPENDED,
        action="lot.suspended",
        actor=None,
        now=now,
        fields={"suspended_from": lot.status, "suspension_kind": SuspensionKind.OBJECTION, "suspension_reason": article},
        details={"kind": SuspensionKind.OBJECTION, "objection": str(objection.pk)},
    )


@transaction.atomic
def objection_answer(*, objection: Objection, actor, answer: str, now: datetime | None = None) -> Objection:
    now = _now(now)
    require_tenderee_side(actor, objection.lot.project)
    if not answer.strip():
        raise DomainError("answer_required", "答复内容不能为空", "The answer cannot be empty", status_code=400)
    lot = Lot.objects.select_for_update().get(pk=objection.lot_id)
    updated = Objection.objects.filter(pk=objection.pk, status=Objection.Status.PENDING).update(
        status=Objection.Status.ANSWERED, answer=answer, answered_by=actor, answered_at=now
    )
    if updated != 1:
        raise DomainError("objection_answered", "该异议已答复", "This objection has already been answered")
    objection.refresh_from_db()
    audit_record(
        action="objection.answered",
        actor=actor,
        obj=objection,
        lot_id=lot.pk,
        after={"answer": answer, "late": now > objection.answer_due},
        now=now,
    )
    if lot.status == LotStatus.SUSPENDED and lot.suspension_kind == SuspensionKind.OBJECTION:
        _resume(lot, actor=actor, now=now)
    return objection


# --- Time-driven transitions ----------------------------------------------------------------------


def sweep_deadlines(*, now: datetime | None = None, batch: int = 200) -> dict:
    """The beat sweep: document period over, bid deadline reached, candidates due, publicity ended. Safe to run twice.

    Each lot moves in its own transaction with a conditional update, so a second sweep (or a second
    beat) finds nothing left to do, and one failing lot does not hold back the others.
    """
    from bidding.services import enrolments_unseal
    from bidding.services.opening import opening_start, openings_sweep

    now = _now(now)
    moved = {"tendering": 0, "opening": 0, "unsealed": 0, "publicity": 0, "awarded": 0}
    for lot in Lot.objects.filter(status=LotStatus.PUBLISHED, docs_sale_end__lt=now, bid_deadline__gt=now)[:batch]:
        with transaction.atomic():
            try:
                _move(lot, sources=[LotStatus.PUBLISHED], target=LotStatus.TENDERING, action="lot.tendering", actor=None, now=now)
            except DomainError:
                continue
            moved["tendering"] += 1
    # 法34: the opening happens at the bid deadline itself; the lists open and the opening starts (or fails, 条例44).
    for lot in Lot.objects.filter(status__in=[LotStatus.PUBLISHED, LotStatus.TENDERING], bid_deadline__lte=now)[:batch]:
        with transaction.atomic():
            try:
                lot = _move(
                    lot,
                    sources=[LotStatus.PUBLISHED, LotStatus.TENDERING],
                    target=LotStatus.OPENING,
                    action="lot.opening",
                    actor=None,
                    now=now,
                )
            except DomainError:
                continue
            moved["opening"] += 1
            moved["unsealed"] += 1 if enrolments_unseal(lot=lot, now=now) is not None else 0
            opening_start(lot=lot, now=now)
    # A lot paused over its deadline still opens its lists at the deadline.
    for lot in Lot.objects.filter(enrolments_unsealed_at__isnull=True, docs_issued_at__isnull=False, bid_deadline__lte=now)[
        :batch
    ]:
        moved["unsealed"] += 1 if enrolments_unseal(lot=lot, now=now) is not None else 0
    # 条例54: candidates published within 3 days of the report; on the window's last day the sweep publishes
    # what staff have not.
    from evaluation.models import EvaluationSession, SessionPhase

    done = EvaluationSession.objects.filter(phase=SessionPhase.DONE, lot__status=LotStatus.EVALUATING, finished_at__lte=now)
    for session in done.select_related("lot__project__rule_set").order_by("finished_at")[:batch]:
        rule_set = session.lot.project.rule_set
        if now < rules.candidates_publicity_sweep_from(rule_set, report_at=session.finished_at):
            continue
        with transaction.atomic():
            try:
                lot_start_publicity(lot=session.lot, actor=None, now=now)
            except DomainError:
                continue
            moved["publicity"] += 1
    # 条例54: publicity over and no objection pending.
    for lot in Lot.objects.filter(status=LotStatus.PUBLICITY, publicity_end__lt=now)[:batch]:
        with transaction.atomic():
            if Objection.objects.filter(lot=lot, status=Objection.Status.PENDING).exists():
                continue
            try:
                _move(lot, sources=[LotStatus.PUBLICITY], target=LotStatus.AWARDED, action="lot.awarded", actor=None, now=now)
            except DomainError:
                continue
            moved["awarded"] += 1
    openings_sweep(now=now, batch=batch)  # decryption windows that have ended (bidding/services/opening.py)
    from evaluation.services import draws_sweep

    draws_sweep(now=now, batch=batch)  # unanswered committee invitations (evaluation/services.py)
    return moved
