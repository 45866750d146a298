"""Sign-in proves the venue: the client's address must lie in one of the seat venue's networks when the venue has any
(docs/evaluation.md, "Venue proof at sign-in"). X-Forwarded-For counts only from a trusted proxy."""

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from evaluation import session as ev
from evaluation.models import SessionMember, Venue
from evaluation.views import client_address
from tests.bidding.opening_kit import client
from tests.evaluation.room import at, refused

INSIDE, OUTSIDE, PROXY = "10.20.0.7", "192.0.2.5", "172.16.0.2"


def request(remote, forwarded=None):
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().post("/", **meta)


@pytest.fixture
def fenced(room):
    """The main venue (members 0-2) has a network; the secondary venue (members 3-4) has none."""
    Venue.objects.filter(pk=room.members[0].venue_id).update(networks=["10.20.0.0/24", "2001:db8:20::/48"])
    return room


@pytest.mark.django_db
def test_inside_the_network_signs_in_outside_is_refused_and_venues_without_networks_are_not_checked(fenced):
    room = fenced
    m0, m1, m3 = room.members[0], room.members[1], room.members[3]
    for address in (OUTSIDE, "10.20.1.7", None, "not-an-ip"):
        error = refused(
            "venue_unverified",
            ev.member_sign_in,
            session=room.session,
            actor=m0.expert.user,
            venue_id=m0.venue_id,
            client_address=address,
            now=at(1),
        )
        assert (error.status_code, error.en) == (
            403,
            "Your address is not inside your seat's venue; sign in from a terminal in the venue",
        )
    assert not SessionMember.objects.exists()
    ev.member_sign_in(session=room.session, actor=m0.expert.user, venue_id=m0.venue_id, client_address=INSIDE, now=at(1))
    ev.member_sign_in(
        session=room.session, actor=m1.expert.user, venue_id=m1.venue_id, client_address="2001:db8:20::9", now=at(1)
    )
    ev.member_sign_in(session=room.session, actor=m3.expert.user, venue_id=m3.venue_id, client_address=OUTSIDE, now=at(1))
    assert SessionMember.objects.count() == 3


@pytest.mark.django_db
def test_through_the_api_behind_a_trusted_proxy_and_a_forged_header(fenced, settings):
    room = fenced
    settings.TRUSTED_PROXIES = ["172.16.0.0/12"]
    path = f"/api/lots/{room.lot.pk}/evaluation-session/sign-in/"

    def sign_in(i, **meta):
        member = room.members[i]
        with time_machine.travel(at(1), tick=False):
            return client(member.expert.user).post(path, {"venue": member.venue_id}, format="json", **meta)

    # A forged X-Forwarded-For from an untrusted address, and an inside address the client put left of the real one.
    forged = sign_in(0, REMOTE_ADDR=OUTSIDE, HTTP_X_FORWARDED_FOR=INSIDE)
    assert (forged.status_code, forged.json()["code"]) == (403, "venue_unverified")
    assert forged.json()["message"]["zh-hans"] == "无法确认您位于本人席位所在的评标场地，请在场地内的评标终端签到"
    prepended = sign_in(0, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"{INSIDE}, {OUTSIDE}")
    assert (prepended.status_code, prepended.json()["code"]) == (403, "venue_unverified")
    assert not SessionMember.objects.exists()
    assert sign_in(0, REMOTE_ADDR=INSIDE).status_code == 200
    assert sign_in(1, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"{OUTSIDE}, {INSIDE}").status_code == 200
    assert sign_in(3, REMOTE_ADDR=OUTSIDE).status_code == 200  # the secondary venue has no networks
    assert SessionMember.objects.count() == 3


def test_client_address(settings):
    settings.TRUSTED_PROXIES = []
    assert client_address(request(INSIDE)) == INSIDE
    assert client_address(request(OUTSIDE, INSIDE)) == OUTSIDE  # no trusted proxy: the header is ignored
    settings.TRUSTED_PROXIES = ["172.16.0.0/12", "127.0.0.1"]
    assert client_address(request(PROXY, INSIDE)) == INSIDE
    assert client_address(request(PROXY, f"{OUTSIDE}, {INSIDE}")) == INSIDE
    assert client_address(request(PROXY, f"{INSIDE}, 127.0.0.1")) == INSIDE  # two trusted hops
    assert client_address(request(PROXY)) == PROXY
    assert client_address(request(PROXY, "garbage")) is None
    settings.TRUSTED_PROXIES = ["not-a-network"]
    with pytest.raises(ImproperlyConfigured):
        client_address(request(PROXY, INSIDE))
