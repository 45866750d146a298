"""Builders for the room tests: a lot with a fixed committee in two venues, and a lot at its opening.

Scaffolding with plain ORM writes: the draw and the opening have their own tests (tests/evaluation, tests/bidding);
here only their outcome matters (who is a confirmed member where, whose bid is in the opening)."""

import itertools
from datetime import timedelta

from django.conf import settings
from django.test import Client
from django.utils import timezone

from bidding.models import Bid, BidStatus, Opening
from evaluation.models import Draw, DrawLine, DrawnExpert, DrawRequest, MemberStatus, Venue
from experts.models import Expert
from tests import factories
from trading.models import Role

_serial = itertools.count(1)
ORIGIN = (b"origin", b"http://127.0.0.1")
HOST = (b"host", b"127.0.0.1")


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


def venues() -> tuple[Venue, Venue]:
    n = next(_serial)
    return (
        Venue.objects.create(name=f"本级主场{n}", kind=Venue.Kind.MAIN, seats=10),
        Venue.objects.create(name=f"异地副场{n}", kind=Venue.Kind.SECONDARY, seats=10),
    )


def committee(parties, lot, seats: list[tuple[Venue, str]], *, status=DrawRequest.Status.FIXED, backups: int = 1):
    """A draw for `lot` with one confirmed member per (venue, name) (seats numbered per venue) and `backups`
    backups with accounts; returns (members, backups) as DrawnExpert rows."""
    now = timezone.now()
    request = DrawRequest.objects.create(
        lot=lot,
        status=status,
        window_start=now,
        window_end=now + timedelta(hours=8),
        created_by=parties.staff,
        created_at=now,
        fixed_at=now if status == DrawRequest.Status.FIXED else None,
    )
    line = DrawLine.objects.create(request=request, position=0, specialty_code="A08", count=len(seats))
    draw = Draw.objects.create(
        request=request,
        commitment="0" * 64,
        seed_sealed=b"",
        seed="1" * 64,
        snapshot=b"",
        snapshot_sha256="0" * 64,
        created_by=parties.staff,
        created_at=now,
        revealed_at=now,
    )
    members, spare = [], []
    per_venue: dict[int, int] = {}
    for position, (venue, name) in enumerate(seats):
        per_venue[venue.pk] = per_venue.get(venue.pk, 0) + 1
        members.append(
            DrawnExpert.objects.create(
                draw=draw,
                line=line,
                position=position,
                expert=expert(name),
                status=MemberStatus.CONFIRMED,
                venue=venue,
                seat=per_venue[venue.pk],
                invited_at=now,
                respond_by=now + timedelta(minutes=30),
                responded_at=now,
            )
        )
    for i in range(backups):
        spare.append(
            DrawnExpert.objects.create(
                draw=draw,
                line=line,
                position=len(seats) + i,
                expert=expert(f"备选{i}"),
                status=MemberStatus.BACKUP,
            )
        )
    return members, spare


def expert(name: str) -> Expert:
    account = factories.user(Role.EXPERT, factories.org("other"), f"expert-room-{next(_serial)}")
    return Expert.objects.create(user=account, name=name, phone="13900000000")


def opening(parties, lot, bidders) -> Opening:
    """An opening of `lot` whose bids are those of `bidders`."""
    now = timezone.now()
    made = Opening.objects.create(lot=lot, started_at=now, decryption_deadline=now + timedelta(minutes=30))
    for bidder in bidders:
        n = next(_serial)
        Bid.objects.create(
            blind_index=f"{n:064x}",
            sealed=b"",
            status=BidStatus.SUBMITTED,
            object_key=f"bids/room-test-{n}",
            size=1,
            sha256="0" * 64,
            part_size=1,
            lot=lot,
            bidder=bidder.organisation,
            opening=made,
        )
    return made
