"""补救方案: a rescue key split k-of-n among officers opens the bid of a bidder who lost its key; k-1 shares open
nothing; shares before the deadline are refused; the key and the shares are destroyed when decryption closes."""

from datetime import timedelta

import pytest
import time_machine
from django.apps import apps

from audit.models import AuditEvent
from bidding import envelope, shamir
from bidding.models import RescueKey, RescueShare
from tests import factories
from tests.bidding.opening_kit import DURING, ISSUED, client, decrypt, open_lot, sign_in, state, stored
from trading import services
from trading.models import Role


@pytest.fixture
def officers(parties):
    third = factories.user(Role.STAFF, parties.staff.organisation, "officer3")
    return [parties.staff, parties.admin, third]


def _rescue_lot(parties, officers, threshold=2):
    """A filed lot gets its rescue key, then its documents are published with the public key."""
    lot = factories.lot(parties, stage="filed", issued=ISSUED)
    with time_machine.travel(ISSUED - timedelta(hours=2), tick=False):
        response = client(parties.staff).post(
            f"/api/lots/{lot.pk}/rescue-key/", {"officers": [o.pk for o in officers], "threshold": threshold}, format="json"
        )
    assert response.status_code == 201, response.json()
    assert response["Cache-Control"] == "no-store"
    lot, _ = services.lot_publish(lot=lot, actor=parties.tenderee, title="招标公告", body="欢迎投标", now=ISSUED)
    return lot, response.json()


def _share_url(lot):
    return f"/api/lots/{lot.pk}/rescue-key/shares/"


@pytest.mark.django_db
def test_k_shares_open_the_bid_of_a_bidder_who_lost_its_key(parties, officers, tmp_path):
    lot, created = _rescue_lot(parties, officers)
    shares = {s["officer"]: s["share"] for s in created["shares"]}
    assert sorted(shares) == sorted(o.pk for o in officers)
    assert (created["threshold"], created["officers"]) == (2, 3)
    # The server keeps no share, in no row.
    for model in apps.get_models():
        for row in model.objects.all().values():
            for share in shares.values():
                assert share.split("-")[1] not in repr(row), model.__name__
    # Published with the lot: a bidder fetches the public key and seals to it.
    published = client(parties.bidders[0]).get(f"/api/lots/{lot.pk}/rescue-key/").json()
    assert published == {k: created[k] for k in ("kid", "public_key", "threshold", "officers", "created_at")}
    assert envelope.key_id(published["public_key"].encode()) == published["kid"]
    rescue_pem = published["public_key"].encode()
    opened = open_lot(
        parties, tmp_path, count=3, lot=lot, seal_kw={f"bidder{i}": {"rescue_public_key": rescue_pem} for i in (1, 2, 3)}
    )
    lost = opened.kits[0]  # its private key is gone
    bid = opened.bid(lost)
    url = f"/api/bids/{bid.pk}/rescue-decrypt/"
    with time_machine.travel(opened.open_at, tick=False):
        # One share (k-1) opens nothing.
        response = client(officers[0]).post(_share_url(lot), {"share": shares[officers[0].pk]}, format="json")
        assert (response.status_code, response.json()) == (200, {"submitted": 1, "threshold": 2, "ready": False})
        before = state()
        response = client(parties.staff).post(url)
        assert (response.status_code, response.json()["code"]) == (409, "rescue_not_ready")
        assert state() == before
        # A wrong share, a share of someone else, a share again: refused, nothing changes.
        for officer, share, expected in [
            (officers[2], shares[officers[0].pk], (400, "wrong_share")),
            (officers[2], "7-00ff", (400, "wrong_share")),
            (officers[2], "not a share", (400, "invalid_share")),
            (officers[0], shares[officers[0].pk], (409, "share_submitted")),
        ]:
            response = client(officer).post(_share_url(lot), {"share": share}, format="json")
            assert (response.status_code, response.json()["code"]) == expected, share
        assert state() == before
        # The k-th share rebuilds the key; staff open the bid through its rescue recipient.
        response = client(officers[1]).post(_share_url(lot), {"share": shares[officers[1].pk]}, format="json")
        assert response.json() == {"submitted": 2, "threshold": 2, "ready": True}
        response = client(parties.staff).post(url)
        assert response.status_code == 200, response.json()
        assert (response.json()["status"], response.json()["decrypted_via"]) == ("decrypted", "rescue")
        # The other bidders still use their own keys.
        sign_in(opened, *opened.kits[1:])
        for kit in opened.kits[1:]:
            assert decrypt(opened, kit).status_code == 200
    bid.refresh_from_db()
    assert stored(bid.plaintext_key) == opened.plain[lost.user.username]
    event = AuditEvent.objects.get(action="bid.decrypted", object_id=str(bid.pk))
    assert (event.actor_id, event.after["via"]) == (parties.staff.pk, "rescue")
    # Decryption closes: the rebuilt key and the shares are destroyed.
    deadline = opened.opening.decryption_deadline
    with time_machine.travel(deadline, tick=False):
        services.sweep_deadlines()
    key = RescueKey.objects.get(lot=lot)
    assert (key.private_sealed, key.destroyed_at) == (None, deadline)
    assert list(RescueShare.objects.filter(rescue_key=key).values_list("sealed", flat=True)) == [None, None, None]
    assert AuditEvent.objects.get(action="opening.decryption_closed").after["rescue_key_destroyed"] is True
    assert opened.opening.record[0]["note"] == "经补救密钥解密"
    with time_machine.travel(deadline + timedelta(minutes=1), tick=False):
        before = state()
        response = client(officers[2]).post(_share_url(lot), {"share": shares[officers[2].pk]}, format="json")
        assert (response.status_code, response.json()["code"]) == (409, "decryption_closed")
        assert state() == before


@pytest.mark.django_db
def test_shares_before_the_deadline_are_refused(parties, officers, tmp_path):
    lot, created = _rescue_lot(parties, officers)
    share = created["shares"][0]["share"]
    for moment in (DURING, lot.bid_deadline - timedelta(microseconds=1)):
        with time_machine.travel(moment, tick=False):
            before = state()
            response = client(officers[0]).post(_share_url(lot), {"share": share}, format="json")
            assert (response.status_code, response.json()["code"]) == (409, "too_early")
            assert state() == before


@pytest.mark.django_db
def test_a_bid_not_sealed_to_the_rescue_key_is_not_opened_by_it(parties, officers, tmp_path):
    lot, created = _rescue_lot(parties, officers)
    opened = open_lot(parties, tmp_path, count=3, lot=lot)  # nobody sealed with --rescue
    with time_machine.travel(opened.open_at, tick=False):
        for item in created["shares"][:2]:
            officer = next(o for o in officers if o.pk == item["officer"])
            assert client(officer).post(_share_url(lot), {"share": item["share"]}, format="json").status_code == 200
        before = state()
        response = client(parties.staff).post(f"/api/bids/{opened.bid(opened.kits[0]).pk}/rescue-decrypt/")
        assert (response.status_code, response.json()["code"]) == (409, "no_rescue_recipient")
        assert state() == before


@pytest.mark.django_db
def test_creating_a_rescue_key_is_for_staff_before_the_documents_are_issued(parties, officers):
    lot = factories.lot(parties, stage="registered", issued=ISSUED)
    url = f"/api/lots/{lot.pk}/rescue-key/"
    ids = [o.pk for o in officers]
    before = state()
    for user, body, expected in [
        (parties.tenderee, {"officers": ids, "threshold": 2}, (403, "role_not_allowed")),
        (parties.supervisor, {"officers": ids, "threshold": 2}, (403, "role_not_allowed")),
        (parties.staff, {"officers": [*ids[:2], parties.bidders[0].pk], "threshold": 2}, (400, "invalid_officers")),
        (parties.staff, {"officers": [ids[0], ids[0]], "threshold": 2}, (400, "invalid_officers")),
        (parties.staff, {"officers": ids, "threshold": 1}, (400, "invalid_threshold")),
        (parties.staff, {"officers": ids, "threshold": 4}, (400, "invalid_threshold")),
    ]:
        response = client(user).post(url, body, format="json")
        assert (response.status_code, response.json()["code"]) == expected, body
    assert state() == before
    response = client(parties.staff).post(url, {"officers": ids, "threshold": 3}, format="json")
    assert response.status_code == 201
    shares = [shamir.decode_share(s["share"]) for s in response.json()["shares"]]
    rebuilt = envelope.private_key_from_scalar(shamir.combine(shares))
    assert envelope.key_id(envelope.public_key_der(rebuilt.public_key())) == response.json()["kid"]
    event = AuditEvent.objects.get(action="rescue_key.created")
    assert event.after == {"kid": response.json()["kid"], "threshold": 3, "officers": ids}
    published = factories.lot(parties, stage="published", issued=ISSUED)
    before = state()
    response = client(parties.staff).post(url, {"officers": ids, "threshold": 2}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "rescue_key_exists")
    response = client(parties.staff).post(
        f"/api/lots/{published.pk}/rescue-key/", {"officers": ids, "threshold": 2}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (409, "rescue_key_too_late")
    assert state() == before
