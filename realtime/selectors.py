"""Who may sit in which room, and what a room shows on (re)connection. Read-only: the draw and the opening are
decided elsewhere (evaluation/services.py, bidding/services/opening.py); this only reads them."""

from dataclasses import dataclass

from django.db.models import QuerySet

from bidding.models import Opening
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
    """Whoever may see the lot's opening (bidding.services.opening._party): its bidders, the tenderee side, staff
    and supervisors. No opening yet: 4404 for staff and supervisors, 4403 for everyone else."""
    if not getattr(user, "is_authenticated", False):
        raise Refused(UNAUTHENTICATED)
    opening = Opening.objects.select_related("lot", "lot__project").filter(lot_id=lot_id).first()
    if opening is None:
        raise Refused(NO_SUCH_ROOM if user.role in WATCHERS else NOT_ALLOWED)
    # The opening's own rule of who sees it; imported here because bidding's services import realtime's.
    from bidding.services.opening import _party

    party = _party(opening, user)
    if party is None:
        raise Refused(NOT_ALLOWED)
    return Seat(user.pk, user.role if party == "watcher" else party)


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
    """What a client gets after the replay: the room's state as of `last_seq` (phase, paused, who has submitted:
    what services put in the state, never anyone's scores), the presence per venue, and its own seat."""
    data = {
        "room": room,
        "as_of": last_seq,
        "you": {"role": seat.role, "member": seat.member_id, "venue": seat.venue_id},
        "state": {**DEFAULT_STATE, **state},
    }
    if kind == "evaluation":
        data["presence"] = evaluation_presence(lot_id, room)
    return data
