"""Award and result letters: issued once the lot is awarded, PDFs in Chinese with a verification code, checkable by
anyone on the public page; the result notice names the committee. A refused or failed issue leaves nothing."""

import io
from datetime import timedelta

import pytest
import time_machine
from django.test import override_settings
from pypdf import PdfReader

from notices.models import Letter, Notice
from tests.bidding.opening_kit import client, stored
from tests.evaluation import kit
from tests.trading.publicity_kit import evaluation_done
from trading import services
from trading.models import LotStatus


def _text(document: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(document)).pages)


@pytest.fixture
def awarded(parties, tmp_path, db):
    kit.specialties()
    opened, members, _ = kit.evaluating_lot(parties, tmp_path)
    lot = opened.lot
    evaluation_done(parties, lot, at=kit.NOW + timedelta(hours=20))
    with time_machine.travel(kit.NOW + timedelta(days=1), tick=False):
        services.lot_start_publicity(lot=lot, actor=parties.staff)
    lot.refresh_from_db()
    with time_machine.travel(lot.publicity_end + timedelta(minutes=1), tick=False):
        services.sweep_deadlines()
    lot.refresh_from_db()
    assert lot.status == LotStatus.AWARDED
    return opened, members


def _issue(parties, opened, winner_kit):
    bid = opened.bid(winner_kit)
    return client(parties.staff).post(
        # Every bid is a candidate (publicity_kit.ranking_of); naming one other than the first needs a reason (条例55).
        f"/api/lots/{opened.lot.pk}/award-letters/",
        {"winner_bid": str(bid.pk), "reason": "第一中标候选人放弃中标"},
        format="json",
    )


@pytest.mark.django_db
def test_letters_are_issued_to_every_bidder_and_verify_publicly(parties, awarded):
    opened, members = awarded
    winner = opened.kits[1]
    response = _issue(parties, opened, winner)
    assert response.status_code == 201, response.json()
    letters = {row["recipient_name"]: row for row in response.json()}
    assert sorted(letters) == sorted(k.user.organisation.name for k in opened.kits)
    assert [row["kind"] for row in letters.values()].count("award") == 1
    award = letters[winner.user.organisation.name]
    assert award["kind"] == "award"

    document = stored(Letter.objects.get(pk=award["id"]).object_key)
    text = _text(document)
    assert b"/FontFile2" in document  # the Chinese font is embedded
    assert "中标通知书" in text and winner.user.organisation.name in text and award["code"] in text
    assert opened.bid(winner).opening_summary["price"] in text
    other = next(k for k in opened.kits if k is not winner)
    result = letters[other.user.organisation.name]
    result_text = _text(stored(Letter.objects.get(pk=result["id"]).object_key))
    assert "中标结果通知书" in result_text and winner.user.organisation.name in result_text

    anonymous = client(None)
    page = anonymous.get(f"/api/letters/verify/{award['code']}/")
    assert page.status_code == 200 and page.json()["sha256"] == award["sha256"]
    check = anonymous.post(f"/api/letters/verify/{award['code']}/", document, content_type="application/pdf")
    assert check.json()["match"] is True
    forged = anonymous.post(f"/api/letters/verify/{award['code']}/", document + b"%", content_type="application/pdf")
    assert forged.json()["match"] is False
    assert anonymous.get("/api/letters/verify/AAAA-BBBB-CCCC-DDDD/").status_code == 404

    notice = Notice.objects.get(lot=opened.lot, kind="result")
    names = [user.expert.name for user in members]
    assert all(name in notice.body for name in names)  # the committee is public with the result


@pytest.mark.django_db
def test_who_gets_which_letter(parties, awarded):
    opened, _ = awarded
    winner, loser = opened.kits[0], opened.kits[2]
    assert _issue(parties, opened, winner).status_code == 201
    mine = client(loser.user).get("/api/letters/").json()
    assert [row["recipient_name"] for row in mine] == [loser.user.organisation.name]
    theirs = Letter.objects.get(lot=opened.lot, recipient=winner.user.organisation)
    assert client(loser.user).get(f"/api/letters/{theirs.pk}/file/").status_code == 404
    download = client(winner.user).get(f"/api/letters/{theirs.pk}/file/")
    assert download.status_code == 200 and download["X-Content-SHA256"] == theirs.sha256
    assert len(client(parties.tenderee).get("/api/letters/").json()) == 3
    assert len(client(parties.supervisor).get("/api/letters/").json()) == 3
    assert client(parties.other_tenderee).get("/api/letters/").json() == []


@pytest.mark.django_db
def test_refusals_change_nothing(parties, awarded, tmp_path):
    opened, _ = awarded
    winner = opened.kits[0]
    bid = opened.bid(winner)
    path = f"/api/lots/{opened.lot.pk}/award-letters/"
    assert client(parties.tenderee).post(path, {"winner_bid": str(bid.pk)}, format="json").status_code == 403
    response = client(parties.staff).post(path, {"winner_bid": "00000000-0000-0000-0000-000000000000"}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "invalid_winner")
    with override_settings(S3_ENDPOINT="127.0.0.1:1"):
        response = _issue(parties, opened, winner)
    assert (response.status_code, response.json()["code"]) == (503, "store_unavailable")
    assert not Letter.objects.exists() and not Notice.objects.filter(kind="result").exists()
    assert _issue(parties, opened, winner).status_code == 201
    response = _issue(parties, opened, winner)
    assert (response.status_code, response.json()["code"]) == (409, "letters_issued")
    assert Letter.objects.count() == 3


@pytest.mark.django_db
def test_no_letters_before_the_award(parties, tmp_path):
    kit.specialties()
    opened, _, _ = kit.evaluating_lot(parties, tmp_path)
    response = _issue(parties, opened, opened.kits[0])
    assert (response.status_code, response.json()["code"]) == (409, "not_awarded")
    assert not Letter.objects.exists()
