"""What the centre pushes to the regional platform, table by table (docs/regional-exchange.md, spec version
SPEC_VERSION). Each builder reads the database inside the transaction of the change it reports and returns plain
JSON: amounts as decimal strings in yuan, times in UTC ISO 8601, organisations by unified social credit code.

Only what may be known at that point leaves the centre: the bidder list after the opening record is published
(法36; before the deadline nobody may know who enrolled, 法22), the committee's names with the award letters (法37 keeps
the list secret until the winner is decided). Sealed audit entries never reach the hook at all."""

from datetime import UTC, datetime

from django.utils import timezone

SPEC_VERSION = "1.0"

# The audit actions that push, and the tables each one pushes (besides "notice", pushed by notices.services).
LOT_STATUS_ACTIONS = {
    "lot.filed",
    "lot.published",
    "lot.tendering",
    "lot.opening",
    "lot.deadline_moved",
    "lot.evaluation_started",
    "lot.awarded",
    "lot.archived",
    "lot.suspended",
    "lot.resumed",
    "lot.failed",
    "lot.terminated",
    "lot.retendered",
}
ACTION_TABLES: dict[str, tuple[str, ...]] = {
    "lot.registered": ("project", "lot"),
    **{action: ("lot",) for action in LOT_STATUS_ACTIONS},
    "opening.record_published": ("opening_record", "bidders"),
    "lot.publicity_started": ("lot", "report", "candidates"),
    "lot.letters_issued": ("result", "award", "experts"),
    # 远程异地评标: the draw's invitations, a replacement invited, the committee fixed, the request cancelled.
    "draw.drawn": ("remote_seats",),
    "member.invited": ("remote_seats",),
    "committee.fixed": ("remote_seats",),
    "draw_request.cancelled": ("remote_seats",),
}


def iso(value: datetime | None) -> str | None:
    return None if value is None else timezone.localtime(value, UTC).isoformat().replace("+00:00", "Z")


def money(value) -> str | None:
    return None if value is None else str(value)


def organisation(org) -> dict | None:
    if org is None:
        return None
    return {"credit_code": org.credit_code, "name": org.name}


def project(lot) -> dict:
    p = lot.project
    return {
        "code": p.code,
        "name": p.name,
        "procedure": p.rule_set.code,
        "tenderee": organisation(p.tenderee),
        "agency": organisation(p.agency),
        "region_code": p.region_code,
        "funding_source": p.funding_source,
        "registered_at": iso(p.registered_at),
    }


def lot_row(lot) -> dict:
    return {
        "project_code": lot.project.code,
        "lot_no": lot.seq,  # the lot's number within its project (not the push's seq)
        "name": lot.name,
        "status": lot.status,
        "suspended_from": lot.suspended_from or None,
        "estimated_price": money(lot.estimated_price),
        "max_price": money(lot.max_price),
        "bond_amount": money(lot.bond_amount),
        "docs_issued_at": iso(lot.docs_issued_at),
        "docs_sale_end": iso(lot.docs_sale_end),
        "bid_deadline": iso(lot.bid_deadline),
        "publicity_start": iso(lot.publicity_start),
        "publicity_end": iso(lot.publicity_end),
        "retender_of": lot.retender_of.transaction_code if lot.retender_of_id else None,
        "status_changed_at": iso(lot.status_changed_at),
    }


def notice(item) -> dict:
    return {
        "id": item.pk,
        "kind": item.kind,
        "title": item.title,
        "body": item.body,
        "region_code": item.region_code,
        "published_at": iso(item.published_at),
        "deadline_before": iso(item.deadline_before),
        "deadline_after": iso(item.deadline_after),
    }


def opening_record(lot) -> dict:
    opening = lot.opening
    return {
        "started_at": iso(opening.started_at),
        "decryption_deadline": iso(opening.decryption_deadline),
        "decryption_closed_at": iso(opening.decryption_closed_at),
        "published_at": iso(opening.record_published_at),
        "pdf_sha256": opening.record_sha256,
        "rows": [
            {
                "no": row["no"],
                "credit_code": row["credit_code"],
                "name": row["bidder"],
                "status": row["status"],
                "price": row.get("price"),
                "duration_days": row.get("duration_days"),
                "quality": row.get("quality"),
                "note": row.get("note", ""),
            }
            for row in opening.record
        ],
    }


def bidders(lot) -> dict:
    """The bidders of the opening (the deadline's bids), each with its upload's ciphertext hash and time."""
    from bidding.models import Bid

    bids = Bid.objects.filter(opening__lot=lot).select_related("bidder").order_by("bidder__credit_code")
    return {
        "bidders": [
            {
                **organisation(bid.bidder),
                "status": bid.status,
                "ciphertext_sha256": bid.sha256,
                "size": bid.size,
                "decrypted_at": iso(bid.decrypted_at),
            }
            for bid in bids
        ]
    }


def _session(lot):
    from evaluation.models import EvaluationSession

    return EvaluationSession.objects.filter(lot=lot).select_related("request").first()


def report(lot) -> dict:
    """The report's summary: the committee's size, the counts, the final PDF's hash; never the members' names."""
    from bidding.models import Bid, BidStatus
    from evaluation.models import DrawnExpert, EvaluationMethod, EvaluationReport, MemberStatus

    session = _session(lot)
    method = EvaluationMethod.objects.filter(lot=lot).first()
    final = EvaluationReport.objects.filter(session=session).first() if session else None
    opened = Bid.objects.filter(opening__lot=lot, status=BidStatus.DECRYPTED).count()
    ranked = len(session.ranking) if session else 0
    return {
        "method": method.kind if method else None,
        "started_at": iso(session.started_at) if session else None,
        "finished_at": iso(session.finished_at) if session else None,
        "committee_size": DrawnExpert.objects.filter(draw__request=session.request, status=MemberStatus.CONFIRMED).count()
        if session
        else None,
        "opened_bids": opened,
        "valid_bids": ranked,
        "report_sha256": (final.final_sha256 or final.sha256) if final else None,
        "report_finalized_at": iso(final.finalized_at) if final else None,
    }


def candidates(lot) -> dict:
    from trading.services import lot_candidates

    return {
        "publicity_start": iso(lot.publicity_start),
        "publicity_end": iso(lot.publicity_end),
        "candidates": [
            {
                "rank": row["rank"],
                "credit_code": row["credit_code"],
                "name": row["name"],
                "price": row["price"],
                "total": row["total"],
                "evaluated_price": row["evaluated_price"],
            }
            for row in lot_candidates(lot)
        ],
    }


def _award_letter(lot):
    from notices.models import Letter, LetterKind

    return Letter.objects.filter(lot=lot, kind=LetterKind.AWARD).select_related("recipient").first()


def result(lot) -> dict:
    from trading.services import lot_candidates

    letter = _award_letter(lot)
    winner = letter.recipient if letter else None
    row = next((c for c in lot_candidates(lot) if winner and c["credit_code"] == winner.credit_code), None)
    return {
        "winner": organisation(winner),
        "rank": row["rank"] if row else None,
        "price": row["price"] if row else None,
        "decided_at": iso(letter.issued_at) if letter else None,
    }


def award(lot) -> dict:
    from notices.models import Letter

    letters = Letter.objects.filter(lot=lot).select_related("recipient").order_by("kind", "recipient__credit_code")
    return {
        "letters": [
            {
                "kind": letter.kind,
                "recipient": organisation(letter.recipient),
                "code": letter.code,
                "sha256": letter.sha256,
                "issued_at": iso(letter.issued_at),
            }
            for letter in letters
        ]
    }


def experts(lot) -> dict:
    """The committee that evaluated, made public with the result: the same members, in the same order, as the result
    notice names (notices/letters.py)."""
    from evaluation.selectors import committee_of

    members = committee_of(lot.pk).select_related("line").order_by("line__position", "position")
    return {
        "experts": [
            {
                "number": m.expert.number or None,
                "name": m.expert.name,
                "specialty": m.line.specialty_code,
                "employer": m.expert.employer_name,
                "venue": m.venue.name if m.venue else None,
                "centre": (m.venue.centre_code or None) if m.venue else None,
                "pool": m.expert.pool,
            }
            for m in members
        ]
    }


def _draw_request_id(event) -> int | None:
    """The draw request an event is about: a draw shares its request's key; a member row points at its draw."""
    from evaluation.models import DrawnExpert

    if event is None or not event.object_id:
        return None
    if event.object_type == "evaluation.drawnexpert":
        return DrawnExpert.objects.filter(pk=event.object_id).values_list("draw_id", flat=True).first()
    if event.object_type in ("evaluation.draw", "evaluation.drawrequest"):
        return int(event.object_id)
    return None


def remote_seats(lot, event=None) -> dict | None:
    """远程异地评标: the seats a draw request books in other centres' venues and the experts it calls from the regional
    pool, as they stand after the event, so the regional platform can hold the seats and call those experts. Nothing
    to push when the request is local. Names stay out (the committee is secret until the award, 法37): experts go by
    their regional pool number."""
    from evaluation.models import DrawnExpert, DrawRequest, MemberStatus

    request_id = _draw_request_id(event)
    request = DrawRequest.objects.filter(pk=request_id, lot=lot).first() if request_id else None
    if request is None:
        return None
    booked = request.venues.select_related("venue").exclude(venue__centre_code="").order_by("pk")
    called = (
        DrawnExpert.objects.filter(draw_id=request.pk, expert__pool="regional")
        .exclude(status__in=[MemberStatus.BACKUP, MemberStatus.SKIPPED])  # never called
        .select_related("expert", "line", "venue")
        .order_by("line__position", "position")
    )
    seats = [{"centre": b.venue.centre_code, "venue": b.venue.name, "seats": b.seats} for b in booked]
    experts = [
        {
            "number": m.expert.number,
            "specialty": m.line.specialty_code,
            "status": m.status,
            "respond_by": iso(m.respond_by),
            "centre": (m.venue.centre_code or None) if m.venue else None,
            "venue": m.venue.name if m.venue else None,
            "seat": m.seat,
        }
        for m in called
    ]
    if not seats and not experts:
        return None
    return {
        "request": request.pk,
        "status": request.status,
        "window_start": iso(request.window_start),
        "window_end": iso(request.window_end),
        "seats": seats,
        "experts": experts,
    }


BUILDERS = {
    "project": project,
    "lot": lot_row,
    "opening_record": opening_record,
    "bidders": bidders,
    "report": report,
    "candidates": candidates,
    "result": result,
    "award": award,
    "experts": experts,
}


def build(table: str, lot, event=None) -> dict | None:
    if table == "remote_seats":
        return remote_seats(lot, event)
    return BUILDERS[table](lot)
