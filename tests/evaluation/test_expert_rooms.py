"""GET /api/expert-rooms/ (evaluation/ui_views.py): a confirmed member learns the lot of their seat once it is being
evaluated; backups, other experts and other roles learn nothing."""

import pytest

from tests import factories
from tests.bidding.opening_kit import client
from trading.models import Role


@pytest.mark.django_db
def test_a_sitting_member_sees_the_lot_of_the_room_others_see_nothing(parties, room):
    lot = room.lot
    member = room.members[4]
    rows = client(member.expert.user).get("/api/expert-rooms/").json()
    assert [(r["lot"], r["member"], r["venue"], r["seat"], r["phase"]) for r in rows] == [
        (lot.pk, member.pk, member.venue_id, member.seat, "sign_in")
    ]
    assert rows[0]["lot_name"] == lot.name and rows[0]["transaction_code"] == lot.transaction_code
    stranger = factories.user(Role.EXPERT, username="expert-rooms-stranger")
    for user in (room.backup, stranger, parties.staff, parties.supervisor, parties.tenderee, parties.bidders[0]):
        assert client(user).get("/api/expert-rooms/").json() == [], user.username
    assert client(None).get("/api/expert-rooms/").status_code in (401, 403)
