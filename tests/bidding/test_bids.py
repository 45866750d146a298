"""Sealed bids: straight to the object store, verified from it, receipted, and decided on the server's clock."""

import json
from datetime import datetime, timedelta

import pytest
import time_machine
from django.apps import apps
from django.test import override_settings
from rest_framework.test import APIClient

from bidding import receipts
from bidding.client import ClientError, Uploader, file_sha256
from bidding.models import Bid
from tests import factories
from trading import services
from trading.objectstore import ObjectMissing, get_store
from trading.rules import LOCAL

ISSUED = datetime(2026, 11, 2, 9, tzinfo=LOCAL)
DURING = datetime(2026, 11, 4, 10, tzinfo=LOCAL)
MARKER = "MARKER-明文-不得外泄-4711"
MiB = 1024 * 1024


@pytest.fixture
def lot(parties):
    return factories.lot(parties, stage="published", issued=ISSUED)


@pytest.fixture
def kits(parties):
    return [factories.bidder_kit(bidder, ISSUED) for bidder in parties.bidders]


def client(user):
    api = APIClient()
    api.force_authenticate(user)
    return api


def objects():
    """The objects this test's bids left in the store (the bucket is shared by the whole run)."""
    store = get_store()
    return sorted(key for key in Bid.objects.values_list("object_key", flat=True) if store.exists(key))


@pytest.mark.django_db
def test_a_sealed_bid_is_uploaded_verified_and_receipted(parties, lot, kits, tmp_path):
    with time_machine.travel(DURING, tick=False):
        receipt = factories.submit_bid(kits[0], lot, tmp_path, marker=MARKER)
    sealed = tmp_path / f"{kits[0].user.username}.sealed"
    assert receipt["lot"] == lot.transaction_code
    assert receipt["bidder"] == kits[0].user.organisation.credit_code
    assert (receipt["size"], receipt["sha256"]) == (sealed.stat().st_size, file_sha256(sealed))
    assert receipt["received_at"] == "2026-11-04T02:00:00+00:00"

    # Verifiable offline with the published key, and any change breaks it.
    published = APIClient().get("/api/platform-key/").json()
    assert receipts.verify(receipt, published["public_key"])
    assert not receipts.verify({**receipt, "size": receipt["size"] + 1}, published["public_key"])

    # The store holds ciphertext only, and no database row holds the plaintext.
    [bid] = Bid.objects.all()
    stored = b"".join(get_store().iter_chunks(bid.object_key))
    assert stored == sealed.read_bytes()
    assert MARKER.encode() not in stored
    for model in apps.get_models():
        for row in model.objects.all().values():
            assert MARKER not in repr(row), model.__name__
    assert (bid.status, bid.lot_id, bid.bidder_id) == ("submitted", None, None)  # named only at the deadline


@pytest.mark.django_db
@override_settings(BID_PART_SIZE=5 * MiB)
def test_a_broken_upload_resumes_where_it_stopped(parties, lot, kits, tmp_path):
    kit = kits[0]
    with time_machine.travel(DURING, tick=False):
        from bidding import services as bidding

        bidding.enrolment_create(lot=lot, actor=kit.user, contact_name="甲", contact_phone="1")
        sealed = factories.seal_bid(kit, lot, tmp_path / "bid.sealed", factories.bid_package("1.00", extra=b"x" * (12 * MiB)))
        uploader = Uploader(factories.api_transport(client(kit.user)))
        with pytest.raises(ConnectionError):
            uploader.upload(lot.pk, sealed, stop_after_parts=1)
        state = json.loads((tmp_path / "bid.sealed.upload.json").read_text())
        detail = client(kit.user).get(f"/api/bids/{state['bid']}/").json()
        assert (detail["status"], detail["parts"], [p["part"] for p in detail["uploaded_parts"]]) == ("uploading", 3, [1])

        sent = []
        resumed = Uploader(
            factories.api_transport(client(kit.user)), put=lambda url, data: sent.append(len(data)) or _put(url, data)
        )
        receipt = resumed.upload(lot.pk, sealed)
    assert sent == [5 * MiB, sealed.stat().st_size - 10 * MiB]  # parts 2 and 3 only
    assert receipt["sha256"] == file_sha256(sealed)
    assert not (tmp_path / "bid.sealed.upload.json").exists()


def _put(url, data):
    from bidding.client import put_part

    return put_part(url, data)


def _upload_raw(user, lot, path, *, sha256=None):
    """Uploads arbitrary bytes through the API as if they were a sealed bid."""
    transport = factories.api_transport(client(user))
    if sha256 is None:
        return Uploader(transport).upload(lot.pk, path)
    size = path.stat().st_size
    status, bid = transport("POST", "/api/bids/", json_body={"lot": lot.pk, "size": size, "sha256": sha256})
    assert status == 201, bid
    _put(bid["urls"][0]["url"], path.read_bytes())
    return transport("POST", f"/api/bids/{bid['id']}/complete/")


@pytest.mark.django_db
@pytest.mark.parametrize("case", ["not_sealed", "hash_mismatch"])
def test_anything_not_sealed_for_this_lot_is_refused_and_removed(parties, lot, kits, tmp_path, case):
    kit = kits[0]
    with time_machine.travel(DURING, tick=False):
        from bidding import services as bidding

        bidding.enrolment_create(lot=lot, actor=kit.user, contact_name="甲", contact_phone="1")
        path = tmp_path / "bid.sealed"
        if case == "not_sealed":
            path.write_bytes(b"PK\x03\x04 a plain zip, not sealed " * 100)
        else:
            factories.seal_bid(kit, lot, path, factories.bid_package("1.00"))
        if case == "hash_mismatch":
            status, body = _upload_raw(kit.user, lot, path, sha256="0" * 64)
        else:
            with pytest.raises(ClientError) as error:
                _upload_raw(kit.user, lot, path)
            status, body = error.value.status, error.value.body
    assert (status, body["code"]) == (422, case)
    assert list(Bid.objects.values_list("status", flat=True)) == ["rejected"]
    assert objects() == []


@pytest.mark.django_db
def test_the_sha256_may_be_declared_when_completing(parties, lot, kits, tmp_path):
    """A client that hashes while it sends declares the SHA-256 at completion: missing, malformed or declared twice
    differently, completion is refused and nothing changes; the declared one is checked against the store."""
    kit = kits[0]
    with time_machine.travel(DURING, tick=False):
        from bidding import services as bidding

        bidding.enrolment_create(lot=lot, actor=kit.user, contact_name="甲", contact_phone="1")
        path = factories.seal_bid(kit, lot, tmp_path / "bid.sealed", factories.bid_package("1.00"))
        transport = factories.api_transport(client(kit.user))
        status, bid = transport("POST", "/api/bids/", json_body={"lot": lot.pk, "size": path.stat().st_size})
        assert (status, bid["sha256"]) == (201, "")
        _put(bid["urls"][0]["url"], path.read_bytes())
        before = (list(Bid.objects.values()), objects())
        complete = f"/api/bids/{bid['id']}/complete/"
        for body, code in [
            ({}, "sha256_required"),
            ({"sha256": ""}, "sha256_required"),
            ({"sha256": "ab" * 31 + "g0"}, "invalid_sha256"),
        ]:
            status, answer = transport("POST", complete, json_body=body)
            assert (status, answer["code"]) == (400, code), body
            assert (list(Bid.objects.values()), objects()) == before
        status, receipt = transport("POST", complete, json_body={"sha256": file_sha256(path)})
    assert status == 200
    assert receipt["sha256"] == file_sha256(path)
    stored = Bid.objects.get()
    assert (stored.status, stored.sha256) == ("submitted", file_sha256(path))


@pytest.mark.django_db
def test_a_sha256_declared_twice_must_not_differ(parties, lot, kits, tmp_path):
    kit = kits[0]
    with time_machine.travel(DURING, tick=False):
        from bidding import services as bidding

        bidding.enrolment_create(lot=lot, actor=kit.user, contact_name="甲", contact_phone="1")
        path = factories.seal_bid(kit, lot, tmp_path / "bid.sealed", factories.bid_package("1.00"))
        transport = factories.api_transport(client(kit.user))
        declared = file_sha256(path)
        status, bid = transport("POST", "/api/bids/", json_body={"lot": lot.pk, "size": path.stat().st_size, "sha256": declared})
        _put(bid["urls"][0]["url"], path.read_bytes())
        before = list(Bid.objects.values())
        status, answer = transport("POST", f"/api/bids/{bid['id']}/complete/", json_body={"sha256": "0" * 64})
        assert (status, answer["code"]) == (400, "sha256_differs")
        assert list(Bid.objects.values()) == before
        status, receipt = transport("POST", f"/api/bids/{bid['id']}/complete/", json_body={"sha256": declared})
    assert (status, receipt["sha256"]) == (200, declared)


@pytest.mark.django_db
@pytest.mark.parametrize("declared_at", ["start", "completion"])
def test_a_wrong_sha256_is_refused_from_the_store_whenever_declared(parties, lot, kits, tmp_path, declared_at):
    kit = kits[0]
    with time_machine.travel(DURING, tick=False):
        from bidding import services as bidding

        bidding.enrolment_create(lot=lot, actor=kit.user, contact_name="甲", contact_phone="1")
        path = factories.seal_bid(kit, lot, tmp_path / "bid.sealed", factories.bid_package("1.00"))
        transport = factories.api_transport(client(kit.user))
        wrong = {"sha256": "0" * 64}
        start = {"lot": lot.pk, "size": path.stat().st_size, **(wrong if declared_at == "start" else {})}
        status, bid = transport("POST", "/api/bids/", json_body=start)
        _put(bid["urls"][0]["url"], path.read_bytes())
        status, answer = transport("POST", f"/api/bids/{bid['id']}/complete/", json_body={} if declared_at == "start" else wrong)
    assert (status, answer["code"]) == (422, "hash_mismatch")
    assert list(Bid.objects.values_list("status", flat=True)) == ["rejected"]
    assert objects() == []


@pytest.mark.django_db
def test_the_deadline_is_decided_on_the_servers_clock(parties, lot, kits, tmp_path):
    """09:59:59.999 is in; 10:00:00.000 is out; a completion that starts before the deadline but whose
    verification ends after it is decided inside the transaction, and is out too."""
    early, late, straddler = kits[:3]
    transports, ids = {}, {}
    with time_machine.travel(DURING, tick=False):
        from bidding import services as bidding

        for kit in (early, late, straddler):
            bidding.enrolment_create(lot=lot, actor=kit.user, contact_name="甲", contact_phone="1")
            path = factories.seal_bid(kit, lot, tmp_path / f"{kit.user.username}.sealed", factories.bid_package("1.00"))
            transports[kit] = factories.api_transport(client(kit.user))
            status, bid = transports[kit](
                "POST", "/api/bids/", json_body={"lot": lot.pk, "size": path.stat().st_size, "sha256": file_sha256(path)}
            )
            _put(bid["urls"][0]["url"], path.read_bytes())
            ids[kit] = bid["id"]
    with time_machine.travel(lot.bid_deadline - timedelta(milliseconds=1), tick=False):
        status, receipt = transports[early]("POST", f"/api/bids/{ids[early]}/complete/")
        assert status == 200
        assert receipt["received_at"] == "2026-11-23T01:29:59.999000+00:00"
    with time_machine.travel(lot.bid_deadline, tick=False):
        status, body = transports[late]("POST", f"/api/bids/{ids[late]}/complete/")
        assert (status, body["code"]) == (409, "deadline_passed")
    assert Bid.objects.get(pk=ids[late]).status == "uploading"  # refused before anything changed
    with time_machine.travel(lot.bid_deadline - timedelta(milliseconds=1), tick=True):
        status, body = transports[straddler]("POST", f"/api/bids/{ids[straddler]}/complete/")
        assert (status, body["code"]) == (409, "deadline_passed")
    assert Bid.objects.get(pk=ids[straddler]).status == "withdrawn"

    with time_machine.travel(lot.bid_deadline, tick=False):
        services.sweep_deadlines()
    assert {str(pk): status for pk, status in Bid.objects.values_list("id", "status")} == {
        ids[early]: "submitted",
        ids[late]: "withdrawn",
        ids[straddler]: "withdrawn",
    }
    assert objects() == [Bid.objects.get(status="submitted").object_key]


@pytest.mark.django_db
def test_replace_and_withdraw_before_the_deadline_only(parties, lot, kits, tmp_path, django_capture_on_commit_callbacks):
    kit = kits[0]
    with time_machine.travel(DURING, tick=False):
        first = factories.submit_bid(kit, lot, tmp_path, price="100.00")
        (tmp_path / f"{kit.user.username}.sealed").unlink()
        with django_capture_on_commit_callbacks(execute=True):
            second = factories.submit_bid(kit, lot, tmp_path, price="90.00")
        statuses = dict(Bid.objects.values_list("id", "status"))
        assert sorted(statuses.values()) == ["replaced", "submitted"]
        assert [b["id"] for b in client(kit.user).get("/api/bids/").json() if b["status"] == "submitted"] == [second["bid"]]
        assert objects() == [Bid.objects.get(status="submitted").object_key]
        assert first["bid"] != second["bid"]
    with time_machine.travel(lot.bid_deadline, tick=False):
        response = client(kit.user).post(f"/api/bids/{second['bid']}/withdraw/")
        assert (response.status_code, response.json()["code"]) == (409, "deadline_passed")
        assert Bid.objects.get(pk=second["bid"]).status == "submitted"
    with time_machine.travel(DURING, tick=False):
        assert client(kit.user).post(f"/api/bids/{second['bid']}/withdraw/").status_code == 204
    assert Bid.objects.get(pk=second["bid"]).status == "withdrawn"
    assert objects() == []


@pytest.mark.django_db
def test_nobody_else_can_see_or_touch_a_bid(parties, lot, kits, tmp_path):
    with time_machine.travel(DURING, tick=False):
        receipt = factories.submit_bid(kits[0], lot, tmp_path)
        for label, user in parties.every_role():
            if user == kits[0].user:
                continue
            api = APIClient()
            if user is not None:
                api.force_authenticate(user)
            for method, path in [
                ("get", f"/api/bids/{receipt['bid']}/"),
                ("post", f"/api/bids/{receipt['bid']}/complete/"),
                ("post", f"/api/bids/{receipt['bid']}/withdraw/"),
                ("post", f"/api/bids/{receipt['bid']}/part-urls/"),
            ]:
                response = getattr(api, method)(path, {"parts": [1]}, format="json") if method == "post" else api.get(path)
                assert response.status_code == (401 if user is None else 404), (label, path, response.status_code)
            if user is not None:
                assert api.get("/api/bids/").json() == [], label
    assert Bid.objects.get().status == "submitted"


@pytest.mark.django_db
@override_settings(BID_PART_SIZE=5 * MiB)
def test_store_down_mid_upload_is_a_clear_503_and_leaves_no_half_bid(parties, lot, kits, tmp_path):
    kit = kits[0]
    with time_machine.travel(DURING, tick=False):
        from bidding import services as bidding

        bidding.enrolment_create(lot=lot, actor=kit.user, contact_name="甲", contact_phone="1")
        sealed = factories.seal_bid(kit, lot, tmp_path / "bid.sealed", factories.bid_package("1.00", extra=b"y" * (7 * MiB)))
        with pytest.raises(ConnectionError):
            Uploader(factories.api_transport(client(kit.user))).upload(lot.pk, sealed, stop_after_parts=1)
        bid = Bid.objects.get()
        upload_id = bid.upload_id
        with override_settings(S3_ENDPOINT="127.0.0.1:1"):
            response = client(kit.user).post(f"/api/bids/{bid.pk}/complete/", {"sha256": file_sha256(sealed)}, format="json")
            assert (response.status_code, response.json()["code"]) == (503, "store_unavailable")
            response = client(kit.user).get(f"/api/bids/{bid.pk}/")
            assert (response.status_code, response.json()["code"]) == (503, "store_unavailable")
        assert Bid.objects.get().status == "uploading"
    # Never completed: at the deadline it counts as withdrawn and its parts are removed.
    with time_machine.travel(lot.bid_deadline, tick=False):
        services.sweep_deadlines()
    bid.refresh_from_db()
    assert (bid.status, bid.lot_id, bid.bidder_id) == ("withdrawn", lot.pk, kit.user.organisation_id)
    with pytest.raises(ObjectMissing):
        get_store().multipart_list_parts(bid.object_key, upload_id)
    assert objects() == []


@pytest.mark.django_db
def test_fewer_than_three_bids_means_no_opening(parties, lot, kits, tmp_path):
    with time_machine.travel(DURING, tick=False):
        for kit in kits[:2]:
            factories.submit_bid(kit, lot, tmp_path)
    with time_machine.travel(lot.bid_deadline, tick=False):
        services.sweep_deadlines()
    lot.refresh_from_db()
    assert lot.status == "failed"
    assert lot.notices.filter(kind="failure").get().body.startswith("递交投标文件的投标人少于3个（2个）")


@pytest.mark.django_db
def test_three_bids_open_with_a_decryption_window(parties, lot, kits, tmp_path):
    with time_machine.travel(DURING, tick=False):
        for kit in kits[:3]:
            factories.submit_bid(kit, lot, tmp_path)
    with time_machine.travel(lot.bid_deadline, tick=False):
        services.sweep_deadlines()
    lot.refresh_from_db()
    assert lot.status == "opening"
    assert lot.opening.decryption_deadline == lot.bid_deadline + timedelta(minutes=30)
    assert sorted(Bid.objects.values_list("bidder_id", flat=True)) == sorted(k.user.organisation_id for k in kits[:3])
    # Where each bid came from, for the collusion checks (条例40): only now, after the deadline.
    from bidding.client import machine_fingerprint

    assert set(Bid.objects.values_list("uploaded_from", "client_fingerprint")) == {("127.0.0.1", machine_fingerprint())}


@pytest.mark.django_db
def test_the_receipt_verifies_offline_with_the_documented_command(parties, lot, kits, tmp_path, capsys):
    from bidding.client import main

    with time_machine.travel(DURING, tick=False):
        factories.submit_bid(kits[0], lot, tmp_path)
    sealed = tmp_path / f"{kits[0].user.username}.sealed"
    receipt = tmp_path / f"{kits[0].user.username}.sealed.receipt.json"
    platform = tmp_path / "platform.pem"
    platform.write_text(APIClient().get("/api/platform-key/").json()["public_key"])
    assert main(["verify-receipt", str(receipt), "--platform-key", str(platform), "--sealed", str(sealed)]) == 0
    assert "receipt valid" in capsys.readouterr().out
    data = sealed.read_bytes()
    sealed.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    assert main(["verify-receipt", str(receipt), "--platform-key", str(platform), "--sealed", str(sealed)]) == 1
    assert "INVALID" in capsys.readouterr().out
