"""The notification socket: only signed-in users from an allowed origin; clarifications reach enrolled bidders only.

Transactional tests, so that the services' on_commit pushes fire; the channel layer is in-memory, or Redis with REDIS_URL.
"""

from datetime import date, datetime, timedelta

import pytest
import pytest_asyncio
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connections
from django.test import Client

from bidding.services import enrolment_create
from notices.models import Notice
from tests import factories
from trading import rules, services
from trading.api import DomainError
from trading.asgi import application

ISSUED = factories.at(date(2026, 11, 2))  # Monday; the bid deadline is Monday 23 November 09:30
DEADLINE = factories.at(date(2026, 11, 23))
ORIGIN = (b"origin", b"http://127.0.0.1")
HOST = (b"host", b"127.0.0.1")


@pytest_asyncio.fixture
async def close_db_after():
    """The ORM runs in database_sync_to_async's thread: close its connections so the test database can be dropped."""
    yield
    await database_sync_to_async(connections.close_all)()


def _session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


@database_sync_to_async
def _published_lot_with_one_enrolment():
    parties = factories.Parties.create()
    lot = factories.lot(parties, stage="published", issued=ISSUED)
    enrolment_create(
        lot=lot, actor=parties.bidders[0], contact_name="张三", contact_phone="13800000000", now=ISSUED + timedelta(days=1)
    )
    cookies = {name: _session_cookie(user) for name, user in [("enrolled", parties.bidders[0]), ("other", parties.bidders[1])]}
    cookies["tenderee"] = _session_cookie(parties.tenderee)
    return parties, lot, cookies


@database_sync_to_async
def _clarify(parties, lot, *, title: str, affects_bids: bool, now: datetime):
    return services.clarification_publish(
        lot=lot, actor=parties.tenderee, title=title, body="工程量清单更正", affects_bids=affects_bids, now=now
    )


@database_sync_to_async
def _lot_state(lot):
    lot.refresh_from_db()
    return lot.bid_deadline, list(Notice.objects.filter(lot=lot).values_list("kind", flat=True))


@database_sync_to_async
def _parties_with_bidder_cookie():
    parties = factories.Parties.create()
    return parties, _session_cookie(parties.bidders[0])


async def _connect(*headers):
    communicator = WebsocketCommunicator(application, "/ws/notifications/", headers=list(headers))
    connected, detail = await communicator.connect(timeout=5)
    return communicator, connected, detail


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_clarification_reaches_enrolled_bidders_only(close_db_after):
    parties, lot, cookies = await _published_lot_with_one_enrolment()
    enrolled, ok_enrolled, _ = await _connect(ORIGIN, HOST, (b"cookie", cookies["enrolled"]))
    other, ok_other, _ = await _connect(ORIGIN, HOST, (b"cookie", cookies["other"]))
    tenderee, ok_tenderee, _ = await _connect(ORIGIN, HOST, (b"cookie", cookies["tenderee"]))
    assert (ok_enrolled, ok_other, ok_tenderee) == (True, True, True)
    try:
        # 18 days before the deadline: it stays even though the clarification may affect bids.
        first = await _clarify(
            parties, lot, title="澄清公告（一）", affects_bids=True, now=factories.at(date(2026, 11, 5), 10, 0)
        )
        message = await enrolled.receive_json_from(timeout=5)
        assert set(message) == {"type", "lot", "notice", "title", "bid_deadline"}
        assert (message["type"], message["lot"], message["notice"], message["title"]) == (
            "clarification",
            lot.pk,
            first.pk,
            "澄清公告（一）",
        )
        assert datetime.fromisoformat(message["bid_deadline"]) == DEADLINE

        # 11 days before the deadline and it may affect bids: the deadline moves to leave 15 days (条例21).
        second = await _clarify(
            parties, lot, title="澄清公告（二）", affects_bids=True, now=factories.at(date(2026, 11, 12), 15, 0)
        )
        message = await enrolled.receive_json_from(timeout=5)
        assert (message["type"], message["notice"], message["title"]) == ("clarification", second.pk, "澄清公告（二）")
        assert datetime.fromisoformat(message["bid_deadline"]) == factories.at(date(2026, 11, 27))
        assert datetime.fromisoformat(message["bid_deadline"]).astimezone(rules.LOCAL).isoformat() == "2026-11-27T09:30:00+08:00"

        # One message per clarification, and nothing for those who did not enrol.
        assert await enrolled.receive_nothing(timeout=0.5) is True
        assert await other.receive_nothing(timeout=0.5) is True
        assert await tenderee.receive_nothing(timeout=0.5) is True
    finally:
        await enrolled.disconnect()
        await other.disconnect()
        await tenderee.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_refused_clarification_pushes_nothing(close_db_after):
    parties, lot, cookies = await _published_lot_with_one_enrolment()
    enrolled, connected, _ = await _connect(ORIGIN, HOST, (b"cookie", cookies["enrolled"]))
    assert connected is True
    try:
        with pytest.raises(DomainError) as info:
            await _clarify(parties, lot, title="截止后的澄清", affects_bids=False, now=DEADLINE)
        assert info.value.code == "invalid_lot_state"
        assert await enrolled.receive_nothing(timeout=0.5) is True
        assert await _lot_state(lot) == (DEADLINE, ["tender"])
    finally:
        await enrolled.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_anonymous_connection_is_refused(close_db_after):
    _, connected, code = await _connect(ORIGIN, HOST)
    assert (connected, code) == (False, 4401)
    _, connected, code = await _connect(ORIGIN, HOST, (b"cookie", b"sessionid=not-a-session"))
    assert (connected, code) == (False, 4401)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "origin",
    [[(b"origin", b"http://evil.example")], [(b"origin", b"http://127.0.0.1.evil.example")], []],
    ids=["foreign", "lookalike", "missing"],
)
async def test_wrong_origin_is_refused_even_when_signed_in(close_db_after, origin):
    _, cookie = await _parties_with_bidder_cookie()
    # The same cookie is accepted from the right origin.
    allowed, connected, _ = await _connect(ORIGIN, HOST, (b"cookie", cookie))
    assert connected is True
    await allowed.disconnect()

    _, connected, code = await _connect(*origin, HOST, (b"cookie", cookie))
    assert (connected, code) == (False, 1000)
