"""Websocket consumers: authenticate, check the seat through a selector, join groups, forward, and hand client
commands to services. Services decide what is sent (realtime/rooms.py); docs/architecture.md, "Realtime rooms"."""

import json
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer, AsyncWebsocketConsumer
from django.utils import timezone

from realtime import presence, rooms, selectors, services
from realtime.groups import org_group, room_group, user_group
from trading.api import DomainError

__all__ = ["EvaluationRoomConsumer", "NotificationConsumer", "OpeningHallConsumer", "org_group", "user_group"]


class NotificationConsumer(AsyncJsonWebsocketConsumer):
    """Pushes a signed-in user's notifications (clarifications to enrolled bidders, review decisions)."""

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.groups_joined = [user_group(user.pk)]
        if user.organisation_id:
            self.groups_joined.append(org_group(user.organisation_id))
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def notify(self, event):
        await self.send_json(event["payload"])


def _since(scope) -> int | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("since")
    if values and values[0].isdigit():
        return int(values[0])
    return None


# Who may sit in each kind of room (realtime/selectors.py).
SEAT_RULES = {rooms.EVALUATION: selectors.evaluation_seat, rooms.OPENING: selectors.opening_seat}


class RoomConsumer(AsyncWebsocketConsumer):
    """One room per lot. On connect: accept (so that a refusal's close code reaches the client: a close before the
    handshake is only an HTTP 403), check the seat (4401, 4403, 4404), join the room's group, replay the events
    after `?since=<seq>` that the client may see, send the snapshot, then forward live events in sequence order."""

    kind = ""
    commands: dict[str, str] = {"heartbeat": "do_heartbeat"}

    def seat_for(self, user, lot_id: int) -> selectors.Seat:
        return SEAT_RULES[self.kind](user, lot_id)

    async def connect(self):
        await self.accept()
        self.lot_id = int(self.scope["url_route"]["kwargs"]["lot_id"])
        try:
            self.seat = await database_sync_to_async(self.seat_for)(self.scope.get("user"), self.lot_id)
        except selectors.Refused as refused:
            await self.close(code=refused.code)
            return
        self.room = f"{self.kind}:{self.lot_id}"
        self.group = room_group(self.room)
        # Join first, then read: whatever commits after the read arrives live, whatever before is in the table.
        await self.channel_layer.group_add(self.group, self.channel_name)
        arrived = await self._join()
        texts, snapshot, self.last_seen = await database_sync_to_async(self._catch_up)(_since(self.scope))
        for text in texts:
            await self.send(text_data=text)
        await self.send(text_data=snapshot)
        if arrived:
            await self._announce(online=True)

    async def disconnect(self, code):
        if not hasattr(self, "group"):
            return
        await self.channel_layer.group_discard(self.group, self.channel_name)
        if self.present() and await database_sync_to_async(presence.leave)(self.room, self.seat.user_id, self.channel_name):
            await self._announce(online=False)

    def present(self) -> bool:
        """Whether this seat counts in the room's presence (the evaluation room: members only)."""
        return self.seat.role == "member"

    async def _join(self) -> bool:
        """Adds or refreshes this connection in the presence; True if the user just arrived."""
        if not self.present():
            return False
        return await database_sync_to_async(presence.join)(self.room, self.seat.user_id, self.channel_name)

    def _visible(self, audience: str, user_id: int | None) -> bool:
        return rooms.visible(
            audience, user_id, user_id=self.seat.user_id, watcher=self.seat.watcher, tenderee=self.seat.role == "tenderee"
        )

    def _catch_up(self, since: int | None) -> tuple[list[str], str, int]:
        last_seq, state = rooms.head(self.room)
        start = last_seq if since is None else min(since, last_seq)
        texts = [
            rooms.text_of(e)
            for e in rooms.events_between(self.room, start, last_seq)
            if self._visible(e.audience, e.audience_user_id)
        ]
        data = selectors.snapshot(self.seat, kind=self.kind, lot_id=self.lot_id, room=self.room, last_seq=last_seq, state=state)
        return texts, self._envelope("snapshot", data), last_seq

    def _missed(self, upto: int | None) -> tuple[list[str], int | None]:
        events = rooms.events_between(self.room, self.last_seen, upto)
        return [rooms.text_of(e) for e in events if self._visible(e.audience, e.audience_user_id)], (
            events[-1].seq if events else None
        )

    async def _deliver_missed(self, upto: int | None) -> None:
        texts, last = await database_sync_to_async(self._missed)(upto)
        for text in texts:
            await self.send(text_data=text)
        if last is not None:
            self.last_seen = max(self.last_seen, last)

    @staticmethod
    def _envelope(kind: str, payload: dict) -> str:
        return rooms.envelope(seq=None, kind=kind, at=timezone.now(), payload=payload)

    # --- From the channel layer ---

    async def room_event(self, message):
        seq = message["seq"]
        if seq <= self.last_seen:
            return  # already replayed or filled in
        if seq > self.last_seen + 1:
            # An earlier event is late or was dropped: it is committed (seq N committed means all before N are), so
            # read it back and deliver in order.
            await self._deliver_missed(seq - 1)
        if self._visible(message["audience"], message["user"]):
            await self.send(text_data=message["text"])
        self.last_seen = seq

    async def room_presence(self, message):
        # Staff and supervisors get the fuller text when there is one (the opening hall names bidders only to them).
        await self.send(
            text_data=message.get("watcher_text") if self.seat.watcher and "watcher_text" in message else message["text"]
        )

    async def room_evict(self, message):
        if message["user"] == self.seat.user_id:
            await self.close(code=selectors.NOT_ALLOWED)

    async def _announce(self, *, online: bool) -> None:
        text = self._envelope("presence", {"member": self.seat.member_id, "venue": self.seat.venue_id, "online": online})
        await self.channel_layer.group_send(self.group, {"type": rooms.PRESENCE_TYPE, "text": text})

    # --- From the client ---

    async def receive(self, text_data=None, bytes_data=None):
        try:
            command = json.loads(text_data or "")
            name = command["type"]
            handler = getattr(self, self.commands[name])
        except (ValueError, TypeError, KeyError):
            await self._error(None, DomainError("bad_command", "无法识别的指令", "Unknown or malformed command", status_code=400))
            return
        try:
            await handler(command)
        except DomainError as error:
            await self._error(name, error)

    async def _error(self, command: str | None, error: DomainError) -> None:
        await self.send(text_data=self._envelope("error", {"command": command, **error.as_dict()}))

    async def _ack(self, command: str, event) -> None:
        await self.send(text_data=self._envelope("ack", {"command": command, "seq": event.seq}))

    async def do_heartbeat(self, command):
        await self._join()
        await self._deliver_missed(None)  # a live event the layer dropped is delivered here at the latest
        await self.send(text_data=self._envelope("heartbeat", {"as_of": self.last_seen, "interval": presence.HEARTBEAT_SECONDS}))


class EvaluationRoomConsumer(RoomConsumer):
    """`/ws/evaluation/<lot_id>/`: the lot's confirmed committee members, staff and supervisors (read-only)."""

    kind = rooms.EVALUATION
    commands = {**RoomConsumer.commands, "message": "do_message", "pause": "do_pause", "resume": "do_resume"}

    async def do_message(self, command):
        event = await database_sync_to_async(services.room_message_post)(
            lot_id=self.lot_id, actor=self.scope["user"], text=str(command.get("text", ""))
        )
        await self._ack("message", event)

    async def do_pause(self, command):
        event = await database_sync_to_async(services.room_pause)(
            lot_id=self.lot_id, actor=self.scope["user"], reason=str(command.get("reason", ""))
        )
        await self._ack("pause", event)

    async def do_resume(self, command):
        event = await database_sync_to_async(services.room_resume)(
            lot_id=self.lot_id, actor=self.scope["user"], reason=str(command.get("reason", ""))
        )
        await self._ack("resume", event)


class OpeningHallConsumer(RoomConsumer):
    """`/ws/opening/<lot_id>/`: the opening's bidders, the tenderee side, staff and supervisors. Everyone counts
    in the presence; the announcement names a bidder's organisation to staff and supervisors only."""

    kind = rooms.OPENING

    def present(self) -> bool:
        return True

    async def _join(self) -> bool:
        return await database_sync_to_async(presence.join)(self.room, self.seat.user_id, self.channel_name, who=self.seat.who)

    async def _announce(self, *, online: bool) -> None:
        seen, full = await database_sync_to_async(self._presence_texts)(online)
        await self.channel_layer.group_send(self.group, {"type": rooms.PRESENCE_TYPE, "text": seen, "watcher_text": full})

    def _presence_texts(self, online: bool) -> tuple[str, str]:
        change = {"role": self.seat.role, "online": online}
        everyone = {**change, "presence": selectors.opening_presence(self.room, watcher=False)}
        watchers = {
            **change,
            "organisation": self.seat.organisation,
            "presence": selectors.opening_presence(self.room, watcher=True),
        }
        return self._envelope("presence", everyone), self._envelope("presence", watchers)
