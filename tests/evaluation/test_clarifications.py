"""条例52: the chair asks a bidder in writing with a time limit; the bidder's users see only the questions to their own
bid, never who asked, and answer once before the limit; the session waits while a question is open and not yet due
(docs/evaluation.md, "Clarifications")."""

from datetime import timedelta

import pytest
import time_machine

from audit.models import AuditEvent
from evaluation import clarifications as cl
from evaluation import session as ev
from evaluation.models import Clarification
from realtime.models import RoomEvent
from tests.bidding.opening_kit import client
from tests.evaluation.room import advance, at, refused, review, to_chair, to_qualification
from trading.models import Role, User

API = "/api/clarifications/"


def bidder_user(bid):
    return User.objects.filter(organisation_id=bid.bidder_id, role=Role.BIDDER).first()


def ask(room, letter, minutes, *, actor=None, minute=7, question="请说明项目经理的社保缴纳情况"):
    return cl.clarification_ask(
        session=room.session,
        actor=actor or room.user(0),
        bid_id=room.bids[letter].pk,
        question=question,
        minutes=minutes,
        now=at(minute),
    )


def rows():
    return list(Clarification.objects.order_by("pk").values())


@pytest.mark.django_db
def test_the_chair_asks_within_bounds_in_the_review_to_price_phases(room):
    to_chair(room)
    refused("invalid_phase", ask, room, "A", 30, minute=5, actor=room.user(0))  # no chair yet, and not a review phase
    for m in room.members:
        ev.chair_vote(session=room.session, actor=m.expert.user, candidate_id=room.members[0].pk, now=at(5))
    advance(room, 6)
    before = (rows(), AuditEvent.objects.count(), RoomEvent.objects.count())
    assert refused("chair_only", ask, room, "A", 30, actor=room.user(1)).status_code == 403
    for minutes in (9, 1441):
        assert refused("invalid_time_limit", ask, room, "A", minutes).status_code == 400
    refused("invalid_question", ask, room, "A", 30, question="  ")
    assert refused("read_only", ask, room, "A", 30, actor=room.parties.staff).status_code == 403
    assert (rows(), AuditEvent.objects.count(), RoomEvent.objects.count()) == before
    q = ask(room, "A", 10)
    assert (q.phase, q.asked_by_id, q.asked_at, q.due_at) == ("qualification", room.members[0].pk, at(7), at(17))
    assert ask(room, "B", 1440).due_at == at(7) + timedelta(days=1)


@pytest.mark.django_db
def test_the_bidder_answers_once_before_the_limit_and_the_session_waits_until_then(parties, room):
    to_qualification(room)
    q_a = ask(room, "A", 30)  # due at(37)
    q_c = ask(room, "C", 10)  # due at(17)
    review(room, "qualification", 7)
    before = rows()
    refused("clarification_pending", advance, room, 8)
    user_a, user_b, user_c = (bidder_user(room.bids[k]) for k in "ABC")

    # Who sees what.
    seen = client(user_a).get(API).json()["results"]
    assert seen == [
        {
            "id": q_a.pk,
            "lot": room.lot.pk,
            "bid": str(room.bids["A"].pk),
            "question": "请说明项目经理的社保缴纳情况",
            "asked_at": seen[0]["asked_at"],
            "due_at": seen[0]["due_at"],
            "answer": "",
            "answered_at": None,
        }
    ]
    assert client(user_b).get(API).json()["results"] == []
    for outsider in (parties.tenderee, parties.agency, room.backup):
        assert client(outsider).get(API).json()["results"] == []
        assert client(outsider).get(f"{API}{q_a.pk}/").status_code == 404
    for insider in (room.user(3), parties.staff, parties.supervisor):
        listed = client(insider).get(API, {"lot": room.lot.pk}).json()["results"]
        assert [(r["id"], r["asked_by"]) for r in listed] == [(q_a.pk, room.members[0].pk), (q_c.pk, room.members[0].pk)]

    # Another bidder cannot answer; the limit is exclusive; an answer goes in once.
    with time_machine.travel(at(17), tick=False):
        response = client(user_b).post(f"{API}{q_a.pk}/answer/", {"answer": "x"}, format="json")
        assert response.status_code == 404
        response = client(user_c).post(f"{API}{q_c.pk}/answer/", {"answer": "已按时缴纳"}, format="json")
        assert (response.status_code, response.json()["code"]) == (409, "clarification_late")
        assert response.json()["message"] == {"zh-hans": "已超过答复截止时间", "en": "The time limit for the answer has passed"}
    assert rows() == before
    refused("clarification_pending", advance, room, 36)  # q_c is due (unanswered), q_a is not
    with time_machine.travel(at(37) - timedelta(seconds=1), tick=False):
        response = client(user_a).post(
            f"{API}{q_a.pk}/answer/", {"answer": "项目经理社保由本单位缴纳，见投标文件第12页"}, format="json"
        )
        assert response.status_code == 200, response.json()
        assert "asked_by" not in response.json()
        again = client(user_a).post(f"{API}{q_a.pk}/answer/", {"answer": "补充"}, format="json")
        assert (again.status_code, again.json()["code"]) == (409, "clarification_answered")
    q_a.refresh_from_db()
    assert (q_a.answer, q_a.answered_at, q_a.answered_by_id) == (
        "项目经理社保由本单位缴纳，见投标文件第12页",
        at(37) - timedelta(seconds=1),
        user_a.pk,
    )
    assert advance(room, 37).phase == "compliance"

    # Audited, and the room (committee and watchers) is told.
    assert AuditEvent.objects.filter(action="evaluation.clarification_requested").count() == 2
    answered = AuditEvent.objects.get(action="evaluation.clarification_answered")
    assert (answered.actor_id, answered.after["clarification"]) == (user_a.pk, q_a.pk)
    kinds = list(
        RoomEvent.objects.filter(kind__startswith="clarification").order_by("seq").values_list("kind", "payload__clarification")
    )
    assert kinds == [
        ("clarification_requested", q_a.pk),
        ("clarification_requested", q_c.pk),
        ("clarification_answered", q_a.pk),
    ]


@pytest.mark.django_db
def test_a_member_and_a_bidder_cannot_act_out_of_turn(room):
    to_qualification(room)
    q = ask(room, "A", 30)
    user_a = bidder_user(room.bids["A"])
    # A member cannot answer; the bidder cannot ask; an empty answer is refused.
    refused("not_found", cl.clarification_answer, clarification=q, actor=room.user(0), answer="x", now=at(8))
    refused("not_found", ask, room, "A", 30, actor=user_a)
    refused("invalid_answer", cl.clarification_answer, clarification=q, actor=user_a, answer=" ", now=at(8))
    response = client(user_a).post(f"/api/lots/{room.lot.pk}/evaluation-session/clarifications/", {}, format="json")
    assert response.status_code == 404
    # Through the API the chair asks (201), with the limit checked by the serializer too.
    path = f"/api/lots/{room.lot.pk}/evaluation-session/clarifications/"
    with time_machine.travel(at(9), tick=False):
        body = {"bid": str(room.bids["C"].pk), "question": "请澄清工期", "minutes": 5}
        assert client(room.user(0)).post(path, body, format="json").status_code == 400
        response = client(room.user(0)).post(path, {**body, "minutes": 20}, format="json")
    assert response.status_code == 201, response.json()
    assert (response.json()["asked_by"], response.json()["phase"]) == (room.members[0].pk, "qualification")
