"""Room events: services publish, consumers replay and forward. docs/architecture.md, "Realtime rooms".

    rooms.publish(rooms.evaluation_room(lot.pk), "phase", {"phase": "scoring"}, state={"phase": "scoring"})

`publish` runs inside the caller's transaction: it takes the room's head row (the lock that orders the room),
numbers the event, stores it, and sends it to the room's group with `transaction.on_commit`. A rolled-back
transaction sends nothing and leaves no number behind, so a committed event N means every event before N is
committed too: a consumer that sees a gap reads the missing events back from the table.

Each event has an audience: EVERYONE in the room, WATCHERS only (staff and supervisors), STAFF_SIDE (the watchers
and, in the opening hall, the tenderee side), or `only(user)`, one member (and the watchers, who see everything). The event travels once to the room's group with its audience;
each connection forwards it to its client or not (`visible`), and counts it as seen either way.
"""

import json
from dataclasses import dataclass
from datetime import datetime

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from realtime.groups import room_group
from realtime.models import Audience, RoomEvent, RoomHead

EVALUATION = "evaluation"
OPENING = "opening"
EVENT_TYPE = "room.event"  # channel-layer message type: RoomConsumer.room_event
PRESENCE_TYPE = "room.presence"
EVICT_TYPE = "room.evict"


def evaluation_room(lot_id: int) -> str:
    return f"{EVALUATION}:{int(lot_id)}"


def opening_room(lot_id: int) -> str:
    return f"{OPENING}:{int(lot_id)}"


@dataclass(frozen=True)
class Target:
    audience: str
    user_id: int | None = None


EVERYONE = Target(Audience.EVERYONE)
WATCHERS = Target(Audience.WATCHERS)
STAFF_SIDE = Target(Audience.STAFF_SIDE)


def only(user) -> Target:
    """One member of the room (and the watchers)."""
    return Target(Audience.MEMBER, getattr(user, "pk", user))


def visible(audience: str, audience_user_id: int | None, *, user_id: int, watcher: bool, tenderee: bool = False) -> bool:
    if audience == Audience.EVERYONE or watcher:
        return True
    if audience == Audience.STAFF_SIDE:
        return tenderee
    return audience == Audience.MEMBER and audience_user_id == user_id


def dumps(data: dict) -> str:
    return json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))


def envelope(*, seq: int | None, kind: str, at: datetime, payload: dict) -> str:
    """The one shape of everything a room sends: {"seq", "kind", "at", "payload"}; seq is null outside the sequence
    (snapshot, presence, heartbeat, ack, error)."""
    return dumps({"seq": seq, "kind": kind, "at": at.isoformat(), "payload": payload})


def lock(room: str) -> RoomHead:
    """The room's head row, locked to the end of the transaction (created on first use)."""
    RoomHead.objects.get_or_create(room=room)
    return RoomHead.objects.select_for_update().get(room=room)


def publish(
    room: str, kind: str, payload: dict, *, audience: Target = EVERYONE, state: dict | None = None, now: datetime | None = None
) -> RoomEvent:
    """Number and store one event, and send it after commit. `state` (keys merged into the room's current state,
    shown in every snapshot) must hold only what everyone in the room may see: never what an expert scored."""
    if audience.audience == Audience.MEMBER and audience.user_id is None:
        raise ValueError("a member audience needs a user")
    now = now or timezone.now()
    with transaction.atomic():
        head = lock(room)
        head.last_seq += 1
        if state:
            head.state = {**head.state, **state}
        head.save(update_fields=["last_seq", "state"] if state else ["last_seq"])
        event = RoomEvent.objects.create(
            room=room,
            seq=head.last_seq,
            kind=kind,
            at=now,
            payload=payload,
            audience=audience.audience,
            audience_user_id=audience.user_id,
        )
    message = {
        "type": EVENT_TYPE,
        "seq": event.seq,
        "audience": event.audience,
        "user": event.audience_user_id,
        "text": text_of(event),
    }
    transaction.on_commit(lambda: _send(room, message))
    return event


def evict(room: str, user_id: int) -> None:
    """After commit, closes the user's connections to the room with 4403: for a service that takes a seat away (a
    member replaced, 条例48). The user's next connection is refused by the seat check like anyone else's."""
    transaction.on_commit(lambda: _send(room, {"type": EVICT_TYPE, "user": user_id}))


def _send(room: str, message: dict) -> None:
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(room_group(room), message)


def text_of(event: RoomEvent) -> str:
    return envelope(seq=event.seq, kind=event.kind, at=event.at, payload=event.payload)


# --- Reads for the consumers (sync: called through database_sync_to_async) ---------------------------------------


def head(room: str) -> tuple[int, dict]:
    """(last sequence number, current state); (0, {}) for a room nothing was published to yet."""
    row = RoomHead.objects.filter(room=room).values_list("last_seq", "state").first()
    return row if row is not None else (0, {})


def events_between(room: str, after: int, upto: int | None = None) -> list[RoomEvent]:
    """Events with after < seq <= upto, in order: a replay, or the gap before a live event."""
    qs = RoomEvent.objects.filter(room=room, seq__gt=after)
    if upto is not None:
        qs = qs.filter(seq__lte=upto)
    return list(qs.order_by("seq"))
