"""Realtime is an output of services: they call these, and the push happens after commit.

Notifications (push_to_orgs, push_to_users) go to a user's or organisation's socket; room events go through
realtime.rooms.publish. The few writes clients make from inside a room are here: a discussion message, and a
supervisor's pause and resume.
"""

import hashlib
from datetime import datetime

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone
from rest_framework import status

from audit.services import audit_record
from realtime import rooms, selectors
from realtime.groups import org_group, user_group
from realtime.models import RoomEvent
from trading.access import require_role
from trading.api import DomainError
from trading.models import Role

MESSAGE_MAX = 2000


def _send(groups: list[str], payload: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    for group in groups:
        async_to_sync(layer.group_send)(group, {"type": "notify", "payload": payload})


def push_to_orgs(org_ids, payload: dict) -> None:
    groups = [org_group(org_id) for org_id in org_ids]
    transaction.on_commit(lambda: _send(groups, payload))


def push_to_users(user_ids, payload: dict) -> None:
    groups = [user_group(user_id) for user_id in user_ids]
    transaction.on_commit(lambda: _send(groups, payload))


# --- Inside a room -----------------------------------------------------------------------------------------------


def _no_room() -> DomainError:
    return DomainError("no_such_room", "评标室不存在", "No such evaluation room", status_code=status.HTTP_404_NOT_FOUND)


@transaction.atomic
def room_message_post(*, lot_id: int, actor, text: str, now: datetime | None = None) -> RoomEvent:
    """A committee member's discussion message to everyone in the lot's evaluation room. Watchers only read."""
    now = now or timezone.now()
    if actor.role in selectors.WATCHERS:
        raise DomainError(
            "read_only",
            "工作人员和监督人员只能旁观，不能发言",
            "Staff and supervisors watch; they do not speak",
            status_code=status.HTTP_403_FORBIDDEN,
        )
    member = selectors.evaluation_committee(lot_id).filter(expert__user=actor).first()
    if member is None:
        raise DomainError(
            "not_a_member",
            "只有本标段评标委员会成员可以发言",
            "Only members of this committee may speak",
            status_code=status.HTTP_403_FORBIDDEN,
        )
    text = (text or "").strip()
    if not text or len(text) > MESSAGE_MAX:
        raise DomainError(
            "invalid_message",
            f"发言须为1至{MESSAGE_MAX}字",
            f"A message has 1 to {MESSAGE_MAX} characters",
            status_code=status.HTTP_400_BAD_REQUEST,
        )
    room = rooms.evaluation_room(lot_id)
    event = rooms.publish(
        room, "message", {"member": member.pk, "name": member.expert.name, "venue": member.venue_id, "text": text}, now=now
    )
    audit_record(
        action="room.message",
        actor=actor,
        object_type="realtime.room",
        object_id=room,
        lot_id=lot_id,
        after={"seq": event.seq, "member": member.pk, "sha256": hashlib.sha256(text.encode()).hexdigest()},
        now=now,
    )
    return event


def _pause_or_resume(*, lot_id: int, actor, paused: bool, reason: str, now: datetime | None) -> RoomEvent:
    now = now or timezone.now()
    require_role(actor, Role.SUPERVISOR)
    reason = (reason or "").strip()
    if paused and not reason:
        raise DomainError("reasons_required", "暂停须说明理由", "Pausing needs a reason", status_code=status.HTTP_400_BAD_REQUEST)
    if not selectors.evaluation_committee(lot_id).exists():
        raise _no_room()
    room = rooms.evaluation_room(lot_id)
    head = rooms.lock(room)  # held to commit: two supervisors pausing at once pause once
    if bool(head.state.get("paused")) == paused:
        if paused:
            raise DomainError("room_paused", "评标已暂停", "The evaluation is already paused")
        raise DomainError("room_not_paused", "评标未暂停", "The evaluation is not paused")
    kind = "paused" if paused else "resumed"
    event = rooms.publish(room, kind, {"reason": reason}, state={"paused": paused}, now=now)
    audit_record(
        action=f"room.{kind}",
        actor=actor,
        object_type="realtime.room",
        object_id=room,
        lot_id=lot_id,
        before={"paused": not paused},
        after={"paused": paused, "reason": reason, "seq": event.seq},
        now=now,
    )
    return event


@transaction.atomic
def room_pause(*, lot_id: int, actor, reason: str, now: datetime | None = None) -> RoomEvent:
    """A supervisor pauses the lot's evaluation room: everyone in it gets "paused"; a supervisor resumes it."""
    return _pause_or_resume(lot_id=lot_id, actor=actor, paused=True, reason=reason, now=now)


@transaction.atomic
def room_resume(*, lot_id: int, actor, reason: str = "", now: datetime | None = None) -> RoomEvent:
    return _pause_or_resume(lot_id=lot_id, actor=actor, paused=False, reason=reason, now=now)
