"""The evaluation room and the opening hall over real websockets (trading.asgi.application).

Transactional tests, so that publish's on_commit sends fire; the channel layer and the cache are in-memory, or
Redis with REDIS_URL (CI).
"""

import contextlib
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
import pytest_asyncio
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db import connections, transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from audit.models import AuditEvent
from realtime import rooms
from realtime.groups import room_group
from realtime.models import RoomEvent, RoomHead
from realtime.tickets import ticket_issue
from tests import factories
from tests.realtime import kit
from trading.asgi import application

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

EMPTY_STATE = {"phase": None, "paused": False, "submitted": []}


@pytest_asyncio.fixture
async def close_db_after():
    """The ORM runs in database_sync_to_async's thread: close its connections so the test database can be dropped."""
    yield
    await database_sync_to_async(connections.close_all)()


@dataclass
class World:
    parties: factories.Parties
    lot_a: object
    lot_b: object
    main: object
    secondary: object
    members: list  # lot A: 专家甲 (main, seat 1), 专家乙 (main, seat 2), 专家丙 (secondary, seat 1)
    backup: object
    member_b: object
    cookies: dict = field(default_factory=dict)

    def user(self, label):
        return {
            "m1": self.members[0].expert.user,
            "m2": self.members[1].expert.user,
            "m3": self.members[2].expert.user,
            "backup": self.backup.expert.user,
            "member_b": self.member_b.expert.user,
            **dict(self.parties.every_role(include_anonymous=False)),
        }[label]


@pytest_asyncio.fixture
async def world(close_db_after):
    @database_sync_to_async
    def build():
        parties = factories.Parties.create()
        lot_a = factories.lot(parties, stage="published")
        lot_b = factories.lot(parties, stage="published")
        main, secondary = kit.venues()
        members, backups = kit.committee(parties, lot_a, [(main, "专家甲"), (main, "专家乙"), (secondary, "专家丙")])
        members_b, _ = kit.committee(parties, lot_b, [(main, "专家丁")], backups=0)
        made = World(parties, lot_a, lot_b, main, secondary, members, backups[0], members_b[0])
        for label in ["m1", "m2", "m3", "backup", "member_b"] + [
            label for label, _ in parties.every_role(include_anonymous=False)
        ]:
            made.cookies[label] = kit.session_cookie(made.user(label))
        return made

    return await build()


def evaluation(lot) -> str:
    return f"/ws/evaluation/{lot.pk}/"


async def connect(path: str, *, cookie: bytes | None = None, query: str = "", origin=kit.ORIGIN) -> WebsocketCommunicator:
    headers = [origin, kit.HOST] if origin else [kit.HOST]
    if cookie:
        headers.append((b"cookie", cookie))
    communicator = WebsocketCommunicator(application, f"{path}{query}", headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    assert connected is True
    return communicator


async def enter(path: str, cookie: bytes | None = None, *, query: str = "") -> tuple[WebsocketCommunicator, list[dict], dict]:
    """Connects and reads up to the snapshot: (communicator, replayed events, snapshot payload)."""
    communicator = await connect(path, cookie=cookie, query=query)
    replayed = []
    while True:
        message = await communicator.receive_json_from(timeout=5)
        if message["kind"] == "snapshot":
            assert message["seq"] is None
            return communicator, replayed, message["payload"]
        replayed.append(message)


async def close_code(path: str, cookie: bytes | None = None, *, query: str = "") -> int:
    """Connects to a room that refuses: accepted, then closed with the code."""
    communicator = await connect(path, cookie=cookie, query=query)
    output = await communicator.receive_output(timeout=5)
    assert output["type"] == "websocket.close"
    return output["code"]


async def receive(communicator, count: int) -> list[dict]:
    return [await communicator.receive_json_from(timeout=5) for _ in range(count)]


async def quiet(*communicators) -> None:
    for communicator in communicators:
        assert await communicator.receive_nothing(timeout=0.3) is True


def presence(member, online: bool) -> dict:
    return {"member": member.pk, "venue": member.venue_id, "online": online}


@database_sync_to_async
def publish(room: str, kind: str, payload: dict, audience=rooms.EVERYONE, *, send: bool = True, **kw):
    if send:
        return rooms.publish(room, kind, payload, audience=audience, **kw)
    with _not_sent():
        return rooms.publish(room, kind, payload, audience=audience, **kw)


@contextlib.contextmanager
def _not_sent():
    """The channel layer loses the message (capacity, a process dying between commit and send)."""
    original, rooms._send = rooms._send, lambda room, message: None
    try:
        yield
    finally:
        rooms._send = original


@database_sync_to_async
def stored(room: str) -> list[tuple[int, str, str]]:
    return list(RoomEvent.objects.filter(room=room).order_by("seq").values_list("seq", "kind", "audience"))


@database_sync_to_async
def audit_actions() -> list[str]:
    return list(AuditEvent.objects.order_by("seq").values_list("action", flat=True))


def kinds(messages) -> list[tuple]:
    return [(m["seq"], m["kind"]) for m in messages]


# --- Who gets in ---------------------------------------------------------------------------------------------------


async def test_member_by_session_gets_the_snapshot_with_presence_per_venue(world):
    m1, m2, m3 = world.members
    communicator, replayed, snapshot = await enter(evaluation(world.lot_a), world.cookies["m1"])
    try:
        assert replayed == []
        assert snapshot == {
            "room": f"evaluation:{world.lot_a.pk}",
            "as_of": 0,
            "you": {"role": "member", "member": m1.pk, "venue": world.main.pk},
            "state": EMPTY_STATE,
            "presence": [
                {
                    "venue": world.main.pk,
                    "name": world.main.name,
                    "kind": "main",
                    "online": 1,
                    "total": 2,
                    "members": [
                        {"member": m1.pk, "seat": 1, "name": "专家甲", "online": True},
                        {"member": m2.pk, "seat": 2, "name": "专家乙", "online": False},
                    ],
                },
                {
                    "venue": world.secondary.pk,
                    "name": world.secondary.name,
                    "kind": "secondary",
                    "online": 0,
                    "total": 1,
                    "members": [{"member": m3.pk, "seat": 1, "name": "专家丙", "online": False}],
                },
            ],
        }
        # Its own arrival goes to everyone in the room, itself included.
        message = await communicator.receive_json_from(timeout=5)
        assert (message["seq"], message["kind"], message["payload"]) == (None, "presence", presence(m1, True))
        await quiet(communicator)
    finally:
        await communicator.disconnect()


@pytest.mark.parametrize("role", ["staff", "supervisor"])
async def test_watchers_enter_without_a_seat(world, role):
    communicator, _, snapshot = await enter(evaluation(world.lot_a), world.cookies[role])
    try:
        assert snapshot["you"] == {"role": role, "member": None, "venue": None}
        assert [venue["online"] for venue in snapshot["presence"]] == [0, 0]
        await quiet(communicator)  # watchers are not announced
    finally:
        await communicator.disconnect()


@pytest.mark.parametrize(
    ("label", "code"),
    [
        ("bidder1", 4403),
        ("tenderee", 4403),
        ("agency", 4403),
        ("other_tenderee", 4403),
        ("expert", 4403),  # an expert not on this committee
        ("backup", 4403),  # drawn as a backup, never confirmed
        ("member_b", 4403),  # a member of lot B's committee
        ("anonymous", 4401),
        ("bad_cookie", 4401),
    ],
)
async def test_everyone_else_is_refused_from_the_evaluation_room(world, label, code):
    cookie = {"anonymous": None, "bad_cookie": b"sessionid=not-a-session"}.get(label, world.cookies.get(label))
    assert await close_code(evaluation(world.lot_a), cookie) == code


async def test_a_member_of_lot_a_cannot_join_lot_b(world):
    assert await close_code(evaluation(world.lot_b), world.cookies["m1"]) == 4403
    communicator, _, snapshot = await enter(evaluation(world.lot_b), world.cookies["member_b"])
    assert snapshot["you"]["member"] == world.member_b.pk
    await communicator.disconnect()


async def test_no_room_without_a_fixed_committee(world):
    lot = await database_sync_to_async(factories.lot)(world.parties, stage="published")
    # Staff and supervisors learn there is no room; anyone else gets the same 4403 as for a room that exists.
    assert await close_code(evaluation(lot), world.cookies["staff"]) == 4404
    assert await close_code(evaluation(lot), world.cookies["supervisor"]) == 4404
    assert await close_code(evaluation(lot), world.cookies["expert"]) == 4403
    assert await close_code(evaluation(lot), world.cookies["bidder1"]) == 4403
    assert await close_code("/ws/evaluation/999999/", world.cookies["staff"]) == 4404
    assert await close_code("/ws/evaluation/999999/", world.cookies["m1"]) == 4403


@pytest.mark.parametrize(
    "origin",
    [(b"origin", b"http://evil.example"), (b"origin", b"http://127.0.0.1.evil.example"), None],
    ids=["foreign", "lookalike", "missing"],
)
async def test_wrong_origin_is_refused_even_for_a_member(world, origin):
    communicator = WebsocketCommunicator(
        application, evaluation(world.lot_a), headers=[h for h in (origin, kit.HOST, (b"cookie", world.cookies["m1"])) if h]
    )
    connected, code = await communicator.connect(timeout=5)
    assert (connected, code) == (False, 1000)


# --- Tickets -----------------------------------------------------------------------------------------------------


@database_sync_to_async
def _ticket_by_token(user) -> tuple[int, dict, str]:
    token, _ = Token.objects.get_or_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = client.post("/api/realtime/ticket/")
    return response.status_code, response.json(), response.headers.get("Cache-Control", "")


async def test_token_holder_enters_with_a_single_use_ticket(world):
    m2 = world.members[1]
    status, body, cache_control = await _ticket_by_token(m2.expert.user)
    assert (status, set(body), body["expires_in"], cache_control) == (200, {"ticket", "expires_in"}, 30, "no-store")
    communicator, _, snapshot = await enter(evaluation(world.lot_a), query=f"?ticket={body['ticket']}")
    assert snapshot["you"] == {"role": "member", "member": m2.pk, "venue": world.main.pk}
    await communicator.disconnect()
    # Spent: the same ticket again is anonymous.
    assert await close_code(evaluation(world.lot_a), query=f"?ticket={body['ticket']}") == 4401


async def test_bad_tickets_are_anonymous(world):
    m1 = world.members[0].expert.user
    expired = await database_sync_to_async(ticket_issue)(user=m1, now=timezone.now() - timedelta(seconds=31))
    assert await close_code(evaluation(world.lot_a), query=f"?ticket={expired}") == 4401
    assert await close_code(evaluation(world.lot_a), query="?ticket=made-up") == 4401
    # A ticket decides even next to a valid session cookie.
    assert await close_code(evaluation(world.lot_a), world.cookies["m1"], query="?ticket=made-up") == 4401
    # A ticket carries its user's rights, no more.
    bidder_ticket = await database_sync_to_async(ticket_issue)(user=world.parties.bidders[0])
    assert await close_code(evaluation(world.lot_a), query=f"?ticket={bidder_ticket}") == 4403


@database_sync_to_async
def _anonymous_ticket_request() -> int:
    return APIClient().post("/api/realtime/ticket/").status_code


async def test_ticket_needs_authentication(world):
    assert await _anonymous_ticket_request() == 401


# --- Events --------------------------------------------------------------------------------------------------------


class Boom(Exception):
    pass


@database_sync_to_async
def _publish_then_roll_back(room: str) -> None:
    with contextlib.suppress(Boom), transaction.atomic():
        rooms.publish(room, "phase", {"phase": "qualification"}, state={"phase": "qualification"})
        raise Boom


async def test_events_are_sent_after_commit_only(world):
    room = rooms.evaluation_room(world.lot_a.pk)
    member, _, _ = await enter(evaluation(world.lot_a), world.cookies["m1"])
    supervisor, _, _ = await enter(evaluation(world.lot_a), world.cookies["supervisor"])
    try:
        await receive(member, 1)  # its arrival (before the supervisor came)
        await _publish_then_roll_back(room)
        await quiet(member, supervisor)
        assert await stored(room) == []
        assert await database_sync_to_async(rooms.head)(room) == (0, {})

        event = await publish(room, "phase", {"phase": "qualification"}, state={"phase": "qualification"})
        expected = {"seq": 1, "kind": "phase", "at": event.at.isoformat(), "payload": {"phase": "qualification"}}
        assert await member.receive_json_from(timeout=5) == expected
        assert await supervisor.receive_json_from(timeout=5) == expected
        await quiet(member, supervisor)
        assert await stored(room) == [(1, "phase", "everyone")]
        assert await database_sync_to_async(rooms.head)(room) == (1, {"phase": "qualification"})
    finally:
        await member.disconnect()
        await supervisor.disconnect()


async def test_audience_filtering(world):
    room = rooms.evaluation_room(world.lot_a.pk)
    m1_user = world.members[0].expert.user
    m1, _, _ = await enter(evaluation(world.lot_a), world.cookies["m1"])
    m2, _, _ = await enter(evaluation(world.lot_a), world.cookies["m2"])
    supervisor, _, _ = await enter(evaluation(world.lot_a), world.cookies["supervisor"])
    staff, _, _ = await enter(evaluation(world.lot_a), world.cookies["staff"])
    everyone = [m1, m2, supervisor, staff]
    try:
        await receive(m1, 2)  # its own arrival and m2's
        await receive(m2, 1)
        await publish(room, "phase", {"phase": "scoring"})
        await publish(room, "alert", {"note": "for watchers"}, rooms.WATCHERS)
        await publish(room, "dispersion", {"criterion": 3}, rooms.only(m1_user))
        await publish(room, "submitted", {"member": world.members[1].pk})
        assert kinds(await receive(m1, 3)) == [(1, "phase"), (3, "dispersion"), (4, "submitted")]
        assert kinds(await receive(m2, 2)) == [(1, "phase"), (4, "submitted")]
        for watcher in (supervisor, staff):
            assert kinds(await receive(watcher, 4)) == [(1, "phase"), (2, "alert"), (3, "dispersion"), (4, "submitted")]
        await quiet(*everyone)

        # The replay filters the same way.
        again, replayed, snapshot = await enter(evaluation(world.lot_a), world.cookies["m2"], query="?since=0")
        assert kinds(replayed) == [(1, "phase"), (4, "submitted")]
        assert snapshot["as_of"] == 4
        await again.disconnect()
    finally:
        for communicator in everyone:
            await communicator.disconnect()


async def test_reconnect_replays_from_seq_without_loss_or_duplicates(world):
    room = rooms.evaluation_room(world.lot_a.pk)
    m1, _, _ = await enter(evaluation(world.lot_a), world.cookies["m1"])
    await receive(m1, 1)
    await publish(room, "phase", {"phase": "qualification"}, state={"phase": "qualification"})
    await publish(room, "message", {"text": "一"})
    assert kinds(await receive(m1, 2)) == [(1, "phase"), (2, "message")]
    await m1.disconnect()

    # While away: three events, one not for members.
    await publish(room, "message", {"text": "二"})
    await publish(room, "alert", {"note": "watchers only"}, rooms.WATCHERS)
    await publish(room, "phase", {"phase": "scoring"}, state={"phase": "scoring"})

    m1, replayed, snapshot = await enter(evaluation(world.lot_a), world.cookies["m1"], query="?since=2")
    try:
        assert kinds(replayed) == [(3, "message"), (5, "phase")]
        assert replayed[0]["payload"] == {"text": "二"}
        assert (snapshot["as_of"], snapshot["state"]) == (5, {**EMPTY_STATE, "phase": "scoring"})
        await receive(m1, 1)  # its arrival

        # A live copy of an event already replayed is dropped.
        event5 = await database_sync_to_async(RoomEvent.objects.get)(room=room, seq=5)
        await get_channel_layer().group_send(
            room_group(room),
            {"type": rooms.EVENT_TYPE, "seq": 5, "audience": "everyone", "user": None, "text": rooms.text_of(event5)},
        )
        await quiet(m1)

        # The layer loses event 6; event 7 arrives: 6 is read back from the table and delivered first.
        await publish(room, "message", {"text": "三"}, send=False)
        await publish(room, "message", {"text": "四"})
        received = await receive(m1, 2)
        assert kinds(received) == [(6, "message"), (7, "message")]
        assert [m["payload"]["text"] for m in received] == ["三", "四"]

        # The last event is lost and nothing follows: the next heartbeat delivers it.
        await publish(room, "message", {"text": "五"}, send=False)
        await quiet(m1)
        await m1.send_json_to({"type": "heartbeat"})
        event, beat = await receive(m1, 2)
        assert (event["seq"], event["payload"]) == (8, {"text": "五"})
        assert (beat["kind"], beat["payload"]) == ("heartbeat", {"as_of": 8, "interval": 20})
        await quiet(m1)
    finally:
        await m1.disconnect()

    # Without `since`, no replay: the snapshot says where the client stands.
    m1, replayed, snapshot = await enter(evaluation(world.lot_a), world.cookies["m1"])
    assert (replayed, snapshot["as_of"]) == ([], 8)
    await m1.disconnect()
    # A `since` beyond the last event replays nothing.
    m1, replayed, snapshot = await enter(evaluation(world.lot_a), world.cookies["m1"], query="?since=99")
    assert (replayed, snapshot["as_of"]) == ([], 8)
    await m1.disconnect()


async def test_presence_per_venue(world):
    m1, m2, m3 = world.members
    first, _, _ = await enter(evaluation(world.lot_a), world.cookies["m1"])
    await receive(first, 1)
    watcher, _, snapshot = await enter(evaluation(world.lot_a), world.cookies["supervisor"])
    online = {member["member"]: member["online"] for venue in snapshot["presence"] for member in venue["members"]}
    assert online == {m1.pk: True, m2.pk: False, m3.pk: False}

    third, _, _ = await enter(evaluation(world.lot_a), world.cookies["m3"])
    for communicator in (first, watcher, third):
        assert (await communicator.receive_json_from(timeout=5))["payload"] == presence(m3, True)
    # A second connection of the same member announces nothing; closing one of two neither.
    third_again, _, snapshot = await enter(evaluation(world.lot_a), world.cookies["m3"])
    assert [(v["online"], v["total"]) for v in snapshot["presence"]] == [(1, 2), (1, 1)]
    await third.disconnect()
    await quiet(first, watcher, third_again)
    await third_again.disconnect()
    for communicator in (first, watcher):
        assert (await communicator.receive_json_from(timeout=5))["payload"] == presence(m3, False)

    late, _, snapshot = await enter(evaluation(world.lot_a), world.cookies["staff"])
    assert [(v["online"], v["total"]) for v in snapshot["presence"]] == [(1, 2), (0, 1)]
    # A heartbeat keeps the connection present.
    await first.send_json_to({"type": "heartbeat"})
    assert (await first.receive_json_from(timeout=5))["kind"] == "heartbeat"
    for communicator in (first, watcher, late):
        await communicator.disconnect()


@database_sync_to_async
def _replace_member(member, room):
    """What the replacement service (to come) does about the room: the seat goes, then the member is evicted."""
    with transaction.atomic():
        member.status = "replaced"
        member.save(update_fields=["status"])
        rooms.evict(room, member.expert.user_id)


async def test_a_member_whose_seat_is_taken_away_is_evicted(world):
    room = rooms.evaluation_room(world.lot_a.pk)
    m2 = world.members[1]
    first, _, _ = await enter(evaluation(world.lot_a), world.cookies["m1"])
    second, _, _ = await enter(evaluation(world.lot_a), world.cookies["m2"])
    await receive(first, 2)
    await receive(second, 1)
    await _replace_member(m2, room)
    assert await second.receive_output(timeout=5) == {"type": "websocket.close", "code": 4403}
    await second.disconnect()
    assert (await first.receive_json_from(timeout=5))["payload"] == presence(m2, False)
    await quiet(first)
    assert await close_code(evaluation(world.lot_a), world.cookies["m2"]) == 4403
    await first.disconnect()


# --- Commands ------------------------------------------------------------------------------------------------------


async def test_members_speak_watchers_only_read(world):
    room = rooms.evaluation_room(world.lot_a.pk)
    m1 = world.members[0]
    member, _, _ = await enter(evaluation(world.lot_a), world.cookies["m1"])
    supervisor, _, _ = await enter(evaluation(world.lot_a), world.cookies["supervisor"])
    staff, _, _ = await enter(evaluation(world.lot_a), world.cookies["staff"])
    await receive(member, 1)  # its own arrival; the watchers came later
    audit_before = await audit_actions()
    try:
        for watcher in (supervisor, staff):
            await watcher.send_json_to({"type": "message", "text": "我也说一句"})
            error = await watcher.receive_json_from(timeout=5)
            assert (error["seq"], error["kind"], error["payload"]["command"], error["payload"]["code"]) == (
                None,
                "error",
                "message",
                "read_only",
            )
        await member.send_json_to({"type": "message", "text": "   "})
        assert (await member.receive_json_from(timeout=5))["payload"]["code"] == "invalid_message"
        await member.send_json_to({"type": "nonsense"})
        assert (await member.receive_json_from(timeout=5))["payload"]["code"] == "bad_command"
        await member.send_to(text_data="not json")
        assert (await member.receive_json_from(timeout=5))["payload"]["code"] == "bad_command"
        await quiet(member, supervisor, staff)
        assert await stored(room) == []
        assert await audit_actions() == audit_before

        await member.send_json_to({"type": "message", "text": "第3家的资质证书已过期"})
        ack = await member.receive_json_from(timeout=5)
        assert (ack["kind"], ack["payload"]) == ("ack", {"command": "message", "seq": 1})
        payload = {"member": m1.pk, "name": "专家甲", "venue": world.main.pk, "text": "第3家的资质证书已过期"}
        for communicator in (member, supervisor, staff):
            message = await communicator.receive_json_from(timeout=5)
            assert (message["seq"], message["kind"], message["payload"]) == (1, "message", payload)
        assert await audit_actions() == [*audit_before, "room.message"]
        # 专家乙 was not there: the replay has it.
        late, replayed, _ = await enter(evaluation(world.lot_a), world.cookies["m2"], query="?since=0")
        assert [(m["seq"], m["kind"], m["payload"]) for m in replayed] == [(1, "message", payload)]
        await late.disconnect()
    finally:
        for communicator in (member, supervisor, staff):
            await communicator.disconnect()


@database_sync_to_async
def _room_state(room):
    return RoomHead.objects.get(room=room).state


async def test_supervisor_pauses_and_resumes(world):
    room = rooms.evaluation_room(world.lot_a.pk)
    member, _, _ = await enter(evaluation(world.lot_a), world.cookies["m1"])
    supervisor, _, _ = await enter(evaluation(world.lot_a), world.cookies["supervisor"])
    staff, _, _ = await enter(evaluation(world.lot_a), world.cookies["staff"])
    await receive(member, 1)  # its own arrival; the watchers came later
    audit_before = await audit_actions()
    try:
        # Only a supervisor pauses, and only with a reason.
        for communicator, code in [(member, "role_not_allowed"), (staff, "role_not_allowed")]:
            await communicator.send_json_to({"type": "pause", "reason": "网络故障"})
            assert (await communicator.receive_json_from(timeout=5))["payload"]["code"] == code
        await supervisor.send_json_to({"type": "pause", "reason": ""})
        assert (await supervisor.receive_json_from(timeout=5))["payload"]["code"] == "reasons_required"
        await supervisor.send_json_to({"type": "resume"})
        assert (await supervisor.receive_json_from(timeout=5))["payload"]["code"] == "room_not_paused"
        await quiet(member, supervisor, staff)
        assert await stored(room) == []
        assert await audit_actions() == audit_before

        await supervisor.send_json_to({"type": "pause", "reason": "副场视频中断"})
        assert (await supervisor.receive_json_from(timeout=5))["payload"] == {"command": "pause", "seq": 1}
        for communicator in (member, supervisor, staff):
            message = await communicator.receive_json_from(timeout=5)
            assert (message["seq"], message["kind"], message["payload"]) == (1, "paused", {"reason": "副场视频中断"})
        assert await _room_state(room) == {"paused": True}
        assert await audit_actions() == [*audit_before, "room.paused"]

        # Paused twice: refused, nothing changes.
        await supervisor.send_json_to({"type": "pause", "reason": "again"})
        assert (await supervisor.receive_json_from(timeout=5))["payload"]["code"] == "room_paused"
        await quiet(member, supervisor, staff)

        # Someone joining now sees the pause in the snapshot.
        late, _, snapshot = await enter(evaluation(world.lot_a), world.cookies["m2"])
        assert snapshot["state"] == {**EMPTY_STATE, "paused": True}
        await late.disconnect()
        for communicator in (member, supervisor, staff):
            came, went = await receive(communicator, 2)
            assert (came["payload"]["online"], went["payload"]["online"]) == (True, False)

        await supervisor.send_json_to({"type": "resume", "reason": "已恢复"})
        assert (await supervisor.receive_json_from(timeout=5))["payload"] == {"command": "resume", "seq": 2}
        for communicator in (member, supervisor, staff):
            message = await communicator.receive_json_from(timeout=5)
            assert (message["seq"], message["kind"], message["payload"]) == (2, "resumed", {"reason": "已恢复"})
        assert await _room_state(room) == {"paused": False}
        assert await audit_actions() == [*audit_before, "room.paused", "room.resumed"]
    finally:
        for communicator in (member, supervisor, staff):
            await communicator.disconnect()


# --- The opening hall ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "role"),
    [("bidder1", "bidder"), ("bidder2", "bidder"), ("tenderee", "tenderee"), ("staff", "staff"), ("supervisor", "supervisor")],
)
async def test_opening_hall_admits_the_openings_parties(world, label, role):
    made = await database_sync_to_async(kit.opening)(world.parties, world.lot_a, world.parties.bidders[:3])
    communicator, replayed, snapshot = await enter(f"/ws/opening/{world.lot_a.pk}/", world.cookies[label])
    try:
        assert replayed == []
        user = world.user(label)
        assert snapshot == {
            "room": f"opening:{world.lot_a.pk}",
            "as_of": 0,
            "you": {
                "role": role,
                "member": None,
                "venue": None,
                "organisation": user.organisation.name if role == "bidder" else None,
            },
            "state": {
                "started_at": timezone.localtime(made.started_at).isoformat(),
                "decryption_deadline": timezone.localtime(made.decryption_deadline).isoformat(),
                "decryption_closed_at": None,
                "bids": 3,
                "signed_in": 0,
                "sealed": 3,
                "decrypted": 0,
                "revoked": 0,
                "withdrawn": 0,
                "record": None,
            },
            "presence": {
                "online": {"bidder": 0, "tenderee": 0, "staff": 0, "supervisor": 0, role: 1},
                "bidders_online": int(role == "bidder"),
                **({"bidders": []} if role in ("staff", "supervisor") else {}),
            },
        }
        arrived = (await communicator.receive_json_from(timeout=5))["payload"]  # its own arrival
        assert (arrived["role"], arrived["online"]) == (role, True)
        event = await publish(rooms.opening_room(world.lot_a.pk), "decrypted", {"count": 1})
        assert await communicator.receive_json_from(timeout=5) == {
            "seq": 1,
            "kind": "decrypted",
            "at": event.at.isoformat(),
            "payload": {"count": 1},
        }
        # Nobody speaks in the opening hall.
        await communicator.send_json_to({"type": "message", "text": "x"})
        assert (await communicator.receive_json_from(timeout=5))["payload"]["code"] == "bad_command"
    finally:
        await communicator.disconnect()


@pytest.mark.parametrize(
    ("label", "code"),
    [
        ("bidder4", 4403),  # no bid in this opening
        ("other_tenderee", 4403),
        ("agency", 4403),  # not this project's agency
        ("expert", 4403),
        ("m1", 4403),
        ("anonymous", 4401),
    ],
)
async def test_opening_hall_refuses_everyone_else(world, label, code):
    await database_sync_to_async(kit.opening)(world.parties, world.lot_a, world.parties.bidders[:3])
    assert await close_code(f"/ws/opening/{world.lot_a.pk}/", world.cookies.get(label)) == code


async def test_no_opening_hall_before_the_opening(world):
    assert await close_code(f"/ws/opening/{world.lot_b.pk}/", world.cookies["staff"]) == 4404
    assert await close_code(f"/ws/opening/{world.lot_b.pk}/", world.cookies["tenderee"]) == 4403
    assert await close_code(f"/ws/opening/{world.lot_b.pk}/", world.cookies["bidder1"]) == 4403


def _online(bidder=0, tenderee=0, staff=0, supervisor=0) -> dict:
    return {"bidder": bidder, "tenderee": tenderee, "staff": staff, "supervisor": supervisor}


async def test_opening_hall_presence_names_bidders_to_watchers_only(world):
    await database_sync_to_async(kit.opening)(world.parties, world.lot_a, world.parties.bidders[:3])
    path = f"/ws/opening/{world.lot_a.pk}/"
    first, second = world.user("bidder1").organisation.name, world.user("bidder2").organisation.name
    staff, _, _ = await enter(path, world.cookies["staff"])
    one = two = None
    try:
        await receive(staff, 1)  # its own arrival
        one, _, seen_by_one = await enter(path, world.cookies["bidder1"])
        assert seen_by_one["presence"] == {"online": _online(bidder=1, staff=1), "bidders_online": 1}
        counts = {"online": _online(bidder=1, staff=1), "bidders_online": 1}
        assert [m["payload"] for m in await receive(staff, 1)] == [
            {"role": "bidder", "online": True, "organisation": first, "presence": {**counts, "bidders": [first]}}
        ]
        assert [m["payload"] for m in await receive(one, 1)] == [{"role": "bidder", "online": True, "presence": counts}]

        two, _, seen_by_two = await enter(path, world.cookies["bidder2"])
        assert seen_by_two["presence"] == {"online": _online(bidder=2, staff=1), "bidders_online": 2}
        counts = {"online": _online(bidder=2, staff=1), "bidders_online": 2}
        (to_one,) = await receive(one, 1)
        assert to_one["payload"] == {"role": "bidder", "online": True, "presence": counts}  # no name for another bidder
        (to_staff,) = await receive(staff, 1)
        assert to_staff["payload"]["presence"]["bidders"] == sorted([first, second])

        await two.disconnect()
        two = None
        counts = {"online": _online(bidder=1, staff=1), "bidders_online": 1}
        assert [m["payload"] for m in await receive(one, 1)] == [{"role": "bidder", "online": False, "presence": counts}]
        assert [m["payload"] for m in await receive(staff, 1)] == [
            {"role": "bidder", "online": False, "organisation": second, "presence": {**counts, "bidders": [first]}}
        ]
        await quiet(staff, one)
    finally:
        for communicator in (staff, one, two):
            if communicator is not None:
                await communicator.disconnect()


@database_sync_to_async
def _record_published(lot):
    from bidding.models import Opening
    from trading.models import Lot, LotStatus

    Lot.objects.filter(pk=lot.pk).update(status=LotStatus.OPENING)
    Opening.objects.filter(lot=lot).update(record_published_at=timezone.now(), record_sha256="a" * 64)


@database_sync_to_async
def _object(lot, user, text):
    from bidding.services.opening import opening_respond

    return opening_respond(lot=lot, actor=user, objection=text)


async def test_opening_hall_reconnect_replays_since_within_each_audience(world):
    """A bidder's objection reaches the staff side live and on replay; another bidder never sees it (the API shows a
    bidder its own response only)."""
    await database_sync_to_async(kit.opening)(world.parties, world.lot_a, world.parties.bidders[:3])
    await _record_published(world.lot_a)
    path, room = f"/ws/opening/{world.lot_a.pk}/", rooms.opening_room(world.lot_a.pk)
    tenderee, _, _ = await enter(path, world.cookies["tenderee"])
    two, _, _ = await enter(path, world.cookies["bidder2"])
    await receive(tenderee, 2)  # arrivals: its own, bidder 2's
    await receive(two, 1)
    await _object(world.lot_a, world.user("bidder1"), "唱标价格有误")
    counts = await publish(room, "counts", {"bids": 3})
    objection = await receive(tenderee, 2)
    assert [(m["seq"], m["kind"]) for m in objection] == [(1, "opening_response"), (2, "counts")]
    assert objection[0]["payload"]["objection"] == "唱标价格有误"
    assert kinds(await receive(two, 1)) == [(2, "counts")]
    await quiet(two)
    await two.disconnect()
    await tenderee.disconnect()

    for since, label, expected in [
        ("0", "bidder2", [(2, "counts")]),
        ("0", "tenderee", [(1, "opening_response"), (2, "counts")]),
        ("1", "tenderee", [(2, "counts")]),
        ("0", "supervisor", [(1, "opening_response"), (2, "counts")]),
        ("0", "bidder3", [(2, "counts")]),
    ]:
        communicator, replayed, snapshot = await enter(path, world.cookies[label], query=f"?since={since}")
        try:
            assert kinds(replayed) == expected, label
            assert snapshot["as_of"] == counts.seq
            assert ("唱标价格有误" in str(replayed)) == ((1, "opening_response") in expected)
            assert snapshot["state"]["record"]["sha256"] == "a" * 64
        finally:
            await communicator.disconnect()
