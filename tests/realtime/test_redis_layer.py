"""The Redis channel layer keeps an idle websocket alive (docs/architecture.md, "Redis channel layer").

Over the real Redis layer only: skipped without REDIS_URL. Each receive is a BZPOPMIN that Redis ends after
channels-redis's brpop_timeout (5 s); with redis-py 8's default 5 s socket timeout the two raced and a socket that
received nothing for a while died with "Timeout reading from ...". This test stays idle well past both.
"""

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from realtime import rooms
from tests import factories
from tests.realtime import kit
from tests.realtime.test_rooms import close_db_after, enter, publish  # noqa: F401 (close_db_after: a fixture)

pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="needs the Redis channel layer: set REDIS_URL")

IDLE_SECONDS = 12  # more than brpop_timeout (5 s) and redis-py 8's default socket timeout (5 s), twice over


def test_the_layer_has_no_socket_timeout():
    (host,) = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"]
    assert host["socket_timeout"] is None
    layer = get_channel_layer()
    assert type(layer).__name__ == "RedisChannelLayer"
    assert layer.create_pool(0).connection_kwargs["socket_timeout"] is None


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_an_idle_websocket_still_receives_after_the_timeouts(close_db_after):  # noqa: F811
    @database_sync_to_async
    def build():
        parties = factories.Parties.create()
        lot = factories.lot(parties, stage="published")
        kit.opening(parties, lot, parties.bidders[:3])
        return lot, kit.session_cookie(parties.staff)

    lot, cookie = await build()
    communicator, _, _ = await enter(f"/ws/opening/{lot.pk}/", cookie)
    try:
        assert (await communicator.receive_json_from(timeout=5))["kind"] == "presence"  # its own arrival
        # Real time on purpose: the timeouts under test are the socket's, not the application's.
        await asyncio.sleep(IDLE_SECONDS)
        assert await communicator.receive_nothing(timeout=0.1) is True  # not closed meanwhile
        event = await publish(rooms.opening_room(lot.pk), "counts", {"bids": 3})
        assert await communicator.receive_json_from(timeout=5) == {
            "seq": event.seq,
            "kind": "counts",
            "at": event.at.isoformat(),
            "payload": {"bids": 3},
        }
    finally:
        await communicator.disconnect()
