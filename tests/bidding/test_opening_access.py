"""Every role is refused others' bids and the opening of lots it takes no part in; refusals change nothing."""

import base64

import pytest
import time_machine

from tests.bidding.opening_kit import client, open_lot, state

# Who takes part in the opening of a lot with bids from bidder1..3: watchers, the project's tenderee, those bidders.
PARTIES = {"staff", "supervisor", "admin", "tenderee", "bidder1", "bidder2", "bidder3"}
STAFF = {"staff", "admin"}


@pytest.mark.django_db
def test_every_role_sees_and_does_only_what_it_may(parties, tmp_path):
    opened = open_lot(parties, tmp_path, count=3)
    lot, one = opened.lot, opened.kits[0]
    bid = opened.bid(one)
    key = base64.b64encode(opened.data_key(one)).decode()
    with time_machine.travel(opened.open_at, tick=False):
        before = state()
        for label, user in parties.every_role():
            api = client(user)
            anonymous = user is None

            def check(response, allowed: set[int], label=label, anonymous=anonymous):
                expected = {401} if anonymous else allowed
                assert response.status_code in expected, (label, response.request["PATH_INFO"], response.status_code)

            # The opening itself: parties see it, anyone else is told there is none.
            response = api.get(f"/api/lots/{lot.pk}/opening/")
            if label in PARTIES:
                assert response.status_code == 200, label
                view = response.json()
                if label.startswith("bidder"):
                    assert [b["bidder"] for b in view["bids"]] == [user.organisation.name]  # its own bid only
                    assert "sign_ins" not in view
                elif label == "tenderee":
                    assert "bids" not in view and "sign_ins" not in view
                else:
                    assert len(view["bids"]) == 3
            else:
                check(response, {404})
                if not anonymous:
                    assert response.json()["code"] == "not_found"
            check(api.get(f"/api/lots/{lot.pk}/opening/record.pdf"), {404})
            # Someone else's bid: it does not exist for them (the bidder itself is not signed in yet).
            if user != one.user:
                check(api.post(f"/api/bids/{bid.pk}/decrypt/", {"data_key": key}, format="json"), {404})
                check(api.post(f"/api/bids/{bid.pk}/rescue-decrypt/"), {404})
            else:
                check(api.post(f"/api/bids/{bid.pk}/rescue-decrypt/"), {403})
            # Staff actions.
            for path in ("extend", "close-decryption", "publish-record"):
                response = api.post(f"/api/lots/{lot.pk}/opening/{path}/", {"until": "2026-11-23T12:00:00+08:00", "reasons": "x"})
                if label in STAFF:
                    assert response.status_code in (200, 400, 409), (label, path)  # only the first extension succeeds
                else:
                    check(response, {403, 404})
            # Bidder actions.
            if label not in {"bidder1", "bidder2", "bidder3"}:
                check(api.post(f"/api/lots/{lot.pk}/opening/sign-in/"), {403, 404})
                check(api.post(f"/api/lots/{lot.pk}/opening/respond/", {"confirm": True}, format="json"), {403, 404})
            if label not in STAFF:
                check(api.post(f"/api/lots/{lot.pk}/rescue-key/shares/", {"share": "1-00"}, format="json"), {403, 404})
                check(
                    api.post(f"/api/lots/{lot.pk}/rescue-key/", {"officers": [1, 2], "threshold": 2}, format="json"), {403, 404}
                )
        after = state()
    # Staff extended the window (the only action that could succeed here); nothing else changed.
    assert {k: v for k, v in after.items() if k not in ("openings", "audit")} == {
        k: v for k, v in before.items() if k not in ("openings", "audit")
    }
    [extended] = after["openings"]
    assert [e["reasons"] for e in extended["extensions"]] == ["x"]
    assert after["audit"] == before["audit"] + 1


@pytest.mark.django_db
def test_a_bidder_of_another_lot_cannot_sign_in_or_decrypt_here(parties, tmp_path):
    opened = open_lot(parties, tmp_path, count=3)
    outsider = parties.bidders[3]
    with time_machine.travel(opened.open_at, tick=False):
        before = state()
        response = client(outsider).post(f"/api/lots/{opened.lot.pk}/opening/sign-in/")
        assert (response.status_code, response.json()["code"]) == (403, "not_a_bidder")
        response = client(outsider).post(f"/api/lots/{opened.lot.pk}/opening/respond/", {"confirm": True}, format="json")
        assert (response.status_code, response.json()["code"]) == (403, "not_a_bidder")
        assert state() == before
