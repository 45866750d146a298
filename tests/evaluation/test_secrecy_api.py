"""Secrecy of the committee (法37) from every role, and the draw through the HTTP API."""

from datetime import timedelta

import pytest
import time_machine

from evaluation.models import DrawnExpert
from tests.evaluation import kit
from trading.models import Lot, LotStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def drawn(parties, lot, tree, client_for):
    """A lot whose committee is drawn through the API: (request id, the members' rows, the pool)."""
    pool = kit.experts(8, "A0801")
    main, secondary = kit.venues()
    staff = client_for(parties.staff)
    with time_machine.travel(kit.NOW, tick=False):
        response = staff.post(
            "/api/draw-requests/",
            {
                "lot": lot.pk,
                "lines": [{"specialty_code": "A08", "count": 5}],
                "venues": [{"venue": main.pk, "seats": 3}, {"venue": secondary.pk, "seats": 2}],
                "window_start": kit.WINDOW[0].isoformat(),
                "window_end": kit.WINDOW[1].isoformat(),
                "backups_per_line": 2,
            },
            format="json",
        )
        assert response.status_code == 201, response.json()
        request_id = response.json()["id"]
        response = staff.post(f"/api/draw-requests/{request_id}/run/")
        assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "drawn" and len(body["draw"]["commitment"]) == 64 and body["draw"]["seed"] is None
    members = list(DrawnExpert.objects.filter(draw_id=request_id).select_related("expert").order_by("position"))
    return request_id, members, pool


def _get(client, path):
    response = client.get(path)
    return response.status_code, (response.json() if response.content else None), response.content.decode()


def test_secrecy_from_every_role(parties, drawn, client_for):
    request_id, members, pool = drawn
    names = [e.name for e in pool]
    invited = members[0]
    for award_state in (None, LotStatus.AWARDED):
        if award_state:
            Lot.objects.filter(pk=invited.draw.request.lot_id).update(status=award_state)
        for label, user in parties.every_role():
            client = client_for(user)
            paths = [
                "/api/committee-members/",
                f"/api/committee-members/{invited.pk}/",
                "/api/draw-requests/",
                f"/api/draw-requests/{request_id}/",
                f"/api/draw-requests/{request_id}/members/",
            ]
            answers = {path: _get(client, path) for path in paths}
            if user is None:
                assert {code for code, _, _ in answers.values()} == {401}, label
                continue
            if label in ("staff", "supervisor", "admin"):
                assert answers["/api/committee-members/"][1]["count"] == 7
                assert answers[f"/api/committee-members/{invited.pk}/"][1]["expert_name"] == invited.expert.name
                assert len(answers[f"/api/draw-requests/{request_id}/members/"][1]) == 7
                continue
            # Bidders, tenderee, agency, another tenderee, an expert not drawn: nothing, not even that a draw exists.
            assert answers["/api/committee-members/"][1]["count"] == 0, label
            assert answers["/api/draw-requests/"][1]["count"] == 0, label
            for path in (paths[1], paths[3], paths[4]):
                assert answers[path][0] == 404, (label, path)
            for _, _, text in answers.values():
                assert not any(name in text for name in names), label


def test_an_expert_sees_only_their_own_invitation(parties, drawn, client_for):
    request_id, members, _ = drawn
    invited, other = members[0], members[1]
    backup = next(m for m in members if m.status == "backup")
    client = client_for(invited.expert.user)
    listing = client.get("/api/committee-members/").json()
    assert listing["count"] == 1
    mine = listing["results"][0]
    assert set(mine) == {
        "id",
        "status",
        "venue",
        "venue_name",
        "seat",
        "window_start",
        "window_end",
        "invited_at",
        "respond_by",
        "responded_at",
    }
    assert (mine["id"], mine["status"], mine["seat"]) == (invited.pk, "invited", invited.seat)
    text = client.get("/api/committee-members/").content.decode()
    assert other.expert.name not in text and invited.expert.name not in text and invited.draw.request.lot.name not in text
    assert client.get(f"/api/committee-members/{other.pk}/").status_code == 404
    assert client.get(f"/api/draw-requests/{request_id}/").status_code == 404
    assert client.get(f"/api/draw-requests/{request_id}/members/").status_code == 404
    # A backup has not been told anything and sees nothing.
    assert client_for(backup.expert.user).get("/api/committee-members/").json()["count"] == 0
    # Answering someone else's invitation: not found.
    assert client.post(f"/api/committee-members/{other.pk}/confirm/", {}, format="json").status_code == 404


def test_experts_answer_through_the_api_and_the_committee_is_fixed(parties, drawn, client_for):
    request_id, members, _ = drawn
    invited = [m for m in members if m.status == "invited"]
    with time_machine.travel(kit.NOW + timedelta(minutes=3), tick=False):
        response = client_for(invited[0].expert.user).post(
            f"/api/committee-members/{invited[0].pk}/decline/", {"reason": "出差"}, format="json"
        )
        assert response.status_code == 200 and response.json()["status"] == "declined"
        response = client_for(invited[1].expert.user).post(f"/api/committee-members/{invited[1].pk}/decline/", {}, format="json")
        assert response.status_code == 400
        replacement = DrawnExpert.objects.get(draw_id=request_id, position=5)
        assert replacement.status == "invited"
        for member in [*invited[1:], replacement]:
            response = client_for(member.expert.user).post(f"/api/committee-members/{member.pk}/confirm/", {}, format="json")
            assert response.status_code == 200, response.json()
    detail = client_for(parties.supervisor).get(f"/api/draw-requests/{request_id}/").json()
    assert detail["status"] == "fixed"
    assert detail["draw"]["seed"] is not None and detail["draw"]["revealed_at"] is not None


def test_impossible_request_through_the_api(parties, lot, tree, client_for):
    kit.experts(3, "A0801")
    request = kit.request(parties, lot)
    with time_machine.travel(kit.NOW, tick=False):
        response = client_for(parties.staff).post(f"/api/draw-requests/{request.pk}/run/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "too_few_eligible_experts"
    assert body["shortfall"] == [{"specialty": "A08", "needed": 7, "eligible": 3, "missing": 4}]
    assert body["detail"] == "Too few eligible experts to draw (条例46): A08: 7 needed, 3 eligible"


def test_only_staff_create_and_run(parties, lot, tree, client_for):
    request = kit.request(parties, lot)
    for user in (parties.supervisor, parties.tenderee, parties.bidders[0], parties.expert):
        response = client_for(user).post(f"/api/draw-requests/{request.pk}/run/")
        assert response.status_code in (403, 404), user.role
    main, secondary = kit.venues()
    body = {
        "lot": lot.pk,
        "lines": [{"specialty_code": "A08", "count": 5}],
        "venues": [{"venue": main.pk, "seats": 3}, {"venue": secondary.pk, "seats": 2}],
        "window_start": kit.WINDOW[0].isoformat(),
        "window_end": kit.WINDOW[1].isoformat(),
    }
    for user in (parties.supervisor, parties.tenderee, parties.agency, parties.bidders[0], parties.expert):
        response = client_for(user).post("/api/draw-requests/", body, format="json")
        assert response.status_code in (403, 404), user.role
        assert response.json()["code"] in ("role_not_allowed", "not_found")
