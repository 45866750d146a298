"""The evaluation session: five members in two venues from sign-in to the ranking, the refusals, majorities with
dissent, dispersion alerts, the extension vote, a replacement, and who may see and do what.

The lot comes from test_opened_bids.evaluating (three decrypted bids, a published opening record, a fixed committee
of five: three seats at the main venue, two at the secondary, lot evaluating). Prices are set on the opened bids'
summaries so that the hand-checked tables hold (tests/evaluation/room.py) (docs/evaluation.md, "The evaluation session").
"""

import threading
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection, connections

from audit.models import AuditEvent
from evaluation import services as draws
from evaluation import session as ev
from evaluation.models import (
    Criterion,
    DispersionFlag,
    DrawnExpert,
    DrawRequest,
    EvaluationMethod,
    ExtensionProposal,
    Mark,
    MemberStatus,
    PhaseSpan,
    ReviewResult,
    Submission,
)
from realtime.models import RoomEvent
from tests import factories
from tests.bidding.opening_kit import client
from tests.evaluation import kit
from tests.evaluation.room import (
    SCORES,
    advance,
    at,
    refused,
    review,
    score_all,
    sign_in_all,
    sign_report,
    snapshot,
    table,
    to_declaration,
    to_qualification,
    to_scoring,
)
from tests.evaluation.test_opened_bids import evaluating  # noqa: F401 (the fixture)
from trading.models import Role

# --- The whole session ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_whole_session_from_sign_in_to_the_ranking(room):
    members = room.members
    assert [m.venue.kind for m in members] == ["main", "main", "main", "secondary", "secondary"]
    sign_in_all(room)
    advance(room, 2)
    for m in members:
        ev.member_declare(session=room.session, actor=m.expert.user, conflict=False, now=at(3))
    advance(room, 4)

    # Chair: 2-2-1 elects nobody: the committee votes again; then 3 of 5 elect members[0].
    for i, choice in enumerate([0, 0, 1, 1, 2]):
        ev.chair_vote(session=room.session, actor=room.user(i), candidate_id=members[choice].pk, now=at(5))
    assert (room.reload().chair_id, room.session.chair_round) == (None, 2)
    refused("no_chair", advance, room, 5)
    for i, choice in enumerate([0, 0, 0, 1, 1]):
        ev.chair_vote(session=room.session, actor=room.user(i), candidate_id=members[choice].pk, now=at(6))
    assert room.reload().chair_id == members[0].pk
    advance(room, 6)

    # Qualification: member 4 alone fails C: C passes 4 to 1, member 4's dissent recorded with the reason.
    review(room, "qualification", 7, fails={(4, "C"): "资质证书过期"})
    advance(room, 8)
    # Compliance: members 0-2 fail B, 3-4 pass it: B rejected 2 to 3, members 3 and 4 dissent.
    review(room, "compliance", 9, fails={(0, "B"): "工期不响应", (1, "B"): "工期不响应", (2, "B"): "质量标准不响应"})
    results = {(r.phase, r.bid_id): r for r in ReviewResult.objects.filter(session=room.session)}
    c_qual = results[("qualification", room.bids["C"].pk)]
    assert (c_qual.passed, c_qual.votes_for, c_qual.votes_against, c_qual.dissenters) == (True, 4, 1, [members[4].pk])
    assert c_qual.reasons == [{"member": members[4].pk, "criterion": "Q1", "reason": "资质证书过期"}]
    b_comp = results[("compliance", room.bids["B"].pk)]
    assert (b_comp.passed, b_comp.votes_for, b_comp.votes_against) == (False, 2, 3)
    assert b_comp.dissenters == sorted([members[3].pk, members[4].pk])
    assert [r["reason"] for r in b_comp.reasons] == ["工期不响应", "工期不响应", "质量标准不响应"]
    assert len(results) == 6
    advance(room, 10)
    assert {b.pk for b in ev.remaining_bids(room.session)} == {room.bids["A"].pk, room.bids["C"].pk}

    # Scoring without dispersion, then the price (benchmark 975,000.00: A +2.56 %, C −2.56 %) and the summary.
    score_all(room, 11)
    assert not DispersionFlag.objects.exists()
    advance(room, 12)
    a, c = str(room.bids["A"].pk), str(room.bids["C"].pk)
    price = room.reload().price_result
    assert price["benchmark"] == "975000.00" and price["dropped"] == []
    assert price["scores"] == {a: "27.44", c: "28.72"}
    advance(room, 13)
    ranking = room.reload().ranking
    assert [(r["bid"], r["rank"], r["technical"], r["commercial"], r["price_score"], r["total"]) for r in ranking] == [
        (c, 1, "40.60", "17.60", "28.72", "86.92"),
        (a, 2, "41.20", "18.00", "27.44", "86.64"),
    ]
    advance(room, 14)
    assert (room.reload().phase, room.session.finished_at) == ("report", None)
    sign_report(room, 15)
    session = room.reload()
    assert (session.phase, session.finished_at) == ("done", at(15))
    spans = list(PhaseSpan.objects.filter(session=session).values_list("phase", "started_at", "ended_at"))
    assert [s[0] for s in spans] == [
        "sign_in",
        "declaration",
        "chair_election",
        "qualification",
        "compliance",
        "scoring",
        "price",
        "summary",
        "report",
        "done",
    ]
    assert spans[0] == ("sign_in", at(0), at(2)) and spans[-1] == ("done", at(15), None)
    assert AuditEvent.objects.filter(action="evaluation.phase_changed").count() == 9
    # The room got the phases; no event for everyone carried a member's verdict or score before its phase closed.
    room_events = RoomEvent.objects.filter(room=f"evaluation:{room.lot.pk}")
    assert list(room_events.filter(kind="phase").values_list("payload__phase", flat=True))[-1] == "done"
    for event in room_events.filter(kind="submitted"):
        assert set(event.payload) == {"phase", "member"} and event.audience == "everyone"


# --- Refusals ------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_sign_in_only_inside_the_window_from_the_seat_venue_and_only_members(parties, room):
    m0 = room.members[0]
    other_venue = room.members[4].venue_id
    before = snapshot(room)
    refused(
        "outside_window",
        ev.member_sign_in,
        session=room.session,
        actor=m0.expert.user,
        venue_id=m0.venue_id,
        now=kit.WINDOW[0] - timedelta(seconds=1),
    )
    refused(
        "outside_window", ev.member_sign_in, session=room.session, actor=m0.expert.user, venue_id=m0.venue_id, now=kit.WINDOW[1]
    )
    error = refused("wrong_venue", ev.member_sign_in, session=room.session, actor=m0.expert.user, venue_id=other_venue, now=at(1))
    assert error.status_code == 403
    for outsider in (room.backup, factories.user(Role.EXPERT, username="not-drawn"), parties.bidders[0], parties.tenderee):
        assert (
            refused(
                "not_found", ev.member_sign_in, session=room.session, actor=outsider, venue_id=m0.venue_id, now=at(1)
            ).status_code
            == 404
        )
    refused("read_only", ev.member_sign_in, session=room.session, actor=parties.staff, venue_id=m0.venue_id, now=at(1))
    # Not signed in: no other act.
    refused("not_signed_in", ev.member_declare, session=room.session, actor=m0.expert.user, conflict=False, now=at(1))
    refused("members_missing", advance, room, 1)
    assert snapshot(room) == before
    ev.member_sign_in(session=room.session, actor=m0.expert.user, venue_id=m0.venue_id, now=kit.WINDOW[0])
    refused("already_signed_in", ev.member_sign_in, session=room.session, actor=m0.expert.user, venue_id=m0.venue_id, now=at(1))


@pytest.mark.django_db
def test_rejection_needs_a_reason_tables_are_complete_and_late_submissions_are_refused(room):
    to_qualification(room)
    crit, bids = room.crit["Q1"], room.bids
    full = [{"bid": str(b.pk), "criterion": crit.pk, "passed": True, "reason": ""} for b in bids.values()]
    before = snapshot(room)
    no_reason = [dict(full[0], passed=False, reason=" "), *full[1:]]
    refused(
        "reasons_required",
        ev.review_submit,
        session=room.session,
        actor=room.user(0),
        phase="qualification",
        verdicts=no_reason,
        now=at(7),
    )
    refused(
        "incomplete_table",
        ev.review_submit,
        session=room.session,
        actor=room.user(0),
        phase="qualification",
        verdicts=full[:2],
        now=at(7),
    )
    refused(
        "invalid_phase", ev.review_submit, session=room.session, actor=room.user(0), phase="compliance", verdicts=full, now=at(7)
    )
    refused("invalid_phase", ev.scores_submit, session=room.session, actor=room.user(0), scores=[], now=at(7))
    refused("submissions_missing", advance, room, 7)
    assert snapshot(room) == before
    review(room, "qualification", 7)
    refused(
        "phase_decided",
        ev.review_submit,
        session=room.session,
        actor=room.user(0),
        phase="qualification",
        verdicts=full,
        now=at(7),
    )
    advance(room, 8)
    # The qualification phase has closed: a submission for it is refused.
    before = snapshot(room)
    refused(
        "invalid_phase",
        ev.review_submit,
        session=room.session,
        actor=room.user(1),
        phase="qualification",
        verdicts=full,
        now=at(8),
    )
    review(room, "compliance", 9, fails={(0, "B"): "工期不响应", (1, "B"): "工期不响应", (2, "B"): "质量标准不响应"})
    advance(room, 10)
    scores = table(room, 0)
    out_of_range = [dict(scores[0], score="30.01"), *scores[1:]]
    before = snapshot(room)
    refused("incomplete_table", ev.scores_submit, session=room.session, actor=room.user(0), scores=scores[:-1], now=at(11))
    refused("invalid_table", ev.scores_submit, session=room.session, actor=room.user(0), scores=[*scores, scores[0]], now=at(11))
    error = refused("invalid_score", ev.scores_submit, session=room.session, actor=room.user(0), scores=out_of_range, now=at(11))
    assert error.extra == {"criterion": room.crit["T1"].pk}
    refused(
        "invalid_score",
        ev.scores_submit,
        session=room.session,
        actor=room.user(0),
        scores=[dict(scores[0], score="1.005"), *scores[1:]],
        now=at(11),
    )
    assert snapshot(room) == before
    score_all(room, 11)
    refused("already_submitted", ev.scores_submit, session=room.session, actor=room.user(0), scores=scores, now=at(11))
    advance(room, 12)
    before = snapshot(room)
    refused("invalid_phase", ev.scores_submit, session=room.session, actor=room.user(0), scores=scores, now=at(12))
    assert snapshot(room) == before


@pytest.mark.django_db
def test_a_declared_conflict_withdraws_the_member_until_staff_replace_them(room):
    to_declaration(room)
    m4 = room.members[4]
    refused("reasons_required", ev.member_declare, session=room.session, actor=m4.expert.user, conflict=True, now=at(3))
    ev.member_declare(session=room.session, actor=m4.expert.user, conflict=True, note="与投标人存在利害关系", now=at(3))
    for i in range(4):
        ev.member_declare(session=room.session, actor=room.user(i), conflict=False, now=at(3))
    refused("conflict_pending", advance, room, 4)
    refused(
        "withdrawn", ev.extension_propose, session=room.session, actor=m4.expert.user, minutes=30, reason="时间不够", now=at(4)
    )
    ev.session_member_replace(session=room.session, member=m4, actor=room.parties.staff, reason="声明须回避", now=at(4))
    newcomer = DrawnExpert.objects.get(draw=m4.draw, status=MemberStatus.INVITED)
    assert (newcomer.venue_id, newcomer.seat) == (m4.venue_id, m4.seat)
    assert room.reload().request.status == DrawRequest.Status.DRAWN
    refused("committee_incomplete", advance, room, 5)
    draws.member_respond(member=newcomer, actor=newcomer.expert.user, accept=True, now=at(5))
    assert room.reload().request.status == DrawRequest.Status.FIXED
    ev.member_sign_in(session=room.session, actor=newcomer.expert.user, venue_id=newcomer.venue_id, now=at(6))
    ev.member_declare(session=room.session, actor=newcomer.expert.user, conflict=False, now=at(6))
    assert advance(room, 7).phase == "chair_election"


# --- Dispersion ---------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_dispersion_flags_the_member_who_confirms_or_amends_and_the_phase_waits(room):
    to_scoring(room)
    # Member 4 gives A 8 on T2 (max 20, limit 4.00): the others' mean is 15.75, 7.75 away. Member 3 gives C 10 on C1:
    # the others' mean 17.75, 7.75 away. Nobody else deviates by more than 4.
    scores = {**SCORES, ("A", "T2"): ["15", "16", "15", "17", "8"], ("C", "C1"): ["17", "18", "18", "10", "17"]}
    score_all(room, 11, scores, members=range(4))
    assert not DispersionFlag.objects.exists()  # checked once every member has submitted
    score_all(room, 11, scores, members=[4])
    flags = {f.member_id: f for f in DispersionFlag.objects.select_related("mark")}
    m3, m4 = room.members[3], room.members[4]
    assert set(flags) == {m3.pk, m4.pk}
    f4 = flags[m4.pk]
    assert (f4.score, f4.others_mean, f4.deviation, f4.limit) == (
        Decimal("8.00"),
        Decimal("15.75"),
        Decimal("7.75"),
        Decimal("4.00"),
    )
    # The alert went to the flagged member only (and the watchers).
    events = RoomEvent.objects.filter(kind="dispersion_flag")
    assert {(e.audience, e.audience_user_id) for e in events} == {("member", m3.expert.user_id), ("member", m4.expert.user_id)}
    refused("dispersion_open", advance, room, 12)
    before = snapshot(room)
    refused("not_found", ev.flag_resolve, session=room.session, actor=room.user(0), flag_id=f4.pk, now=at(12))
    refused(
        "invalid_score", ev.flag_resolve, session=room.session, actor=m4.expert.user, flag_id=f4.pk, amend_to="21", now=at(12)
    )
    assert snapshot(room) == before
    ev.flag_resolve(session=room.session, actor=m4.expert.user, flag_id=f4.pk, amend_to="16", now=at(12))
    assert Mark.objects.get(pk=f4.mark_id).score == Decimal("16.00")
    refused("flag_resolved", ev.flag_resolve, session=room.session, actor=m4.expert.user, flag_id=f4.pk, now=at(12))
    refused("dispersion_open", advance, room, 12)
    ev.flag_resolve(session=room.session, actor=m3.expert.user, flag_id=flags[m3.pk].pk, now=at(13))
    assert dict(DispersionFlag.objects.values_list("member_id", "resolution")) == {m3.pk: "confirmed", m4.pk: "amended"}
    assert not DispersionFlag.objects.filter(resolution="").exists()
    advance(room, 14)
    assert room.reload().phase == "price"


# --- More time ----------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_extension_is_carried_only_above_the_fraction_and_moves_the_window_end(room):
    sign_in_all(room)
    advance(room, 2)
    for m in room.members:
        ev.member_declare(session=room.session, actor=m.expert.user, conflict=False, now=at(3))
    advance(room, 4)
    end = room.reload().request.window_end
    # With a rule set fraction of 2/5, 2 of 5 is exactly the fraction: not carried; 3 of 5 is.
    rule_set = room.lot.project.rule_set
    type(rule_set).objects.filter(pk=rule_set.pk).update(extension_vote_numerator=2, extension_vote_denominator=5)
    p = ev.extension_propose(session=room.session, actor=room.user(0), minutes=60, reason="评审内容多", now=at(4))
    assert p.status == "open"
    refused("already_voted", ev.extension_vote, session=room.session, actor=room.user(0), proposal_id=p.pk, yes=True, now=at(4))
    refused("extension_open", ev.extension_propose, session=room.session, actor=room.user(1), minutes=30, reason="x", now=at(4))
    assert ev.extension_vote(session=room.session, actor=room.user(1), proposal_id=p.pk, yes=True, now=at(5)).status == "open"
    assert ev.extension_vote(session=room.session, actor=room.user(2), proposal_id=p.pk, yes=False, now=at(5)).status == "open"
    assert room.reload().request.window_end == end
    p = ev.extension_vote(session=room.session, actor=room.user(3), proposal_id=p.pk, yes=True, now=at(6))
    assert (p.status, p.window_end_before, p.window_end_after) == ("carried", end, end + timedelta(minutes=60))
    assert room.reload().request.window_end == end + timedelta(minutes=60)
    refused(
        "extension_closed", ev.extension_vote, session=room.session, actor=room.user(4), proposal_id=p.pk, yes=True, now=at(6)
    )
    # A member acts after the old end, inside the extended window.
    ev.chair_vote(session=room.session, actor=room.user(0), candidate_id=room.members[0].pk, now=end + timedelta(minutes=1))
    # A second proposal that only its proposer supports: not carried once everyone has voted.
    late = end + timedelta(minutes=2)
    q = ev.extension_propose(session=room.session, actor=room.user(4), minutes=30, reason="仍需时间", now=late)
    for i in range(4):
        q = ev.extension_vote(session=room.session, actor=room.user(i), proposal_id=q.pk, yes=i == 0, now=late)
    assert q.status == "not_carried"
    assert room.reload().request.window_end == end + timedelta(minutes=60)
    assert list(ExtensionProposal.objects.values_list("status", flat=True)) == ["carried", "not_carried"]
    refused(
        "outside_window",
        ev.chair_vote,
        session=room.session,
        actor=room.user(1),
        candidate_id=room.members[0].pk,
        now=end + timedelta(minutes=60),
    )


# --- Replacement --------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_replacement_voids_the_members_marks_and_sends_the_session_back_to_scoring(room):
    to_scoring(room)
    score_all(room, 11)
    advance(room, 12)
    assert room.reload().phase == "price"
    m4 = room.members[4]
    ev.session_member_replace(session=room.session, member=m4, actor=room.parties.staff, reason="身体不适", now=at(13))
    session = room.reload()
    assert (session.phase, session.price_result, session.request.status) == ("scoring", {}, DrawRequest.Status.DRAWN)
    void = Mark.objects.filter(member=m4)
    assert void.count() == 3 + 3 + 2 * 3  # qualification and compliance (3 bids each), scores (A and C, 3 criteria)
    assert set(void.values_list("void_reason", flat=True)) == {"replaced"}
    assert not Mark.objects.filter(member=m4, voided_at__isnull=True).exists()
    assert not Submission.objects.filter(member=m4, voided_at__isnull=True).exists()
    # Decided review phases stand.
    assert ReviewResult.objects.filter(session=session).count() == 6
    refused("committee_incomplete", ev.scores_submit, session=room.session, actor=room.user(0), scores=[], now=at(13))
    newcomer = DrawnExpert.objects.get(draw=m4.draw, status=MemberStatus.INVITED)
    draws.member_respond(member=newcomer, actor=newcomer.expert.user, accept=True, now=at(14))
    refused("not_found", ev.member_sign_in, session=room.session, actor=m4.expert.user, venue_id=m4.venue_id, now=at(14))
    refused("submissions_missing", advance, room, 14)
    user = newcomer.expert.user
    ev.member_sign_in(session=room.session, actor=user, venue_id=newcomer.venue_id, now=at(15))
    refused("not_declared", ev.scores_submit, session=room.session, actor=user, scores=table(room, 4), now=at(15))
    ev.member_declare(session=room.session, actor=user, conflict=False, now=at(15))
    # The newcomer scores like the replaced member, except 24 for A on T1 where the replaced member gave 25.
    scores = {**SCORES, ("A", "T1"): ["25", "26", "24", "27", "24"]}
    ev.scores_submit(session=room.session, actor=user, scores=table(room, 4, scores), now=at(16))
    advance(room, 17)
    advance(room, 18)
    a = str(room.bids["A"].pk)
    row = next(r for r in room.reload().ranking if r["bid"] == a)
    # T1 of A: (25 + 26 + 24 + 27 + 24) / 5 = 25.20 (the replaced member's 25 is void).
    assert (row["criteria"][str(room.crit["T1"].pk)], row["total"]) == ("25.20", "86.44")
    assert AuditEvent.objects.filter(action="evaluation.member_replaced").count() == 1


# --- Who may see and do what (API) --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_roles_members_act_for_themselves_staff_run_supervisors_read_others_get_404(parties, room):
    path = f"/api/lots/{room.lot.pk}/evaluation-session/"
    for outsider in (parties.bidders[0], parties.tenderee, parties.agency, room.backup):
        assert client(outsider).get(path).status_code == 404
        for action, body in (("sign-in/", {"venue": room.members[0].venue_id}), ("advance/", {"phase": "sign_in"})):
            response = client(outsider).post(path + action, body, format="json")
            assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert client(None).get(path).status_code == 401
    assert client(room.user(0)).post(path + "start/").status_code == 404
    assert client(parties.supervisor).get(path).status_code == 200
    for action, body in (("advance/", {"phase": "sign_in"}), ("sign-in/", {"venue": room.members[0].venue_id})):
        assert client(parties.supervisor).post(path + action, body, format="json").status_code == 403
    with time_machine.travel(at(1), tick=False):
        for m in room.members:
            response = client(m.expert.user).post(path + "sign-in/", {"venue": m.venue_id}, format="json")
            assert response.status_code == 200, response.json()
        response = client(parties.staff).post(path + "advance/", {"phase": "declaration"}, format="json")
        assert (response.status_code, response.json()["code"]) == (409, "invalid_phase")
        response = client(parties.staff).post(path + "advance/", {"phase": "sign_in"}, format="json")
        assert (response.status_code, response.json()["phase"]) == (200, "declaration")
    for m in room.members:
        ev.member_declare(session=room.session, actor=m.expert.user, conflict=False, now=at(3))
    advance(room, 4)
    for m in room.members:
        ev.chair_vote(session=room.session, actor=m.expert.user, candidate_id=room.members[0].pk, now=at(5))
    advance(room, 6)
    review(room, "qualification", 7)
    advance(room, 8)
    review(room, "compliance", 9, fails={(0, "B"): "工期不响应", (1, "B"): "工期不响应", (2, "B"): "质量标准不响应"})
    advance(room, 10)
    score_all(room, 11, members=[0])
    # Before scoring closes a member sees only their own scores; the supervisor sees them all.
    mine = client(room.user(0)).get(path).json()
    theirs = client(room.user(1)).get(path).json()
    scored = [m for m in mine["marks"] if m["score"] is not None]
    assert len(scored) == 6 and {m["member"] for m in scored} == {room.members[0].pk}
    assert not [m for m in theirs["marks"] if m["score"] is not None]
    assert theirs["submitted"]["scoring"] == [room.members[0].pk]
    # Closed review phases: every member's verdicts are visible to all members.
    assert {m["member"] for m in theirs["marks"] if m["stage"] == "qualification"} == {m.pk for m in room.members}
    watched = client(parties.supervisor).get(path).json()
    assert len([m for m in watched["marks"] if m["score"] is not None]) == 6
    # A member acting through the API: an incomplete table is a 400.
    with time_machine.travel(at(12), tick=False):
        response = client(room.user(1)).post(path + "scores/", {"scores": []}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "incomplete_table")


@pytest.mark.django_db
def test_lowest_price_method_skips_scores_and_a_replaced_chair_is_elected_again(room):
    EvaluationMethod.objects.filter(lot=room.lot).update(
        kind="lowest_price", technical_weight=0, commercial_weight=0, price_weight=0, price_formula=""
    )
    Criterion.objects.filter(stage__in=["technical", "commercial"]).delete()
    to_scoring(room)
    chair = room.members[0]
    assert room.reload().chair_id == chair.pk
    ev.session_member_replace(session=room.session, member=chair, actor=room.parties.staff, reason="回避", now=at(11))
    assert (room.reload().chair_id, room.session.phase) == (None, "scoring")
    newcomer = DrawnExpert.objects.get(draw=chair.draw, status=MemberStatus.INVITED)
    assert newcomer.venue_id == chair.venue_id
    draws.member_respond(member=newcomer, actor=newcomer.expert.user, accept=True, now=at(12))
    advance(room, 13)  # no scored criteria: nothing to hand in
    price = room.reload().price_result
    a, c = str(room.bids["A"].pk), str(room.bids["C"].pk)
    assert price == {"prices": {a: "1000000.00", c: "950000.00"}, "evaluated": {a: "1000000.00", c: "950000.00"}}
    advance(room, 14)
    assert [(r["bid"], r["rank"], r["evaluated_price"]) for r in room.reload().ranking] == [
        (c, 1, "950000.00"),
        (a, 2, "1000000.00"),
    ]
    refused("no_chair", advance, room, 15)
    ev.member_sign_in(session=room.session, actor=newcomer.expert.user, venue_id=newcomer.venue_id, now=at(15))
    ev.member_declare(session=room.session, actor=newcomer.expert.user, conflict=False, now=at(15))
    sitting = ev.committee(room.session)
    for m in sitting:
        ev.chair_vote(session=room.session, actor=m.expert.user, candidate_id=sitting[1].pk, now=at(16))
    assert room.reload().chair_id == sitting[1].pk
    assert advance(room, 17).phase == "report"
    sign_report(room, 18)
    assert room.reload().phase == "done"


@pytest.mark.django_db
def test_a_supervisors_pause_stops_the_session_until_resumed(parties, room):
    from realtime import services as realtime

    sign_in_all(room)
    realtime.room_pause(lot_id=room.lot.pk, actor=parties.supervisor, reason="网络故障", now=at(2))
    before = snapshot(room)
    refused("room_paused", advance, room, 2)
    refused("room_paused", ev.member_declare, session=room.session, actor=room.user(0), conflict=False, now=at(2))
    assert snapshot(room) == before
    realtime.room_resume(lot_id=room.lot.pk, actor=parties.supervisor, reason="", now=at(3))
    assert advance(room, 3).phase == "declaration"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent transactions: PostgreSQL only")
@pytest.mark.django_db(transaction=True)
def test_the_last_two_submissions_at_once_decide_the_phase_exactly_once(room):
    to_qualification(room)
    crit = room.crit["Q1"]
    verdicts = [{"bid": str(b.pk), "criterion": crit.pk, "passed": True, "reason": ""} for b in room.bids.values()]
    for i in range(3):
        ev.review_submit(session=room.session, actor=room.user(i), phase="qualification", verdicts=verdicts, now=at(7))
    start, errors = threading.Barrier(2), []

    def attempt(i):
        try:
            start.wait(10)
            ev.review_submit(session=room.session, actor=room.user(i), phase="qualification", verdicts=verdicts, now=at(7))
        except Exception as error:
            errors.append(error)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=attempt, args=(i,)) for i in (3, 4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert errors == []
    assert ReviewResult.objects.filter(session=room.session, phase="qualification").count() == 3
    assert AuditEvent.objects.filter(action="evaluation.review_decided").count() == 1


@pytest.mark.django_db
def test_the_remaining_actions_through_the_api(parties, room):
    path = f"/api/lots/{room.lot.pk}/evaluation-session/"
    with time_machine.travel(at(1), tick=False):
        for m in room.members:
            assert client(m.expert.user).post(path + "sign-in/", {"venue": m.venue_id}, format="json").status_code == 200
        advance(room, 1)
        for m in room.members:
            response = client(m.expert.user).post(path + "declaration/", {"conflict": False}, format="json")
            assert response.status_code == 200, response.json()
        advance(room, 1)
        for m in room.members:
            response = client(m.expert.user).post(path + "chair-vote/", {"candidate": room.members[2].pk}, format="json")
            assert response.status_code == 200, response.json()
        assert response.json()["chair"] == room.members[2].pk
        advance(room, 1)
        for i, m in enumerate(room.members):
            verdicts = [
                {"bid": str(b.pk), "criterion": room.crit["Q1"].pk, "passed": i > 0 or letter != "C", "reason": "缺证书"}
                for letter, b in room.bids.items()
            ]
            body = {"phase": "qualification", "verdicts": verdicts}
            assert client(m.expert.user).post(path + "reviews/", body, format="json").status_code == 200
        result = client(parties.supervisor).get(path).json()["results"]
        c = next(r for r in result if r["bid"] == str(room.bids["C"].pk))
        assert (c["passed"], c["dissenters"], c["reasons"][0]["reason"]) == (True, [room.members[0].pk], "缺证书")
        advance(room, 1)
        review(room, "compliance", 1, fails={(0, "B"): "工期不响应", (1, "B"): "工期不响应", (2, "B"): "工期不响应"})
        advance(room, 1)
        scores = {**SCORES, ("A", "T2"): ["15", "16", "15", "17", "8"], ("C", "C1"): ["17", "18", "18", "10", "17"]}
        for i, m in enumerate(room.members):
            response = client(m.expert.user).post(path + "scores/", {"scores": table(room, i, scores)}, format="json")
            assert response.status_code == 200, response.json()
        flags = {f.member_id: f.pk for f in DispersionFlag.objects.all()}
        m3, m4 = room.members[3], room.members[4]
        assert client(m3.expert.user).post(path + f"flags/{flags[m3.pk]}/confirm/").status_code == 200
        response = client(m4.expert.user).post(path + f"flags/{flags[m4.pk]}/amend/", {"score": "16"}, format="json")
        assert response.status_code == 200 and response.json()["flags"][0]["resolution"] == "amended"
        response = client(room.user(0)).post(path + "extensions/", {"minutes": 30, "reason": "需要讨论"}, format="json")
        proposal = response.json()["extensions"][0]["id"]
        response = client(room.user(1)).post(path + f"extensions/{proposal}/vote/", {"yes": True}, format="json")
        assert response.json()["extensions"][0]["status"] == "carried"
        assert datetime.fromisoformat(response.json()["window_end"]) == kit.WINDOW[1] + timedelta(minutes=30)
        response = client(parties.supervisor).post(path + f"members/{m4.pk}/replace/", {"reason": "x"}, format="json")
        assert (response.status_code, response.json()["code"]) == (403, "role_not_allowed")
        response = client(parties.staff).post(path + f"members/{m4.pk}/replace/", {"reason": "身体不适"}, format="json")
        assert response.status_code == 200, response.json()
        assert Mark.objects.filter(member=m4, voided_at__isnull=False).count() == 3 + 3 + 6
