"""Open data: OCDS 1.1 releases of each lot (docs/open-data.md).

A release is written once, in the transaction of the public event it reports, and never changed: the tender notice,
a clarification, the published opening record, the candidates publicity, the result (award letters issued), the
termination or failure notice. Each holds only what that event made public: nothing about enrolments, no bidder
before the opening record is published, prices only from that record and the notices, never a committee member.
`seq` (taken under the ReleaseHead lock, held until commit) orders them in commit order, so the API pages on it.
"""

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import models
from django.utils import timezone

from bidding.models import BidStatus, Opening
from notices.models import Letter, LetterKind, Notice, NoticeKind, Release, ReleaseHead
from trading.models import Lot, Organisation, OrganisationKind

VERSION = "1.1"
CURRENCY = "CNY"
LANGUAGE = "zh"
# The organization identifier scheme (org-id.guide / the OCDS codelist) for the 统一社会信用代码. The list names the
# register that issues it for enterprises, the State Administration for Industry and Commerce (now SAMR): CN-SAIC.
# It has no entry for the code as such (GB 32100-2015, which other authorities issue too); docs/open-data.md.
IDENTIFIER_SCHEME = "CN-SAIC"
# The OCDS bid extension: `bids.details` carries each bid of the opening record with its price.
BID_EXTENSION = "https://raw.githubusercontent.com/open-contracting/ocds_bid_extension/v1.1.3/extension.json"
# Opening record row status -> bid extension bidStatus.
BID_STATUS = {BidStatus.DECRYPTED: "pending", BidStatus.REVOKED: "disqualified", BidStatus.WITHDRAWN: "withdrawn"}


def ocid_of(lot: Lot) -> str:
    return f"{settings.OCDS_PREFIX}-{lot.transaction_code}"


def rfc3339(moment: datetime | None) -> str | None:
    """UTC, to the second, with a Z: 2026-11-23T01:30:00Z."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _amount(value) -> int | float | None:
    """A JSON number from a Decimal or a price as the opening record holds it (a string); None if it is not one."""
    try:
        number = Decimal(str(value).replace(",", "").strip())
    except (InvalidOperation, TypeError):
        return None
    if not number.is_finite():
        return None
    return int(number) if number == number.to_integral_value() else float(number)


def _value(amount) -> dict | None:
    number = _amount(amount) if amount is not None else None
    return None if number is None else {"amount": number, "currency": CURRENCY}


def party_id(credit_code: str) -> str:
    return f"{IDENTIFIER_SCHEME}-{credit_code}"


def _ref(name: str, credit_code: str) -> dict:
    return {"id": party_id(credit_code), "name": name}


def _party(name: str, credit_code: str, roles: list[str]) -> dict:
    return {
        **_ref(name, credit_code),
        "identifier": {"scheme": IDENTIFIER_SCHEME, "id": credit_code, "legalName": name},
        "roles": roles,
    }


def _org_party(org: Organisation, roles: list[str]) -> dict:
    return _party(org.name, org.credit_code, roles)


def _document(notice: Notice, document_type: str) -> dict:
    """The notice as a document: its id on the public notice board (/api/notices/{id}/)."""
    return {
        "id": f"notice-{notice.pk}",
        "documentType": document_type,
        "title": notice.title,
        "datePublished": rfc3339(notice.published_at),
        "language": LANGUAGE,
    }


def _base(lot: Lot, *, tags: list[str], tender_status: str) -> dict:
    """What every release of the lot carries: the buyer (tenderee), the procuring entity (the agency if there is
    one, else the tenderee), the tender's id and status."""
    project = lot.project
    tenderee, agency = project.tenderee, project.agency
    parties = [_org_party(tenderee, ["buyer"] if agency else ["buyer", "procuringEntity"])]
    if agency:
        parties.append(_org_party(agency, ["procuringEntity"]))
    procuring = agency or tenderee
    return {
        "tag": tags,
        "initiationType": "tender",
        "language": LANGUAGE,
        "parties": parties,
        "buyer": _ref(tenderee.name, tenderee.credit_code),
        "tender": {
            "id": lot.transaction_code,
            "title": f"{project.name} {lot.name}",
            "status": tender_status,
            "procuringEntity": _ref(procuring.name, procuring.credit_code),
        },
    }


def _candidates(lot: Lot) -> list[dict]:
    from trading.services import lot_candidates

    return lot_candidates(lot)


def _candidate_award_id(lot: Lot, rank: int) -> str:
    return f"{lot.transaction_code}-candidate-{rank}"


def _candidate_parties(candidates: list[dict], supplier_bidders: set[int]) -> list[dict]:
    return [
        _party(c["name"], c["credit_code"], ["tenderer", "supplier"] if c["bidder"] in supplier_bidders else ["tenderer"])
        for c in candidates
    ]


# --- One builder per event ------------------------------------------------------------------------------------------


def _tender_release(lot: Lot, notice: Notice) -> dict:
    release = _base(lot, tags=["tender"], tender_status="active")
    tender = release["tender"]
    if lot.max_price is not None:  # 最高投标限价: stated in the tender documents (条例27)
        tender["value"] = _value(lot.max_price)
    tender.update(
        {
            "procurementMethod": "open",
            "procurementMethodDetails": f"公开招标（{lot.project.rule_set.name}）",
            "submissionMethod": ["electronicSubmission"],
            "tenderPeriod": {"startDate": rfc3339(lot.docs_issued_at), "endDate": rfc3339(lot.bid_deadline)},
            "documents": [_document(notice, "tenderNotice")],
        }
    )
    if lot.retender_of_id:
        previous = Lot.objects.get(pk=lot.retender_of_id)
        release["relatedProcesses"] = [
            {
                "id": "1",
                "relationship": ["prior"],
                "title": previous.name,
                "scheme": "ocid",
                "identifier": ocid_of(previous),
            }
        ]
    return release


def _clarification_release(lot: Lot, notice: Notice) -> dict:
    release = _base(lot, tags=["tenderAmendment"], tender_status="active")
    tender = release["tender"]
    tender["tenderPeriod"] = {
        "startDate": rfc3339(lot.docs_issued_at),
        "endDate": rfc3339(notice.deadline_after or lot.bid_deadline),
    }
    amendment = {"id": f"notice-{notice.pk}", "date": rfc3339(notice.published_at), "description": notice.title}
    if notice.deadline_before and notice.deadline_after and notice.deadline_before != notice.deadline_after:
        amendment["rationale"] = "澄清或者修改的内容可能影响投标文件编制，投标截止时间相应顺延（条例21）"
    tender["amendments"] = [amendment]
    tender["documents"] = [_document(notice, "clarifications")]
    return release


def _candidates_release(lot: Lot, notice: Notice) -> dict:
    release = _base(lot, tags=["award"], tender_status="active")
    candidates = _candidates(lot)
    release["parties"] += _candidate_parties(candidates, {c["bidder"] for c in candidates})
    release["tender"]["awardPeriod"] = {"startDate": rfc3339(lot.publicity_start), "endDate": rfc3339(lot.publicity_end)}
    release["awards"] = [
        {
            "id": _candidate_award_id(lot, c["rank"]),
            "title": f"第{c['rank']}名中标候选人",
            "description": "中标候选人公示中（条例54），公示期满且无未决异议后确定中标人",
            "status": "pending",
            "date": rfc3339(notice.published_at),
            **({"value": _value(c["price"])} if _value(c["price"]) else {}),
            "suppliers": [_ref(c["name"], c["credit_code"])],
            "documents": [_document(notice, "awardNotice")],
        }
        for c in candidates
    ]
    return release


def _result_release(lot: Lot, notice: Notice) -> dict:
    release = _base(lot, tags=["awardUpdate", "tenderUpdate"], tender_status="complete")
    candidates = _candidates(lot)
    award_letter = Letter.objects.filter(lot=lot, kind=LetterKind.AWARD).first()
    winner = award_letter.recipient_id if award_letter else None
    release["parties"] += _candidate_parties(candidates, {winner})
    awards = []
    for c in candidates:
        won = c["bidder"] == winner
        award = {
            "id": _candidate_award_id(lot, c["rank"]),
            "title": f"第{c['rank']}名中标候选人" + ("（中标人）" if won else ""),
            "status": "active" if won else "unsuccessful",
            "date": rfc3339(notice.published_at),
            "suppliers": [_ref(c["name"], c["credit_code"])],
        }
        if won:
            if _value(c["price"]):
                award["value"] = _value(c["price"])
            award["documents"] = [_document(notice, "awardNotice")]
        awards.append(award)
    release["awards"] = awards
    return release


def _closed_release(lot: Lot, notice: Notice, *, tags: list[str], status: str, document_type: str) -> dict:
    release = _base(lot, tags=tags, tender_status=status)
    release["tender"]["documents"] = [_document(notice, document_type)]
    if Notice.objects.filter(lot=lot, kind=NoticeKind.CANDIDATES).exists():
        # The candidates were published as pending awards: they will not be awarded now.
        release["awards"] = [{"id": _candidate_award_id(lot, c["rank"]), "status": "cancelled"} for c in _candidates(lot)]
        release["tag"] = [*tags, "awardCancellation"]
    return release


def _termination_release(lot: Lot, notice: Notice) -> dict:
    return _closed_release(lot, notice, tags=["tenderCancellation"], status="cancelled", document_type="cancellationDetails")


def _failure_release(lot: Lot, notice: Notice) -> dict:
    return _closed_release(lot, notice, tags=["tenderUpdate"], status="unsuccessful", document_type="cancellationDetails")


_NOTICE_RELEASES = {
    NoticeKind.TENDER: _tender_release,
    NoticeKind.CLARIFICATION: _clarification_release,
    NoticeKind.CANDIDATES: _candidates_release,
    NoticeKind.RESULT: _result_release,
    NoticeKind.TERMINATION: _termination_release,
    NoticeKind.FAILURE: _failure_release,
}


def _opening_release(lot: Lot, opening: Opening) -> dict:
    """The published opening record: who bid (tender.tenderers) and each bid's status and price (bids.details)."""
    release = _base(lot, tags=["tenderUpdate"], tender_status="active")
    rows = opening.record
    tenderers, details, seen = [], [], set()
    for row in rows:
        ref = _ref(row["bidder"], row["credit_code"])
        if row["credit_code"] not in seen:
            seen.add(row["credit_code"])
            tenderers.append(ref)
            release["parties"].append(_party(row["bidder"], row["credit_code"], ["tenderer"]))
        bid = {"id": f"{lot.transaction_code}-bid-{row['no']}", "date": rfc3339(opening.started_at), "tenderers": [ref]}
        if row["status"] in BID_STATUS:
            bid["status"] = BID_STATUS[row["status"]]
        if row.get("price") is not None and _value(row["price"]):
            bid["value"] = _value(row["price"])
        details.append(bid)
    release["tender"].update({"tenderers": tenderers, "numberOfTenderers": len(tenderers)})
    release["bids"] = {"details": details}
    return release


# --- Writing ------------------------------------------------------------------------------------------------------


def _store(lot: Lot, *, event: str, date: datetime, data: dict) -> Release:
    """Appends one release; the caller's transaction holds the ReleaseHead lock until it commits. The callers write
    their audit event first, so the AuditHead lock is always taken before this one (no lock-order inversion)."""
    head = ReleaseHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        ReleaseHead.objects.get_or_create(pk=1)
        head = ReleaseHead.objects.select_for_update().get(pk=1)
    seq = head.last_seq + 1
    ReleaseHead.objects.filter(pk=head.pk).update(last_seq=seq)
    ocid = ocid_of(lot)
    release_id = f"{ocid}-{event}"
    data = {"ocid": ocid, "id": release_id, "date": rfc3339(date), **data}
    return Release.objects.create(
        seq=seq, lot=lot, ocid=ocid, release_id=release_id, date=date, recorded_at=timezone.now(), data=data
    )


def _lot(lot_id: int) -> Lot:
    return Lot.objects.select_related("project", "project__tenderee", "project__agency", "project__rule_set").get(pk=lot_id)


def release_notice(notice: Notice) -> Release:
    """The release of a notice just published (called by notices.services.notice_create, in its transaction)."""
    lot = _lot(notice.lot_id)
    return _store(lot, event=f"notice-{notice.pk}", date=notice.published_at, data=_NOTICE_RELEASES[notice.kind](lot, notice))


def release_opening_record(*, opening_id: int) -> Release:
    """The release of an opening record just published (called by bidding.services.opening.opening_publish_record,
    in its transaction, once record_published_at is set)."""
    opening = Opening.objects.get(pk=opening_id)
    lot = _lot(opening.lot_id)
    return _store(lot, event=f"opening-{opening.pk}", date=opening.record_published_at, data=_opening_release(lot, opening))


# --- Reading ------------------------------------------------------------------------------------------------------


def releases(*, updated_since: datetime | None = None, ocid: str | None = None) -> models.QuerySet[Release]:
    """Every release is public from the moment it exists; in commit order."""
    qs = Release.objects.order_by("seq")
    if updated_since is not None:
        qs = qs.filter(recorded_at__gte=updated_since)
    if ocid:
        qs = qs.filter(ocid=ocid)
    return qs


def publisher() -> dict:
    centre = Organisation.objects.filter(kind=OrganisationKind.CENTRE).order_by("id").first()
    if centre is None:
        return {"name": "公共资源交易中心"}
    return {"name": centre.name, "scheme": IDENTIFIER_SCHEME, "uid": centre.credit_code}


def release_package(page: list[Release], *, uri: str, links: dict | None = None, now: datetime | None = None) -> dict:
    """A release package of `page`. publishedDate is when its newest release was recorded (the package is made on
    demand, OCDS asks for the last change of its contents), or now for an empty page."""
    published = max((r.recorded_at for r in page), default=None) or now or timezone.now()
    package = {
        "uri": uri,
        "version": VERSION,
        "extensions": [BID_EXTENSION],
        "publishedDate": rfc3339(published),
        "publisher": publisher(),
        "releases": [r.data for r in page],
    }
    if links:
        package["links"] = links
    return package
