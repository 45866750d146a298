"""Realtime is an output of services: they call these, and the push happens after commit."""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from realtime.consumers import org_group, user_group


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
