"""Websocket consumers: authenticate, subscribe, forward. Services decide what is sent."""

from channels.generic.websocket import AsyncJsonWebsocketConsumer


def org_group(org_id: int) -> str:
    return f"org-{org_id}"


def user_group(user_id: int) -> str:
    return f"user-{user_id}"


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
