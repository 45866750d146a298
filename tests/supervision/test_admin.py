"""The back office shows alerts read only, filtered by rule, level and whether resolved."""

import pytest

from supervision import services
from supervision.models import Alert
from tests.supervision import kit
from tests.supervision.kit import NOW

pytestmark = pytest.mark.django_db


def test_admin_lists_and_filters_alerts_read_only(client, parties):
    lot = kit.lot(parties)
    kit.bid(lot, parties.bidders[0], ip="203.0.113.7")
    kit.bid(lot, parties.bidders[1], ip="203.0.113.7")
    services.scan(now=NOW)
    alert = Alert.objects.get()
    client.force_login(parties.admin)
    listing = client.get("/admin/supervision/alert/")
    assert listing.status_code == 200
    assert "ip:203.0.113.7" in listing.content.decode()
    for query, shown in [
        ("?level=red", True),
        ("?level=yellow", False),
        ("?rule=same_upload_address", True),
        ("?rule=deadline_missed", False),
        ("?resolved=no", True),
        ("?resolved=yes", False),
    ]:
        page = client.get(f"/admin/supervision/alert/{query}")
        assert page.status_code == 200, query
        assert ("ip:203.0.113.7" in page.content.decode()) is shown, query
    assert client.get(f"/admin/supervision/alert/{alert.pk}/change/").status_code == 200
    assert client.get("/admin/supervision/alert/add/").status_code == 403
    assert client.post(f"/admin/supervision/alert/{alert.pk}/delete/").status_code == 403
    before = list(Alert.objects.values())
    client.post(f"/admin/supervision/alert/{alert.pk}/change/", {"resolution_note": "x"})
    assert list(Alert.objects.values()) == before
