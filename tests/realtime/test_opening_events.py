"""The opening hall's events, published by bidding/services/opening.py along a real opening (tests/bidding/opening_kit):
which events, in which order, to whom, and that no party is shown more than the opening's API shows it.

Stored events are asserted (RoomEvent rows; the sending after commit is tests/realtime/test_rooms.py's business)."""

import json
from datetime import timedelta

import time_machine
from django.utils import timezone

from bidding.models import Bid, OpeningResponse
from bidding.services import opening as opening_services
from realtime import rooms
from realtime.models import RoomEvent
from tests.bidding.opening_kit import client, decrypt, open_lot, sign_in
from trading.objectstore import get_store

COUNTS = ("bids", "signed_in", "sealed", "decrypted", "revoked", "withdrawn")


def _events(lot) -> list[RoomEvent]:
    return list(RoomEvent.objects.filter(room=rooms.opening_room(lot.pk)).order_by("seq"))


def _seen(events, user, *, watcher=False, tenderee=False) -> list[RoomEvent]:
    return [
        e for e in events if rooms.visible(e.audience, e.audience_user_id, user_id=user.pk, watcher=watcher, tenderee=tenderee)
    ]


def _counts(**values) -> dict:
    return {name: values.get(name, 0) for name in COUNTS}


def test_a_whole_opening_publishes_each_step_to_its_audience(parties, tmp_path):
    opened = open_lot(parties, tmp_path, count=3)
    lot, (one, two, three) = opened.lot, opened.kits
    names = {kit: kit.user.organisation.name for kit in opened.kits}
    deadline = opened.opening.decryption_deadline
    keys = {kit: opened.data_key(kit) for kit in (one,)}

    with time_machine.travel(opened.open_at, tick=False):
        sign_in(opened)
        assert decrypt(opened, one).status_code == 200
        get_store().delete(opened.bid(two).object_key)  # the platform lost bidder 2's bid: withdrawn, not its fault
        assert decrypt(opened, two).status_code == 422
        response = client(parties.staff).post(
            f"/api/lots/{lot.pk}/opening/extend/",
            {"until": (deadline + timedelta(minutes=10)).isoformat(), "reasons": "平台故障"},
            format="json",
        )
        assert response.status_code == 200, response.json()
    with time_machine.travel(deadline + timedelta(minutes=11), tick=False):
        assert client(parties.staff).post(f"/api/lots/{lot.pk}/opening/close-decryption/").status_code == 200
        assert client(parties.staff).post(f"/api/lots/{lot.pk}/opening/publish-record/").status_code == 200
        assert client(one.user).post(f"/api/lots/{lot.pk}/opening/respond/", {"confirm": True}, format="json").status_code == 201
        objection = {"objection": "我单位报价宣读有误"}
        assert client(two.user).post(f"/api/lots/{lot.pk}/opening/respond/", objection, format="json").status_code == 201
        answered = OpeningResponse.objects.get(bidder=two.user.organisation)
        opening_services.opening_answer_objection(response=answered, actor=parties.staff, answer="已核对，报价以开标记录为准")

    events = _events(lot)
    everyone, watchers, staff_side, member = "everyone", "watchers", "staff_side", "member"
    assert [(e.kind, e.audience) for e in events] == [
        ("opening_started", everyone),
        *[("bidder_signed_in", watchers), ("counts", everyone)] * 3,
        ("bid_decided", member),
        ("counts", everyone),
        ("bid_decided", member),
        ("counts", everyone),
        ("decryption_extended", everyone),
        ("bid_decided", watchers),  # bidder 3 handed in no key: revoked at the close
        ("counts", everyone),
        ("decryption_closed", everyone),
        ("record_published", everyone),
        ("opening_response", staff_side),
        ("opening_response", staff_side),
        ("objection_answered", staff_side),
    ]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    by_kind = lambda kind: [e.payload for e in events if e.kind == kind]  # noqa: E731

    started = by_kind("opening_started")[0]
    assert {k: started[k] for k in COUNTS} == _counts(bids=3, sealed=3)
    assert started["record"] is None and started["decryption_closed_at"] is None
    assert [p["bidder"] for p in by_kind("bidder_signed_in")] == [names[one], names[two], names[three]]
    assert by_kind("counts") == [
        _counts(bids=3, sealed=3, signed_in=1),
        _counts(bids=3, sealed=3, signed_in=2),
        _counts(bids=3, sealed=3, signed_in=3),
        _counts(bids=3, sealed=2, signed_in=3, decrypted=1),
        _counts(bids=3, sealed=1, signed_in=3, decrypted=1, withdrawn=1),
        _counts(bids=3, signed_in=3, decrypted=1, withdrawn=1, revoked=1),
    ]
    decided = [
        (e.payload["bidder"], e.payload["status"], e.payload["via"], e.payload["fault"], e.audience_user_id)
        for e in events
        if e.kind == "bid_decided"
    ]
    assert decided == [
        (names[one], "decrypted", "bidder", None, one.user.pk),
        (names[two], "withdrawn", "bidder", "platform", two.user.pk),
        (names[three], "revoked", "close", "bidder", None),
    ]
    assert by_kind("decryption_extended")[0]["reasons"] == "平台故障"
    closed = by_kind("decryption_closed")[0]
    assert closed["decryption_closed_at"] is not None and closed["record"] is None
    record = by_kind("record_published")[0]
    opening = opened.opening
    assert record == {
        "published_at": timezone.localtime(opening.record_published_at).isoformat(),
        "sha256": opening.record_sha256,
        "path": f"/api/lots/{lot.pk}/opening/record.pdf",
    }
    assert [(p["bidder"], p["kind"], p["objection"]) for p in by_kind("opening_response")] == [
        (names[one], "confirm", ""),
        (names[two], "objection", "我单位报价宣读有误"),
    ]
    assert by_kind("objection_answered")[0]["answer"] == "已核对，报价以开标记录为准"

    # No key material and no file content anywhere in the hall.
    text = json.dumps([e.payload for e in events], ensure_ascii=False)
    for key in keys.values():
        assert key.hex() not in text and key.hex().upper() not in text
    assert not any("key" in name for e in events for name in e.payload)

    # A bidder sees the counts, the window, the record and its own outcome: never who another bidder is, another's
    # outcome, or anyone's confirmation or objection (opening_view shows a bidder its own response only).
    for kit in (one, two, three):
        seen = _seen(events, kit.user)
        shown = json.dumps([e.payload for e in seen], ensure_ascii=False)
        assert {e.kind for e in seen} == {
            "opening_started",
            "counts",
            "decryption_extended",
            "decryption_closed",
            "record_published",
        } | ({"bid_decided"} if kit is not three else set())
        for other in opened.kits:
            assert (names[other] in shown) == (other is kit and kit is not three)
        assert "我单位报价宣读有误" not in shown
    # The tenderee side: the counts, the window, the record, the responses; not the sign-ins or bids by name.
    tenderee = _seen(events, parties.tenderee, tenderee=True)
    assert [e.kind for e in tenderee if e.audience != everyone] == ["opening_response", "opening_response", "objection_answered"]
    # Staff and supervisors: everything.
    assert _seen(events, parties.supervisor, watcher=True) == events
    assert Bid.objects.filter(opening=opening, status="decrypted").count() == 1
