"""rooms.publish on its own: numbering under concurrency (PostgreSQL), audiences, and the room's state."""

import threading

import pytest
from django.db import connection, connections

from realtime import rooms
from realtime.models import RoomEvent, RoomHead
from tests import factories
from trading.models import Role


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL")
def test_concurrent_publishers_get_consecutive_numbers():
    room = rooms.evaluation_room(424242)
    errors = []
    seen: dict[int, list[int]] = {}

    def worker(i: int) -> None:
        try:
            seen[i] = [rooms.publish(room, "tick", {"worker": i, "k": k}).seq for k in range(10)]
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert list(RoomEvent.objects.filter(room=room).order_by("seq").values_list("seq", flat=True)) == list(range(1, 81))
    assert RoomHead.objects.get(room=room).last_seq == 80
    for i, numbers in seen.items():
        assert numbers == sorted(numbers)
        # Each worker's payloads are stored under the numbers it was given.
        stored = dict(RoomEvent.objects.filter(room=room, payload__worker=i).values_list("seq", "payload__k"))
        assert [stored[n] for n in numbers] == list(range(10))


@pytest.mark.django_db
def test_audiences_and_state():
    member = factories.user(Role.EXPERT)
    room = rooms.opening_room(7)
    first = rooms.publish(room, "a", {"x": 1}, state={"phase": "decryption"})
    second = rooms.publish(room, "b", {}, audience=rooms.WATCHERS)
    third = rooms.publish(room, "c", {}, audience=rooms.only(member), state={"submitted": [3]})
    assert [(e.seq, e.audience, e.audience_user_id) for e in (first, second, third)] == [
        (1, "everyone", None),
        (2, "watchers", None),
        (3, "member", member.pk),
    ]
    assert rooms.head(room) == (3, {"phase": "decryption", "submitted": [3]})
    assert rooms.head("evaluation:7") == (0, {})
    with pytest.raises(ValueError):
        rooms.publish(room, "d", {}, audience=rooms.Target("member"))
    assert rooms.head(room)[0] == 3
    assert [e.seq for e in rooms.events_between(room, 1)] == [2, 3]
    assert [e.seq for e in rooms.events_between(room, 0, 2)] == [1, 2]
    assert rooms.visible("member", member.pk, user_id=member.pk, watcher=False) is True
    assert rooms.visible("member", member.pk, user_id=member.pk + 1, watcher=False) is False
    assert rooms.visible("member", member.pk, user_id=member.pk + 1, watcher=True) is True
    assert rooms.visible("watchers", None, user_id=member.pk, watcher=False) is False
    # The staff side: watchers and, in the opening hall, the tenderee side; never a bidder or a member.
    fourth = rooms.publish(room, "d", {}, audience=rooms.STAFF_SIDE)
    assert (fourth.seq, fourth.audience, fourth.audience_user_id) == (4, "staff_side", None)
    assert rooms.visible("staff_side", None, user_id=member.pk, watcher=False, tenderee=True) is True
    assert rooms.visible("staff_side", None, user_id=member.pk, watcher=True) is True
    assert rooms.visible("staff_side", None, user_id=member.pk, watcher=False) is False
    assert rooms.visible("watchers", None, user_id=member.pk, watcher=False, tenderee=True) is False
