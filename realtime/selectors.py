"""Who may sit in which room, and what a room shows on (re)connection. Read-only: the draw and the opening are
decided elsewhere (evaluation/services.py, bidding/services/opening.py); this only reads them."""

from dataclasses import dataclass

from django.db import models
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from bidding.models import Bid, BidStatus, Opening
from evaluation.models import DrawnExpert, DrawRequest
from evaluation.selectors import committee_of
from realtime import presence
from trading.models import Role

WATCHERS = (Role.STAFF, Role.SUPERVISOR)

UNAUTHENTICATED = 4401
NOT_ALLOWED = 4403
NO_SUCH_ROOM = 4404


class Refused(Exception):
    """Not let into a room; `code` is the websocket close code."""

    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Seat:
    """A user's place in a room: role "member" (a confirmed committee member), "bidder", "tenderee", "staff" or
    "supervisor"; watchers (staff, supervisors) see every event and may not speak."""

    user_id: int
    role: str
    member_id: int | None = None
    venue_id: int | None = None
    organisation: str | None = None  # a bidder's, in the opening hall

    @property
    def who(self) -> dict:
        """How the opening hall's presence lists this seat (realtime.presence.join)."""
        return {"role": self.role, "organisation": self.organisation}

    @property
    def watcher(self) -> bool:
        return self.role in WATCHERS


def evaluation_committee(lot_id: int) -> QuerySet[DrawnExpert]:
    """The members of lot X, by venue and seat."""
    return committee_of(lot_id).order_by("venue__kind", "venue_id", "seat")


def evaluation_seat(user, lot_id: int) -> Seat:
    """Staff and supervisors once the lot's committee is fixed (4404 before); a confirmed member of that committee.
    Anyone else is refused with 4403, whether the room exists or not: the code tells them nothing."""
    if not getattr(user, "is_authenticated", False):
        raise Refused(UNAUTHENTICATED)
    if user.role in WATCHERS:
        if not DrawRequest.objects.filter(lot_id=lot_id, status=DrawRequest.Status.FIXED).exists():
            raise Refused(NO_SUCH_ROOM)
        return Seat(user.pk, user.role)
    if user.role == Role.EXPERT:
        member = evaluation_committee(lot_id).filter(expert__user=user).first()
        if member is not None:
            return Seat(user.pk, "member", member_id=member.pk, venue_id=member.venue_id)
    raise Refused(NOT_ALLOWED)


def opening_seat(user, lot_id: int) -> Seat:
    """Whoever may see the lot's opening (bidding.services.opening.opening_party): its bidders, the tenderee side,
    staff and supervisors. No opening yet: 4404 for staff and supervisors, 4403 for everyone else."""
    if not getattr(user, "is_authenticated", False):
        raise Refused(UNAUTHENTICATED)
    opening = Opening.objects.select_related("lot", "lot__project").filter(lot_id=lot_id).first()
    if opening is None:
        raise Refused(NO_SUCH_ROOM if user.role in WATCHERS else NOT_ALLOWED)
    # The opening's own rule of who sees it; imported here because bidding's services import realtime's.
    from bidding.services.opening import opening_party

    party = opening_party(opening, user)
    if party is None:
        raise Refused(NOT_ALLOWED)
    if party == "bidder":
        return Seat(user.pk, party, organisation=user.organisation.name)
    return Seat(user.pk, user.role if party == "watcher" else party)


def opening_state(lot_id: int) -> dict:
    """The opening as every party may see it (the counts and times of bidding.services.opening.opening_view, never
    who is who): the window, how many bids, signed in and decided, whether the record is published."""
    opening = Opening.objects.filter(lot_id=lot_id).first()
    if opening is None:
        return {}
    by_status = dict(
        Bid.objects.filter(opening=opening).values_list("status").annotate(n=models.Count("pk")).values_list("status", "n")
    )
    return {
        "started_at": _iso(opening.started_at),
        "decryption_deadline": _iso(opening.decryption_deadline),
        "decryption_closed_at": _iso(opening.decryption_closed_at),
        "bids": sum(by_status.values()),
        "signed_in": opening.sign_ins.count(),
        "sealed": by_status.get(BidStatus.SUBMITTED, 0),
        "decrypted": by_status.get(BidStatus.DECRYPTED, 0),
        "revoked": by_status.get(BidStatus.REVOKED, 0),
        "withdrawn": by_status.get(BidStatus.WITHDRAWN, 0),
        "record": {
            "published_at": _iso(opening.record_published_at),
            "sha256": opening.record_sha256,
            "path": record_path(lot_id),
        }
        if opening.record_published_at
        else None,
    }


def _iso(moment) -> str | None:
    return timezone.localtime(moment).isoformat() if moment else None


def record_path(lot_id: int) -> str:
    return reverse("opening-record-pdf", kwargs={"lot_id": lot_id})


def opening_presence(room: str, *, watcher: bool) -> dict:
    """Who is in the opening hall now: how many per side; for staff and supervisors also the bidders by
    organisation. Others get the counts only: before the record is published a bidder sees no other bidder's
    identity through the API (opening_view), so not here either."""
    listed = presence.roster(room).values()
    counts = {role: 0 for role in ("bidder", "tenderee", Role.STAFF, Role.SUPERVISOR)}
    organisations: set[str] = set()
    for who in listed:
        counts[who["role"]] = counts.get(who["role"], 0) + 1
        if who["role"] == "bidder" and who.get("organisation"):
            organisations.add(who["organisation"])
    data = {"online": counts, "bidders_online": len(organisations)}
    if watcher:
        data["bidders"] = sorted(organisations)
    return data


def evaluation_presence(lot_id: int, room: str) -> list[dict]:
    """Per venue (main first): each seat's member and whether they are connected now."""
    members = list(evaluation_committee(lot_id))
    on = presence.online(room, [m.expert.user_id for m in members if m.expert.user_id is not None])
    venues: dict[int, dict] = {}
    for m in members:
        venue = venues.setdefault(
            m.venue_id,
            {"venue": m.venue_id, "name": m.venue.name, "kind": m.venue.kind, "online": 0, "total": 0, "members": []},
        )
        is_on = m.expert.user_id in on
        venue["members"].append({"member": m.pk, "seat": m.seat, "name": m.expert.name, "online": is_on})
        venue["online"] += is_on
        venue["total"] += 1
    return list(venues.values())


DEFAULT_STATE = {"phase": None, "paused": False, "submitted": []}


def snapshot(seat: Seat, *, kind: str, lot_id: int, room: str, last_seq: int, state: dict) -> dict:
    """What a client gets after the replay: its own seat, the presence, and the room's state as of `last_seq`.
    Evaluation: phase, paused, who has submitted (what services put in the state, never anyone's scores), presence
    per venue. Opening: the opening's current window, counts and record (opening_state), presence per side."""
    data = {
        "room": room,
        "as_of": last_seq,
        "you": {"role": seat.role, "member": seat.member_id, "venue": seat.venue_id},
    }
    if kind == "evaluation":
        data["state"] = {**DEFAULT_STATE, **state}
        data["presence"] = evaluation_presence(lot_id, room)
    else:
        data["you"]["organisation"] = seat.organisation
        data["state"] = opening_state(lot_id)
        data["presence"] = opening_presence(room, watcher=seat.watcher)
    return data
