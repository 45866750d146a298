"""Who is connected to a room, per member, shared by every daphne process through Django's cache (Redis when
REDIS_URL is set; the local-memory cache of the one embedded process otherwise).

One cache entry per (room, user): {channel name: expiry (epoch seconds)}, kept PRESENCE_TTL seconds. A connection
adds itself on connect, refreshes its expiry on each heartbeat (clients send one every HEARTBEAT_SECONDS) and
removes itself on disconnect. A connection whose process died is not removed, it expires. The entry is read,
changed and written back: two connections of the same user changing it at the same instant can lose one update,
which the next heartbeat (at most HEARTBEAT_SECONDS later) writes again. The opening hall also keeps a roster per
room ({user id: who}, for people not known in advance: `roster`), read, changed and written back the same way: a
listing lost to a concurrent join is written again by that user's next heartbeat. Sync code: called through
database_sync_to_async, never on the event loop.
"""

import time

from django.core.cache import cache

HEARTBEAT_SECONDS = 20
PRESENCE_TTL = 3 * HEARTBEAT_SECONDS
ROSTER_TTL = 24 * 3600  # refreshed by the next heartbeat after it lapses


def _key(room: str, user_id: int) -> str:
    return f"rt:presence:{room}:{user_id}"


def _roster_key(room: str) -> str:
    return f"rt:presence:{room}"


def _live(entry: dict | None, now: float) -> dict:
    return {channel: expires for channel, expires in (entry or {}).items() if expires > now}


def join(room: str, user_id: int, channel: str, *, who: dict | None = None) -> bool:
    """Adds or refreshes a connection; True if the user had no live connection to the room before. `who` (the
    opening hall, whose people are not known in advance) also lists the user in the room's roster (`roster`)."""
    now = time.time()
    key = _key(room, user_id)
    entry = _live(cache.get(key), now)
    was_absent = not entry
    entry[channel] = now + PRESENCE_TTL
    cache.set(key, entry, PRESENCE_TTL)
    if who is not None:
        listed = cache.get(_roster_key(room)) or {}
        if listed.get(user_id) != who:
            cache.set(_roster_key(room), {**listed, user_id: who}, ROSTER_TTL)
    return was_absent


def leave(room: str, user_id: int, channel: str) -> bool:
    """Removes a connection; True if the user has no live connection to the room left."""
    now = time.time()
    key = _key(room, user_id)
    entry = _live(cache.get(key), now)
    entry.pop(channel, None)
    if entry:
        cache.set(key, entry, PRESENCE_TTL)
        return False
    cache.delete(key)
    return True


def online(room: str, user_ids: list[int]) -> set[int]:
    """The users among `user_ids` with at least one live connection to the room (one cache round trip)."""
    now = time.time()
    found = cache.get_many([_key(room, user_id) for user_id in user_ids])
    return {user_id for user_id in user_ids if _live(found.get(_key(room, user_id)), now)}


def roster(room: str) -> dict[int, dict]:
    """The listed users (join's `who`) with a live connection to the room now: {user id: who}."""
    listed = cache.get(_roster_key(room)) or {}
    on = online(room, list(listed))
    return {user_id: who for user_id, who in listed.items() if user_id in on}
