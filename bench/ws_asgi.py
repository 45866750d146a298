"""The ASGI application daphne serves during `make bench-ws`: the project's own application, plus one bench-only
websocket path, `/ws/bench-echo/`, served by the smallest Channels broadcast consumer there is (group_add on
connect, forward each group message). Never part of the production URLconf: only bench/ws_room.py starts this."""

from channels.generic.websocket import AsyncWebsocketConsumer

from trading.asgi import application as project_application

ECHO_PATH = "/ws/bench-echo/"
ECHO_GROUP = "bench.echo"
ECHO_TYPE = "bench.message"


class EchoBroadcastConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        await self.channel_layer.group_add(ECHO_GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(ECHO_GROUP, self.channel_name)

    async def bench_message(self, event):
        await self.send(text_data=event["text"])


echo_application = EchoBroadcastConsumer.as_asgi()


async def application(scope, receive, send):
    if scope["type"] == "websocket" and scope["path"] == ECHO_PATH:
        return await echo_application(scope, receive, send)
    return await project_application(scope, receive, send)
