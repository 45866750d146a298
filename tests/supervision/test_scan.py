"""The scan: findings become alerts once, a second run only moves last_seen, a level only rises, nothing else
changes; and a real opening scanned after the sweep."""

from datetime import timedelta

import pytest
import time_machine

from audit.models import AuditEvent
from bidding.models import Bid
from supervision import services
from supervision.models import Alert
from supervision.tasks import scan as scan_task
from tests import factories
from tests.supervision import kit
from tests.supervision.kit import NOW
from trading.models import Lot, LotStatus

pytestmark = pytest.mark.django_db


def lifecycle_state() -> dict:
    """What the scan must never touch."""
    return {"lots": list(Lot.objects.order_by("pk").values()), "bids": list(Bid.objects.order_by("pk").values())}


def test_scan_twice_creates_once_and_moves_last_seen(parties):
    lot = kit.lot(parties)
    kit.bid(lot, parties.bidders[0], ip="203.0.113.7", plaintext_sha256="a" * 64)
    kit.bid(lot, parties.bidders[1], ip="203.0.113.7", plaintext_sha256="a" * 64)
    before = lifecycle_state()

    assert services.scan(now=NOW) == {"found": 2, "created": 2, "escalated": 0, "seen": 0}
    assert sorted(Alert.objects.values_list("rule", "level", "lot_id", "key")) == [
        ("identical_bid_files", "red", lot.pk, "plain:" + "a" * 64),
        ("same_upload_address", "red", lot.pk, "ip:203.0.113.7"),
    ]
    raised = AuditEvent.objects.filter(action="supervision.alert_raised")
    assert sorted(raised.values_list("lot_id", "after__rule")) == [
        (lot.pk, "identical_bid_files"),
        (lot.pk, "same_upload_address"),
    ]

    later = NOW + timedelta(minutes=5)
    assert services.scan(now=later) == {"found": 2, "created": 0, "escalated": 0, "seen": 2}
    assert Alert.objects.count() == 2
    assert set(Alert.objects.values_list("first_seen", "last_seen")) == {(NOW, later)}
    assert raised.count() == 2
    # An earlier clock (a late worker) never moves last_seen back.
    services.scan(now=NOW)
    assert set(Alert.objects.values_list("last_seen", flat=True)) == {later}
    assert lifecycle_state() == before


def test_a_condition_gone_leaves_the_alert(parties):
    lot = kit.lot(parties)
    bids = [kit.bid(lot, b, ip="203.0.113.7") for b in parties.bidders[:2]]
    services.scan(now=NOW)
    Bid.objects.filter(pk=bids[1].pk).update(uploaded_from="203.0.113.9")
    assert services.scan(now=NOW + timedelta(hours=1)) == {"found": 0, "created": 0, "escalated": 0, "seen": 0}
    alert = Alert.objects.get()
    assert (alert.last_seen, alert.resolved_at) == (NOW, None)


def test_a_deadline_alert_escalates_and_reopens_once_red(parties):
    lot = kit.lot(parties, status=LotStatus.OPENING)
    kit.opening(lot, deadline=NOW - timedelta(hours=2))
    services.scan(now=NOW)
    alert = Alert.objects.get()
    assert (alert.rule, alert.level, alert.details["overrun_hours"]) == ("deadline_missed", "yellow", 2)
    services.alert_resolve(alert=alert, actor=parties.supervisor, note="已电话督促交易中心", now=NOW + timedelta(hours=1))

    # Still yellow: the evidence is refreshed, the resolution stays.
    assert services.scan(now=NOW + timedelta(hours=10)) == {"found": 1, "created": 0, "escalated": 0, "seen": 1}
    alert.refresh_from_db()
    assert (alert.level, alert.details["overrun_hours"], alert.resolution_note) == ("yellow", 12, "已电话督促交易中心")

    # Red: back in front of the supervisors, the earlier resolution kept in the details and the audit trail.
    assert services.scan(now=NOW + timedelta(hours=30)) == {"found": 1, "created": 0, "escalated": 1, "seen": 0}
    alert.refresh_from_db()
    assert (alert.level, alert.resolved_at, alert.resolved_by, alert.resolution_note) == ("red", None, None, "")
    assert alert.details["reopened_from"] == {
        "resolved_at": (NOW + timedelta(hours=1)).isoformat(),
        "resolved_by": parties.supervisor.pk,
        "note": "已电话督促交易中心",
    }
    escalated = AuditEvent.objects.get(action="supervision.alert_escalated")
    assert (escalated.before["level"], escalated.after["level"], escalated.after["resolved_at"]) == ("yellow", "red", None)
    assert services.scan(now=NOW + timedelta(hours=31)) == {"found": 1, "created": 0, "escalated": 0, "seen": 1}


def test_the_celery_task_runs_the_scan(parties):
    lot = kit.lot(parties)
    kit.bid(lot, parties.bidders[0], fingerprint="machine-1")
    kit.bid(lot, parties.bidders[1], fingerprint="machine-1")
    with time_machine.travel(NOW, tick=False):
        assert scan_task.delay().get() == {"found": 1, "created": 1, "escalated": 0, "seen": 0}
        assert scan_task.delay().get() == {"found": 1, "created": 0, "escalated": 0, "seen": 1}
    assert Alert.objects.get().rule == "same_device_fingerprint"


def test_a_real_opening_scanned(parties, tmp_path):
    """Three bidders seal and upload through the client from one machine (the test client's 127.0.0.1) and decrypt
    at the opening; the kit's prices 900001, 900002, 900003 are an exact arithmetic progression."""
    from tests.bidding.opening_kit import decrypt, open_lot, sign_in

    opened = open_lot(parties, tmp_path, count=3)
    with time_machine.travel(opened.open_at, tick=False):
        sign_in(opened)
        for bidder in opened.kits:
            assert decrypt(opened, bidder).status_code == 200
    factories.finish_opening(parties, opened.lot)
    lot = opened.lot
    bidders = sorted(k.user.organisation_id for k in opened.kits)
    before = lifecycle_state()

    services.scan(now=lot.bid_deadline + timedelta(hours=2))
    alerts = {a.rule: a for a in Alert.objects.all()}
    assert sorted(alerts) == ["regular_price_gaps", "same_device_fingerprint", "same_upload_address"]
    assert (alerts["same_upload_address"].key, alerts["same_upload_address"].level) == ("ip:127.0.0.1", "red")
    assert [b["id"] for b in alerts["same_upload_address"].subject["bidders"]] == bidders
    assert [b["id"] for b in alerts["same_device_fingerprint"].subject["bidders"]] == bidders
    prices = alerts["regular_price_gaps"]
    assert (prices.level, prices.details["exact"]) == ("red", True)
    assert [row["price"] for row in prices.details["bids"]] == ["900001.00", "900002.00", "900003.00"]
    assert {a.lot_id for a in alerts.values()} == {lot.pk}
    assert lifecycle_state() == before
