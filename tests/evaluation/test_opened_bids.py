"""The opened bids during evaluation: the committee's confirmed members read them, streamed through the platform and
audited; nobody else, in any role, and not before evaluation starts."""

from datetime import timedelta

import pytest
import time_machine

from audit.models import AuditEvent
from tests import factories
from tests.bidding.opening_kit import client
from tests.evaluation import kit
from tests.trading.publicity_kit import evaluation_done
from trading import services
from trading.models import Role


@pytest.fixture
def evaluating(parties, tmp_path, tree):
    return kit.evaluating_lot(parties, tmp_path)


@pytest.mark.django_db
def test_a_member_lists_and_reads_every_opened_bid_and_each_read_is_audited(evaluating):
    opened, members, _ = evaluating
    lot = opened.lot
    listing = client(members[0]).get(f"/api/lots/{lot.pk}/opened-bids/")
    assert listing.status_code == 200
    assert sorted(row["bidder"] for row in listing.json()) == sorted(k.user.organisation.name for k in opened.kits)
    for kit_ in opened.kits:
        bid = opened.bid(kit_)
        response = client(members[1]).get(f"/api/lots/{lot.pk}/opened-bids/{bid.pk}/file/")
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == opened.plain[kit_.user.username]
        assert response["X-Content-SHA256"] == bid.plaintext_sha256
    reads = AuditEvent.objects.filter(action="bid.opened_file_read")
    assert reads.count() == 3 and {e.actor_id for e in reads} == {members[1].pk}


@pytest.mark.django_db
def test_no_one_else_reads_the_opened_bids(parties, evaluating):
    opened, _, backup = evaluating
    lot = opened.lot
    bid = opened.bid(opened.kits[0])
    stranger = factories.user(Role.EXPERT, username="expert-not-drawn")
    others = [
        parties.staff,
        parties.supervisor,
        parties.tenderee,
        parties.agency,
        opened.kits[0].user,  # the bid's own bidder
        opened.kits[1].user,
        backup,  # drawn as a backup, not seated
        stranger,
    ]
    for user in others:
        for path in (f"/api/lots/{lot.pk}/opened-bids/", f"/api/lots/{lot.pk}/opened-bids/{bid.pk}/file/"):
            response = client(user).get(path)
            assert (response.status_code, response.json()["code"]) == (404, "not_found"), (user.username, path)
    assert client(None).get(f"/api/lots/{lot.pk}/opened-bids/").status_code == 401
    assert not AuditEvent.objects.filter(action="bid.opened_file_read").exists()


@pytest.mark.django_db
def test_members_read_only_while_the_lot_is_evaluated(parties, evaluating):
    opened, members, _ = evaluating
    lot = opened.lot
    bid = opened.bid(opened.kits[0])
    evaluation_done(parties, lot, at=kit.NOW + timedelta(hours=20))
    with time_machine.travel(kit.NOW + timedelta(days=1), tick=False):
        services.lot_start_publicity(lot=lot, actor=parties.staff)
    response = client(members[0]).get(f"/api/lots/{lot.pk}/opened-bids/{bid.pk}/file/")
    assert (response.status_code, response.json()["code"]) == (409, "not_evaluating")
    assert not AuditEvent.objects.filter(action="bid.opened_file_read").exists()
