"""The evaluation report: drafted on entering the report phase, signed by every sitting member on the draft they saw
(a disagreement in writing, 条例53), finalised with a signature page by the last signature, which ends the session;
a store failure changes nothing; who may read it (docs/evaluation.md, "The report, signatures and statistics").

The room is the main case of test_session (tests/evaluation/room.py): B rejected at compliance 3 to 2 (members 3 and
4 dissent), A and C scored, C ranked first.
"""

import hashlib
import io

import pytest
import time_machine
from pypdf import PdfReader

from audit.models import AuditEvent
from evaluation import session as ev
from evaluation.models import EvaluationReport, EvaluationSession, ReportSignature
from evaluation.report import report_sign
from realtime.models import RoomEvent
from tests.bidding.opening_kit import client, stored
from tests.evaluation.room import advance, at, refused, score_all, sign_report, to_report, to_scoring
from trading.models import Lot, LotStatus
from trading.objectstore import StoreUnavailable, get_store

DISSENT = "投标人B的工期满足招标文件要求，不应否决"


def _text(document: bytes) -> str:
    """The PDF's text with line breaks removed (a long hash or reason may wrap)."""
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(document)).pages).replace("\n", "")


def _report(room) -> EvaluationReport:
    return EvaluationReport.objects.get(session=room.session)


def _state(room) -> dict:
    """What a signature may change: to assert that a refused or failed one changed nothing."""
    return {
        "session": EvaluationSession.objects.filter(pk=room.session.pk).values().first(),
        "report": EvaluationReport.objects.filter(session=room.session).values().first(),
        "signatures": list(ReportSignature.objects.order_by("pk").values()),
        "audit": AuditEvent.objects.count(),
        "events": RoomEvent.objects.count(),
    }


@pytest.mark.django_db
def test_the_report_is_drafted_signed_with_a_dissent_and_finalised_with_the_signature_page(room):
    to_report(room)
    assert room.reload().phase == "report"
    report = _report(room)
    draft = stored(report.object_key)
    assert (hashlib.sha256(draft).hexdigest(), len(draft)) == (report.sha256, report.size)
    assert report.object_key == f"evaluation-reports/{room.lot.pk}/draft-{report.sha256}.pdf"
    drafted = AuditEvent.objects.get(action="evaluation.report_drafted")
    assert drafted.after["sha256"] == report.sha256
    assert RoomEvent.objects.get(kind="report").payload == {"sha256": report.sha256}

    a, b, c = (room.bids[x].bidder.name for x in "ABC")
    content = report.content
    assert [x["name"] for x in content["committee"]] == [m.expert.name for m in room.members]
    assert content["chair"] == {"member": room.members[0].pk, "name": room.members[0].expert.name}
    assert [(x["rank"], x["bidder"]) for x in content["candidates"]] == [(1, c), (2, a)]
    assert content["candidates_max"] == 3
    rejected = [r for r in content["reviews"] if not r["passed"]]
    assert [(r["phase"], r["bidder"], r["votes_for"], r["votes_against"]) for r in rejected] == [("compliance", b, 2, 3)]
    assert rejected[0]["dissenters"] == [room.members[3].expert.name, room.members[4].expert.name]
    assert [len(s["rows"]) for s in content["scores"]] == [2] * 5

    text = _text(draft)
    for needle in [
        *(m.expert.name for m in room.members),
        room.members[0].venue.name,
        room.members[4].venue.name,
        "工期不响应",
        "质量标准不响应",
        f"第1名 {c}；第2名 {a}",
        "86.92",  # C's total
        "评标过程数据统计",
    ]:
        assert needle in text, needle

    # Members 0-3 agree, member 4 disagrees in writing; the last signature finalises and ends the session.
    sign_report(room, 15, members=[0, 1, 2, 3])
    assert (room.reload().phase, _report(room).finalized_at) == ("report", None)
    sign_report(room, 16, dissent={4: DISSENT}, members=[4])
    session = room.reload()
    assert (session.phase, session.finished_at) == ("done", at(16))
    report = _report(room)
    assert report.finalized_at == at(16)
    final = stored(report.final_object_key)
    assert (hashlib.sha256(final).hexdigest(), len(final)) == (report.final_sha256, report.final_size)
    signatures = list(report.signatures.order_by("signed_at", "id"))
    assert [(s.member_id, s.agree, s.dissent, s.sha256) for s in signatures] == [
        *((m.pk, True, "", report.sha256) for m in room.members[:4]),
        (room.members[4].pk, False, DISSENT, report.sha256),
    ]
    text = _text(final)
    for needle in ["评标委员会成员签署", report.sha256, DISSENT, "不同意", f"第1名 {c}；第2名 {a}", "工期不响应"]:
        assert needle in text, needle
    finalised = AuditEvent.objects.get(action="evaluation.report_finalized")
    assert (finalised.after["sha256"], finalised.after["draft_sha256"]) == (report.final_sha256, report.sha256)
    assert finalised.after["dissenting"] == [room.members[4].pk]
    signed = AuditEvent.objects.filter(action="evaluation.report_signed").order_by("seq")
    assert [(e.after["member"], e.after["agree"]) for e in signed] == [(m.pk, m != room.members[4]) for m in room.members]
    events = RoomEvent.objects.filter(kind="report_signed").order_by("id")
    assert [e.payload for e in events] == [{"member": m.pk, "agree": m != room.members[4]} for m in room.members]
    assert RoomEvent.objects.filter(kind="phase").order_by("id").last().payload == {"phase": "done", "from": "report"}


@pytest.mark.django_db
def test_a_stale_hash_a_missing_dissent_a_second_signature_and_watchers_are_refused(parties, room):
    to_report(room)
    digest = _report(room).sha256
    member = room.user(1)
    before = _state(room)
    error = refused("report_changed", report_sign, session=room.session, actor=member, sha256="0" * 64, agree=True, now=at(15))
    assert (error.status_code, error.extra) == (409, {"sha256": digest})
    error = refused("dissent_required", report_sign, session=room.session, actor=member, sha256=digest, agree=False, now=at(15))
    assert error.status_code == 400
    refused(
        "dissent_required", report_sign, session=room.session, actor=member, sha256=digest, agree=False, dissent="  ", now=at(15)
    )
    refused("read_only", report_sign, session=room.session, actor=parties.staff, sha256=digest, agree=True, now=at(15))
    refused("signatures_missing", advance, room, 15)  # staff cannot end the phase: the last signature does
    assert _state(room) == before
    report_sign(session=room.session, actor=member, sha256=digest, agree=True, now=at(15))
    before = _state(room)
    refused("already_signed", report_sign, session=room.session, actor=member, sha256=digest, agree=True, now=at(16))
    assert _state(room) == before


@pytest.mark.django_db
def test_signing_is_refused_before_the_report_phase(room):
    to_scoring(room)
    refused("invalid_phase", report_sign, session=room.session, actor=room.user(0), sha256="0" * 64, agree=True, now=at(11))


@pytest.mark.django_db
def test_the_store_failing_on_the_last_signature_changes_nothing_and_leaves_no_object(room, monkeypatch):
    to_report(room)
    sign_report(room, 15, members=[0, 1, 2, 3])
    store = get_store()
    real_put, tried = type(store).put, []

    def failing_put(self, key, *args, **kw):
        tried.append(key)
        raise StoreUnavailable("connection refused")

    monkeypatch.setattr(type(store), "put", failing_put)
    path = f"/api/lots/{room.lot.pk}/evaluation-session/report/sign/"
    body = {"sha256": _report(room).sha256, "agree": True}
    before = _state(room)
    with time_machine.travel(at(16), tick=False):
        response = client(room.user(4)).post(path, body, format="json")
    assert (response.status_code, response.json()["code"]) == (503, "store_unavailable")
    assert _state(room) == before
    assert len(tried) == 1 and tried[0].startswith(f"evaluation-reports/{room.lot.pk}/final-")
    assert not store.exists(tried[0])
    monkeypatch.setattr(type(store), "put", real_put)
    with time_machine.travel(at(17), tick=False):
        response = client(room.user(4)).post(path, body, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["phase"] == "done" and response.json()["final_sha256"] == _report(room).final_sha256


@pytest.mark.django_db
def test_the_store_failing_on_the_draft_keeps_the_summary(room, monkeypatch):
    to_scoring(room)
    score_all(room, 11)
    advance(room, 12)
    advance(room, 13)
    store = get_store()

    def failing_put(self, key, *args, **kw):
        raise StoreUnavailable("connection refused")

    monkeypatch.setattr(type(store), "put", failing_put)
    with pytest.raises(Exception) as caught:
        advance(room, 14)
    assert getattr(caught.value, "code", None) == "store_unavailable"
    assert room.reload().phase == "summary" and not EvaluationReport.objects.exists()


@pytest.mark.django_db
def test_a_replacement_in_the_report_phase_voids_the_draft_and_its_signatures(room):
    from evaluation import services as draws
    from evaluation.models import DrawnExpert, MemberStatus

    to_report(room)
    old = _report(room).sha256
    sign_report(room, 15, members=[0, 1])
    leaving = room.members[2]
    ev.session_member_replace(session=room.session, member=leaving, actor=room.parties.staff, reason="身体不适", now=at(16))
    assert (room.reload().phase, room.session.ranking) == ("scoring", [])
    newcomer = DrawnExpert.objects.get(draw=leaving.draw, status=MemberStatus.INVITED)
    draws.member_respond(member=newcomer, actor=newcomer.expert.user, accept=True, now=at(17))
    ev.member_sign_in(session=room.session, actor=newcomer.expert.user, venue_id=newcomer.venue_id, now=at(17))
    ev.member_declare(session=room.session, actor=newcomer.expert.user, conflict=False, now=at(17))
    sitting = ev.committee(room.session)
    room.members = sitting
    score_all(room, 18, members=[sitting.index(newcomer)])
    advance(room, 19)
    advance(room, 20)
    advance(room, 21)
    report = _report(room)
    assert report.sha256 != old and not report.signatures.exists()
    assert leaving.expert.name in {r["name"] for r in report.content["replaced"]}
    assert AuditEvent.objects.filter(action="evaluation.report_drafted").order_by("seq").last().after["signatures_dropped"] == 2
    refused("report_changed", report_sign, session=room.session, actor=room.user(0), sha256=old, agree=True, now=at(22))
    sign_report(room, 22)
    assert room.reload().phase == "done"
    assert leaving.expert.name in _text(stored(_report(room).final_object_key))


@pytest.mark.django_db
def test_who_reads_the_report_and_the_statistics(parties, room):
    base = f"/api/lots/{room.lot.pk}/"
    report_path = base + "evaluation-session/report/"
    assert client(parties.staff).get(report_path).status_code == 404  # no report yet
    to_report(room)
    readers = [room.user(0), room.user(4), parties.staff, parties.supervisor]
    outsiders = [parties.bidders[0], parties.tenderee, parties.agency, room.backup]
    for user in readers:
        response = client(user).get(report_path)
        assert response.status_code == 200, user
        assert response.json()["sha256"] == _report(room).sha256
        response = client(user).get(report_path + "pdf/")
        assert response.status_code == 200 and response["X-Content-SHA256"] == _report(room).sha256
        assert hashlib.sha256(b"".join(response.streaming_content)).hexdigest() == _report(room).sha256
    for user in outsiders:
        assert client(user).get(report_path).status_code == 404, user
        assert client(user).get(report_path + "pdf/").status_code == 404, user
    assert client(None).get(report_path).status_code == 401
    body = {"sha256": _report(room).sha256, "agree": True}
    assert client(parties.supervisor).post(report_path + "sign/", body, format="json").status_code == 403
    assert client(parties.bidders[0]).post(report_path + "sign/", body, format="json").status_code == 404
    with time_machine.travel(at(15), tick=False):
        response = client(room.user(0)).post(report_path + "sign/", {**body, "agree": False}, format="json")
        assert (response.status_code, response.json()["code"]) == (400, "dissent_required")
        for i in range(5):
            response = client(room.user(i)).post(report_path + "sign/", body, format="json")
            assert response.status_code == 200, response.json()
    state = response.json()
    assert state["phase"] == "done" and len(state["signatures"]) == 5 and state["unsigned"] == []
    # Final: the tenderee side still does not (法37: the committee's names stay secret until the winner is decided)...
    final = _report(room).final_sha256
    assert client(parties.tenderee).get(report_path).status_code == 404
    # ...and reads it once the lot is awarded (法40); bidders and experts not sitting never do.
    Lot.objects.filter(pk=room.lot.pk).update(status=LotStatus.AWARDED)
    for user in (parties.tenderee, parties.staff, room.user(2)):
        response = client(user).get(report_path + "pdf/")
        assert (response.status_code, response["X-Content-SHA256"]) == (200, final), user
    for user in (parties.bidders[0], parties.agency, room.backup):  # the agency is not this project's
        assert client(user).get(report_path).status_code == 404
    # The statistics: staff and supervisors only.
    for user in (parties.staff, parties.supervisor):
        assert client(user).get(base + "statistics/").json()["phase"] == "done"
    for user in (room.user(0), parties.tenderee, parties.bidders[0]):
        assert client(user).get(base + "statistics/").status_code == 404
