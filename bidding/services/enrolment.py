"""Enrolment and tender-document download, sealed until the bid deadline (法22)."""

import base64
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status

from audit.context import current_ip
from audit.services import audit_record
from bidding.models import Enrolment, SealedEnrolment
from notices.models import Notice, NoticeKind
from trading.access import require_org, require_role
from trading.api import DomainError
from trading.models import Lot, LotStatus, Objection, Role, TenderDocument
from trading.sealing import SealBroken, blind_index, seal, unseal

PURPOSE = "enrolment"
DOWNLOAD_PURPOSE = "download-link"


def _index(lot_id: int, org_id: int) -> str:
    return blind_index(PURPOSE, lot_id, org_id)


def _scope(lot_id: int) -> str:
    return f"lot-{lot_id}"


def _sealed_for(lot_id: int, org_id: int, *, lock: bool = False) -> tuple[SealedEnrolment, dict] | None:
    qs = SealedEnrolment.objects.filter(blind_index=_index(lot_id, org_id))
    row = (qs.select_for_update() if lock else qs).first()
    if row is None:
        return None
    return row, unseal(PURPOSE, _scope(lot_id), row.blob)


def _reseal(row: SealedEnrolment, lot_id: int, payload: dict) -> None:
    SealedEnrolment.objects.filter(pk=row.pk).update(blob=seal(PURPOSE, _scope(lot_id), payload))


def _open_rows(lot_id: int):
    """Every sealed row of one lot, found by trial decryption: the rows do not name their lot."""
    scope = _scope(lot_id)
    for row in SealedEnrolment.objects.all().iterator(chunk_size=1000):
        try:
            yield row, unseal(PURPOSE, scope, row.blob)
        except SealBroken:
            continue


def enrolled_bidder_ids(lot: Lot) -> list[int]:
    """For notifying enrolled bidders; used by services only, never exposed before the deadline."""
    if lot.enrolments_unsealed_at is not None:
        return list(Enrolment.objects.filter(lot=lot).values_list("bidder_id", flat=True))
    return [payload["org"] for _, payload in _open_rows(lot.pk)]


@transaction.atomic
def enrolment_create(*, lot: Lot, actor, contact_name: str, contact_phone: str, now: datetime | None = None) -> dict:
    """投标报名 within the document period (条例16)."""
    now = now or timezone.now()
    require_role(actor, Role.BIDDER)
    require_org(actor)
    lot = Lot.objects.select_for_update().get(pk=lot.pk)
    if lot.status != LotStatus.PUBLISHED or lot.docs_sale_end is None or now > lot.docs_sale_end:
        raise DomainError("enrolment_closed", "该标段不在报名（招标文件获取）期内", "Enrolment for this lot is not open")
    if not contact_name.strip() or not contact_phone.strip():
        raise DomainError("contact_required", "须填写联系人和联系电话", "A contact name and phone are required", status_code=400)
    payload = {
        "lot": lot.pk,
        "org": actor.organisation_id,
        "user": actor.pk,
        "enrolled_at": now.isoformat(),
        "contact_name": contact_name,
        "contact_phone": contact_phone,
        "ip": current_ip(),
        "downloads": [],
        "acknowledgements": {},
    }
    try:
        with transaction.atomic():
            SealedEnrolment.objects.create(
                blind_index=_index(lot.pk, actor.organisation_id), blob=seal(PURPOSE, _scope(lot.pk), payload)
            )
    except IntegrityError:
        raise DomainError("already_enrolled", "贵单位已报名该标段", "Your organisation has already enrolled") from None
    audit_record(
        action="enrolment.created",
        actor=actor,
        lot_id=lot.pk,
        object_type="bidding.enrolment",
        after={"org": actor.organisation_id},
        sealed=True,
        now=now,
    )
    return payload


def my_enrolment(*, lot: Lot, actor) -> dict | None:
    """The bidder's own enrolment, sealed or not, with the clarifications it still has to acknowledge."""
    if actor.role != Role.BIDDER or actor.organisation_id is None:
        return None
    if lot.enrolments_unsealed_at is not None:
        row = Enrolment.objects.filter(lot=lot, bidder_id=actor.organisation_id).first()
        if row is None:
            return None
        payload = {
            "lot": lot.pk,
            "org": row.bidder_id,
            "enrolled_at": row.enrolled_at.isoformat(),
            "contact_name": row.contact_name,
            "contact_phone": row.contact_phone,
            "downloads": row.downloads,
            "acknowledgements": row.acknowledgements,
        }
    else:
        found = _sealed_for(lot.pk, actor.organisation_id)
        if found is None:
            return None
        payload = found[1]
    clarifications = Notice.objects.filter(lot=lot, kind=NoticeKind.CLARIFICATION).values_list("pk", flat=True)
    payload["unacknowledged"] = [pk for pk in clarifications if str(pk) not in payload["acknowledgements"]]
    payload.pop("ip", None)
    payload.pop("user", None)
    return payload


def my_enrolments(*, actor) -> list[dict]:
    """All of a bidder's enrolments: sealed ones found by blind index over the open lots, then the opened ones."""
    if actor.role != Role.BIDDER or actor.organisation_id is None:
        return []
    open_lots = {
        _index(lot_id, actor.organisation_id): lot_id
        for lot_id in Lot.objects.filter(docs_issued_at__isnull=False, enrolments_unsealed_at__isnull=True).values_list(
            "pk", flat=True
        )
    }
    lot_ids = [
        open_lots[i] for i in SealedEnrolment.objects.filter(blind_index__in=open_lots).values_list("blind_index", flat=True)
    ]
    lot_ids += list(Enrolment.objects.filter(bidder_id=actor.organisation_id).values_list("lot_id", flat=True))
    lots = Lot.objects.in_bulk(lot_ids)
    return [my_enrolment(lot=lots[lot_id], actor=actor) for lot_id in sorted(lot_ids)]


def is_enrolled(*, lot: Lot, org_id: int) -> bool:
    if lot.enrolments_unsealed_at is not None:
        return Enrolment.objects.filter(lot=lot, bidder_id=org_id).exists()
    return SealedEnrolment.objects.filter(blind_index=_index(lot.pk, org_id)).exists()


def _require_enrolment(lot: Lot, actor, *, lock: bool) -> tuple[SealedEnrolment, dict]:
    require_role(actor, Role.BIDDER)
    require_org(actor)
    found = _sealed_for(lot.pk, actor.organisation_id, lock=lock) if lot.enrolments_unsealed_at is None else None
    if found is None:
        raise DomainError(
            "not_enrolled",
            "贵单位未报名该标段",
            "Your organisation has not enrolled for this lot",
            status_code=status.HTTP_403_FORBIDDEN,
        )
    return found


@transaction.atomic
def document_link(*, document: TenderDocument, actor, now: datetime | None = None) -> dict:
    """A short-lived signed link for an enrolled bidder; the download is recorded in the sealed enrolment."""
    now = now or timezone.now()
    lot = document.lot
    if lot.bid_deadline is None or now >= lot.bid_deadline or lot.docs_issued_at is None:
        raise DomainError("download_closed", "投标截止后不能再下载招标文件", "Documents cannot be downloaded after the deadline")
    row, payload = _require_enrolment(lot, actor, lock=True)
    payload["downloads"].append({"document": document.pk, "at": now.isoformat(), "ip": current_ip()})
    _reseal(row, lot.pk, payload)
    token = download_token(document.pk, now)
    audit_record(
        action="document.link_issued",
        actor=actor,
        lot_id=lot.pk,
        object_type="trading.tenderdocument",
        object_id=str(document.pk),
        sealed=True,
        now=now,
    )
    return {
        "url": f"/api/downloads/{token}/",
        "expires_in": settings.SIGNED_LINK_SECONDS,
        "sha256": document.sha256,
        "size": document.size,
    }


def download_token(document_id: int, issued_at: datetime) -> str:
    """Encrypted, not just signed: a log line with the link must not say which document was fetched."""
    blob = seal(DOWNLOAD_PURPOSE, "", {"d": document_id, "t": issued_at.timestamp()})
    return base64.urlsafe_b64encode(blob).decode().rstrip("=")


def document_for_token(token: str, *, now: datetime | None = None) -> TenderDocument:
    now = now or timezone.now()
    try:
        data = unseal(DOWNLOAD_PURPOSE, "", base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (SealBroken, ValueError):
        raise DomainError(
            "link_invalid", "下载链接无效", "The download link is invalid", status_code=status.HTTP_403_FORBIDDEN
        ) from None
    if now.timestamp() - data["t"] > settings.SIGNED_LINK_SECONDS:
        raise DomainError(
            "link_expired", "下载链接已过期，请重新获取", "The download link has expired", status_code=status.HTTP_410_GONE
        )
    document = TenderDocument.objects.filter(pk=data["d"]).first()
    if document is None:
        raise DomainError("not_found", "文件不存在", "No such document", status_code=status.HTTP_404_NOT_FOUND)
    return document


@transaction.atomic
def clarification_acknowledge(*, notice: Notice, actor, now: datetime | None = None) -> None:
    """Enrolled bidders confirm they received a clarification (条例21); kept sealed with the enrolment."""
    now = now or timezone.now()
    if notice.kind != NoticeKind.CLARIFICATION:
        raise DomainError("not_clarification", "该公告不是澄清公告", "That notice is not a clarification", status_code=400)
    lot = notice.lot
    if lot.enrolments_unsealed_at is not None:
        require_role(actor, Role.BIDDER)
        row = Enrolment.objects.select_for_update().filter(lot=lot, bidder_id=actor.organisation_id).first()
        if row is None:
            raise DomainError(
                "not_enrolled", "贵单位未报名该标段", "Your organisation has not enrolled for this lot", status_code=403
            )
        row.acknowledgements.setdefault(str(notice.pk), now.isoformat())
        Enrolment.objects.filter(pk=row.pk).update(acknowledgements=row.acknowledgements)
        return
    sealed_row, payload = _require_enrolment(lot, actor, lock=True)
    if str(notice.pk) in payload["acknowledgements"]:
        return
    payload["acknowledgements"][str(notice.pk)] = now.isoformat()
    _reseal(sealed_row, lot.pk, payload)
    audit_record(
        action="clarification.acknowledged",
        actor=actor,
        lot_id=lot.pk,
        object_type="notices.notice",
        object_id=str(notice.pk),
        sealed=True,
        now=now,
    )


@transaction.atomic
def enrolments_unseal(*, lot: Lot, now: datetime | None = None) -> int | None:
    """At the bid deadline: opens the lot's sealed enrolments and objections. Safe to run twice."""
    now = now or timezone.now()
    claimed = Lot.objects.filter(pk=lot.pk, enrolments_unsealed_at__isnull=True, bid_deadline__lte=now).update(
        enrolments_unsealed_at=now
    )
    if claimed != 1:
        return None
    enrolments, opened = [], []
    for row, payload in _open_rows(lot.pk):
        opened.append(row.pk)
        enrolments.append(
            Enrolment(
                lot_id=lot.pk,
                bidder_id=payload["org"],
                enrolled_by_id=payload["user"],
                enrolled_at=datetime.fromisoformat(payload["enrolled_at"]),
                contact_name=payload["contact_name"],
                contact_phone=payload["contact_phone"],
                downloads=payload["downloads"],
                acknowledgements=payload["acknowledgements"],
                unsealed_at=now,
            )
        )
    Enrolment.objects.bulk_create(enrolments)
    SealedEnrolment.objects.filter(pk__in=opened).delete()
    for objection in Objection.objects.filter(lot_id=lot.pk, raised_by__isnull=True):
        raiser = unseal("objection", "", objection.raiser_sealed)
        Objection.objects.filter(pk=objection.pk).update(raised_by_id=raiser["org"])
    from bidding.services.bids import bids_unseal

    bids_unseal(lot=lot, now=now)
    audit_record(
        action="enrolment.unsealed",
        obj=lot,
        lot_id=lot.pk,
        after={"count": len(enrolments), "bidders": sorted(e.bidder_id for e in enrolments)},
        now=now,
    )
    return len(enrolments)


def enrolments_visible_to(*, user, lot: Lot):
    """The enrolment list: nobody sees it, nor its size, before the deadline (法22)."""
    if lot.enrolments_unsealed_at is None:
        raise DomainError(
            "enrolment_sealed",
            "投标截止前，任何人不得查看报名单位及数量（招标投标法第二十二条）",
            "Before the bid deadline nobody may see who enrolled or how many (Tendering Law art. 22)",
            status_code=status.HTTP_403_FORBIDDEN,
        )
    from trading.selectors import lots_visible_to

    qs = Enrolment.objects.filter(lot=lot).select_related("bidder")
    if user.role in (Role.STAFF, Role.SUPERVISOR):
        return qs
    if lots_visible_to(user).filter(pk=lot.pk).exists() and user.role in (Role.TENDEREE, Role.AGENCY):
        return qs
    if user.role == Role.BIDDER:
        return qs.filter(bidder_id=user.organisation_id)
    return qs.none()
