"""The opened bids during evaluation: the committee's confirmed members read them, streamed through the platform and
audited; nobody else, in any role, and not before evaluation starts."""

from datetime import timedelta

import pytest
import time_machine

from audit.models import AuditEvent
from evaluation import services as draws
from evaluation.models import DrawnExpert, MemberStatus
from tests import factories
from tests.bidding.opening_kit import client, decrypt, open_lot, sign_in
from tests.evaluation import kit
from trading import services
from trading.models import Role


@pytest.fixture
def evaluating(parties, tmp_path, tree):
    """A lot whose three bids were decrypted and whose opening record is published, a fixed committee of five, and
    the lot being evaluated."""
    opened = open_lot(parties, tmp_path, count=3)
    with time_machine.travel(opened.open_at, tick=False):
        sign_in(opened)
        for bidder in opened.kits:
            assert decrypt(opened, bidder).status_code == 200
    factories.finish_opening(parties, opened.lot)
    lot = opened.lot
    kit.experts(8, "A0801")
    with time_machine.travel(kit.NOW, tick=False):
        services.lot_start_evaluation(lot=lot, actor=parties.staff)
        draw = draws.draw_run(request=kit.request(parties, lot), actor=parties.staff, seed=kit.seed("opened-bids"))
        for member in DrawnExpert.objects.filter(draw=draw, status=MemberStatus.INVITED):
            draws.member_respond(member=member, actor=member.expert.user, accept=True)
    lot.refresh_from_db()
    assert lot.status == "evaluating"
    members = [m.expert.user for m in DrawnExpert.objects.filter(draw=draw, status=MemberStatus.CONFIRMED)]
    backup = DrawnExpert.objects.filter(draw=draw, status=MemberStatus.BACKUP).first().expert.user
    return opened, members, backup


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
    with time_machine.travel(kit.NOW + timedelta(days=1), tick=False):
        services.lot_start_publicity(lot=lot, actor=parties.staff)
    response = client(members[0]).get(f"/api/lots/{lot.pk}/opened-bids/{bid.pk}/file/")
    assert (response.status_code, response.json()["code"]) == (409, "not_evaluating")
    assert not AuditEvent.objects.filter(action="bid.opened_file_read").exists()
