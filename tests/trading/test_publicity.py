"""中标候选人公示 and objections to the evaluation result (条例54): publicity only once the evaluation is done, the
candidates notice, the sweep publishing what staff have not, and objections during publicity pausing the award.

The lot: documents issued Wednesday 4 November 2026 09:30, four bids, opened at the deadline (Wednesday 25 November
09:30), evaluated; the report is received (the session `done`, scaffolded: publicity_kit) at 16:00 the same day.
"""

from datetime import datetime, timedelta

import pytest
import time_machine

from audit.models import AuditEvent
from bidding.models import Bid
from evaluation.models import EvaluationSession
from notices.models import Notice
from realtime.groups import org_group
from tests import factories
from tests.trading.publicity_kit import evaluation_done, ranking_of
from trading import services
from trading.api import DomainError
from trading.models import Lot, Objection, Role
from trading.rules import LOCAL

ISSUED = datetime(2026, 11, 4, 9, 30, tzinfo=LOCAL)
REPORT = datetime(2026, 11, 25, 16, 0, tzinfo=LOCAL)
START = datetime(2026, 11, 26, 10, 0, tzinfo=LOCAL)  # Thursday: the publicity ends Monday 30 November 23:59:59
END = datetime(2026, 11, 30, 23, 59, 59, tzinfo=LOCAL)
ZERO_SWEEP = {"tendering": 0, "opening": 0, "unsealed": 0, "publicity": 0, "awarded": 0}


def travel(moment: datetime):
    return time_machine.travel(moment, tick=False)


def state(lot: Lot) -> dict:
    """Everything a refused action must leave untouched."""
    return {
        **Lot.objects.filter(pk=lot.pk).values().get(),
        "notices": Notice.objects.filter(lot=lot).count(),
        "objections": list(Objection.objects.filter(lot=lot).order_by("raised_at").values()),
        "audit_events": AuditEvent.objects.count(),
    }


def refused(code, fn, *, watch, **kwargs) -> DomainError:
    before = state(watch)
    with pytest.raises(DomainError) as error:
        fn(**kwargs)
    assert error.value.code == code
    assert state(watch) == before
    return error.value


def status(lot: Lot) -> str:
    return Lot.objects.values_list("status", flat=True).get(pk=lot.pk)


@pytest.fixture
def evaluating(parties) -> Lot:
    lot = factories.lot(parties, stage="published", issued=ISSUED)
    factories.enough_bids(parties, lot, count=4)
    with travel(lot.bid_deadline):
        services.sweep_deadlines()
    factories.finish_opening(parties, lot)
    with travel(lot.bid_deadline + timedelta(hours=1)):
        services.lot_start_evaluation(lot=lot, actor=parties.staff)
    return lot


def bids_in(lot: Lot, *bidders) -> list[Bid]:
    return [Bid.objects.select_related("bidder").get(lot=lot, bidder=b.organisation) for b in bidders]


@pytest.fixture
def publicised(parties, evaluating) -> Lot:
    evaluation_done(parties, evaluating, at=REPORT)
    with travel(START):
        return services.lot_start_publicity(lot=evaluating, actor=parties.staff)


def object_to_result(lot, bidder, when, subject="第一中标候选人业绩不实"):
    with travel(when):
        return services.objection_raise(lot=lot, actor=bidder, stage="results", subject=subject, content="业绩证明材料与实际不符")


# --- Publicity ----------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_publicity_waits_for_the_evaluation_to_be_done(parties, evaluating, client_for):
    with travel(REPORT):
        error = refused(
            "evaluation_not_done", services.lot_start_publicity, lot=evaluating, actor=parties.staff, watch=evaluating
        )
        assert error.extra == {"phase": None}
        session = evaluation_done(parties, evaluating, at=REPORT)
        EvaluationSession.objects.filter(pk=session.pk).update(phase="summary", finished_at=None)
        error = refused(
            "evaluation_not_done", services.lot_start_publicity, lot=evaluating, actor=parties.staff, watch=evaluating
        )
        assert error.extra == {"phase": "summary"}
        response = client_for(parties.staff).post(f"/api/lots/{evaluating.pk}/start-publicity/")
        assert (response.status_code, response.json()["code"]) == (409, "evaluation_not_done")
        evaluation_done(parties, evaluating, at=REPORT)
        refused("role_not_allowed", services.lot_start_publicity, lot=evaluating, actor=parties.tenderee, watch=evaluating)
        response = client_for(parties.staff).post(f"/api/lots/{evaluating.pk}/start-publicity/")
    assert (response.status_code, response.json()["status"]) == (200, "publicity")
    evaluating.refresh_from_db()
    assert (evaluating.publicity_start, evaluating.publicity_end) == (REPORT, datetime(2026, 11, 30, 23, 59, 59, tzinfo=LOCAL))
    assert Notice.objects.filter(lot=evaluating, kind="candidates").count() == 1


@pytest.mark.django_db
def test_the_notice_lists_the_candidates_in_order(parties, evaluating, client_for):
    fourth, first, third, second = bids_in(evaluating, *parties.bidders)
    evaluation_done(parties, evaluating, at=REPORT, ranking=ranking_of(evaluating, [first, second, third, fourth]))
    with travel(START):
        services.lot_start_publicity(lot=evaluating, actor=parties.staff)

    notice = Notice.objects.get(lot=evaluating, kind="candidates")
    assert (notice.title, notice.published_at, notice.published_by) == ("一标段 中标候选人公示", START, parties.staff)
    lines = notice.body.splitlines()
    ranked = [line for line in lines if line.startswith("第")]
    assert ranked == [
        f"第{rank}名：{bid.bidder.name}（统一社会信用代码 {bid.bidder.credit_code}），投标报价：人民币 {price} 元，综合得分：{total}"
        for rank, bid, price, total in [
            (1, first, "900001.00", "90.00"),
            (2, second, "900002.00", "85.00"),
            (3, third, "900003.00", "80.00"),
        ]
    ]
    assert fourth.bidder.name not in notice.body  # 条例53: three candidates at most
    assert "公示期：2026年11月26日 10:00 至 2026年11月30日 23:59（北京时间）" in lines
    assert any("公示期间通过交易平台提出" in line and "第五十四条" in line and "3日内作出答复" in line for line in lines)
    event = AuditEvent.objects.get(action="lot.publicity_started", lot_id=evaluating.pk)
    assert event.after["candidates"] == [
        {"rank": rank, "bid": str(bid.pk), "bidder": bid.bidder_id} for rank, bid in enumerate([first, second, third], 1)
    ]
    assert (event.after["late"], event.actor_id) == (False, parties.staff.pk)
    listed = client_for(None).get("/api/notices/", {"kind": "candidates"}).json()["results"]  # public
    assert [row["body"] for row in listed] == [notice.body]


@pytest.mark.django_db
def test_the_bidders_are_told_after_commit(parties, evaluating, django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    monkeypatch.setattr("realtime.services._send", lambda groups, payload: sent.append((groups, payload)))
    evaluation_done(parties, evaluating, at=REPORT)
    with django_capture_on_commit_callbacks(execute=True), travel(START):
        services.lot_start_publicity(lot=evaluating, actor=parties.staff)
        assert sent == []  # nothing before the commit
    notice = Notice.objects.get(lot=evaluating, kind="candidates")
    orgs = sorted(b.organisation_id for b in parties.bidders)
    assert sent == [
        (
            [org_group(org) for org in orgs],
            {"type": "candidates", "lot": evaluating.pk, "notice": notice.pk, "publicity_end": "2026-11-30T23:59:59+08:00"},
        )
    ]


@pytest.mark.django_db
def test_lowest_price_candidates_show_the_evaluated_price(parties, evaluating):
    bids = bids_in(evaluating, *parties.bidders[:2])
    ranking = [
        {"bid": str(bid.pk), "bidder": bid.bidder.name, "rank": rank, "evaluated_price": f"88000{rank}.00", "price": "900000.00"}
        for rank, bid in enumerate(bids, start=1)
    ]
    evaluation_done(parties, evaluating, at=REPORT, ranking=ranking)
    with travel(START):
        services.lot_start_publicity(lot=evaluating, actor=parties.staff)
    body = Notice.objects.get(lot=evaluating, kind="candidates").body
    assert (
        f"第1名：{bids[0].bidder.name}（统一社会信用代码 {bids[0].bidder.credit_code}），投标报价：人民币 900000.00 元，评标价：人民币 880001.00 元"
        in body
    )
    assert "第2名" in body and "第3名" not in body


@pytest.mark.django_db
def test_the_sweep_publishes_candidates_staff_have_not(parties, evaluating):
    evaluation_done(parties, evaluating, at=REPORT)
    # Received Wednesday: due within 3 days, Saturday, which rolls over to Monday 30 November; the sweep publishes at
    # the start of that last day.
    with travel(datetime(2026, 11, 29, 23, 59, 59, tzinfo=LOCAL)):
        assert services.sweep_deadlines() == ZERO_SWEEP
    assert status(evaluating) == "evaluating"
    monday = datetime(2026, 11, 30, 0, 0, tzinfo=LOCAL)
    with travel(monday):
        assert services.sweep_deadlines() == {**ZERO_SWEEP, "publicity": 1}
        assert services.sweep_deadlines() == ZERO_SWEEP
    evaluating.refresh_from_db()
    assert (evaluating.status, evaluating.publicity_start, evaluating.publicity_end) == (
        "publicity",
        monday,
        datetime(2026, 12, 3, 23, 59, 59, tzinfo=LOCAL),
    )
    event = AuditEvent.objects.get(action="lot.publicity_started", lot_id=evaluating.pk)
    assert (event.actor_id, event.after["late"], event.after["due"]) == (None, False, "2026-11-30T15:59:59.000000Z")
    notice = Notice.objects.get(lot=evaluating, kind="candidates")
    assert (notice.published_by, notice.published_at) == (None, monday)


@pytest.mark.django_db
def test_the_sweep_leaves_an_unfinished_or_paused_evaluation(parties, evaluating):
    session = evaluation_done(parties, evaluating, at=REPORT)
    EvaluationSession.objects.filter(pk=session.pk).update(phase="summary", finished_at=None)
    with travel(datetime(2026, 12, 5, 10, 0, tzinfo=LOCAL)):
        assert services.sweep_deadlines() == ZERO_SWEEP
    evaluation_done(parties, evaluating, at=REPORT)
    with travel(datetime(2026, 11, 27, 10, 0, tzinfo=LOCAL)):
        services.lot_suspend(lot=evaluating, actor=parties.supervisor, reason="核查评标过程")
    with travel(datetime(2026, 12, 5, 10, 0, tzinfo=LOCAL)):
        assert services.sweep_deadlines() == ZERO_SWEEP
    assert status(evaluating) == "suspended"


# --- Objections to the result ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_objection_pauses_the_award_until_answered(parties, publicised):
    lot = publicised
    objection = object_to_result(lot, parties.bidders[0], datetime(2026, 11, 27, 10, 0, tzinfo=LOCAL))
    lot.refresh_from_db()
    assert (lot.status, lot.suspended_from, lot.suspension_kind, lot.suspension_reason) == (
        "suspended",
        "publicity",
        "objection",
        "条例54",
    )
    # 条例54: answered within 3 days of receipt (Friday + 3 = Monday).
    assert (objection.stage, objection.status, objection.answer_due) == ("results", "pending", END)
    assert objection.raised_by == parties.bidders[0].organisation
    second = object_to_result(lot, parties.bidders[1], datetime(2026, 11, 30, 9, 0, tzinfo=LOCAL), subject="价格分计算有误")
    assert status(lot) == "suspended"
    with travel(datetime(2026, 11, 30, 10, 0, tzinfo=LOCAL)):
        refused("objection_pending", services.lot_resume, lot=lot, actor=parties.staff, watch=lot)

    # Publicity over while paused: no award.
    with travel(datetime(2026, 12, 1, 0, 0, tzinfo=LOCAL)):
        assert services.sweep_deadlines() == ZERO_SWEEP
        services.objection_answer(objection=objection, actor=parties.tenderee, answer="经核查，业绩属实")
        assert status(lot) == "suspended"  # the second is still pending
        assert services.sweep_deadlines() == ZERO_SWEEP
    with travel(datetime(2026, 12, 1, 10, 0, tzinfo=LOCAL)):
        services.objection_answer(objection=second, actor=parties.tenderee, answer="价格分计算无误")
        assert status(lot) == "publicity"
        assert services.sweep_deadlines() == {**ZERO_SWEEP, "awarded": 1}
    lot.refresh_from_db()
    assert (lot.status, lot.status_changed_at, lot.suspended_from) == ("awarded", datetime(2026, 12, 1, 10, 0, tzinfo=LOCAL), "")
    assert list(
        AuditEvent.objects.filter(lot_id=lot.pk, action__in=["lot.suspended", "lot.resumed", "lot.awarded"])
        .order_by("seq")
        .values_list("action", "actor_id")
    ) == [("lot.suspended", None), ("lot.resumed", parties.tenderee.pk), ("lot.awarded", None)]


@pytest.mark.django_db
def test_answering_within_publicity_resumes_it(parties, publicised):
    objection = object_to_result(publicised, parties.bidders[2], datetime(2026, 11, 27, 10, 0, tzinfo=LOCAL))
    with travel(datetime(2026, 11, 28, 10, 0, tzinfo=LOCAL)):
        services.objection_answer(objection=objection, actor=parties.tenderee, answer="经核查，异议不成立")
        assert services.sweep_deadlines() == ZERO_SWEEP
    assert status(publicised) == "publicity"
    with travel(END + timedelta(seconds=1)):
        assert services.sweep_deadlines() == {**ZERO_SWEEP, "awarded": 1}


@pytest.mark.django_db
def test_objections_outside_the_publicity_are_refused(parties, evaluating):
    bidder = parties.bidders[0]
    raise_ = services.objection_raise
    kwargs = {"lot": evaluating, "actor": bidder, "stage": "results", "subject": "评标结果", "content": "排序有误"}
    evaluation_done(parties, evaluating, at=REPORT)
    with travel(REPORT + timedelta(hours=1)):  # the report is in, the candidates are not published yet
        error = refused("objection_outside_publicity", raise_, watch=evaluating, **kwargs)
    assert (error.status_code, error.zh) == (422, "对评标结果的异议应当在中标候选人公示期间提出（条例54）")
    with travel(START):
        services.lot_start_publicity(lot=evaluating, actor=parties.staff)
    with travel(END):  # the last second of the period still counts
        objection = raise_(**kwargs)
    assert (objection.stage, status(evaluating)) == ("results", "suspended")
    with travel(END + timedelta(seconds=1)):  # over (the lot is paused meanwhile)
        refused("objection_outside_publicity", raise_, watch=evaluating, **kwargs)
        services.objection_answer(objection=objection, actor=parties.tenderee, answer="异议不成立")
        refused("objection_outside_publicity", raise_, watch=evaluating, **kwargs)  # over, the sweep has not run yet
        services.sweep_deadlines()
        refused("objection_outside_publicity", raise_, watch=evaluating, **kwargs)
    assert status(evaluating) == "awarded"


@pytest.mark.django_db
def test_only_bidders_of_the_lot_object_to_its_result(parties, publicised):
    outsider = factories.user(Role.BIDDER, factories.org("bidder", "未投标公司"), "bidder-outsider")
    kwargs = {"lot": publicised, "stage": "results", "subject": "评标结果", "content": "排序有误"}
    with travel(datetime(2026, 11, 27, 10, 0, tzinfo=LOCAL)):
        error = refused("not_a_bidder_of_lot", services.objection_raise, actor=outsider, watch=publicised, **kwargs)
        assert error.status_code == 403
        for user in (parties.tenderee, parties.staff, parties.expert):
            refused("role_not_allowed", services.objection_raise, actor=user, watch=publicised, **kwargs)
        refused("invalid_stage", services.objection_raise, actor=parties.bidders[0], watch=publicised, **{**kwargs, "stage": "x"})
        # The tender documents' objections are long closed.
        refused(
            "invalid_lot_state",
            services.objection_raise,
            actor=parties.bidders[0],
            watch=publicised,
            **{**kwargs, "stage": "documents"},
        )


@pytest.mark.django_db
def test_results_objection_api(parties, publicised, client_for):
    bidder = parties.bidders[1]
    path = f"/api/lots/{publicised.pk}/objections/"
    with travel(datetime(2026, 11, 27, 10, 0, tzinfo=LOCAL)):
        response = client_for(bidder).post(
            path, {"stage": "results", "subject": "评标结果", "content": "技术分计算有误"}, format="json"
        )
        assert response.status_code == 201, response.json()
        body = response.json()
        assert (body["stage"], body["status"], body["raised_by"]) == ("results", "pending", bidder.organisation.name)
        listed = client_for(parties.tenderee).get("/api/objections/", {"stage": "results"}).json()["results"]
        assert [row["id"] for row in listed] == [body["id"]]
        assert client_for(parties.tenderee).get("/api/objections/", {"stage": "documents"}).json()["results"] == []
        assert client_for(parties.bidders[0]).get(path).json() == []  # another bidder does not see it
        response = client_for(parties.staff).post(f"/api/objections/{body['id']}/answer/", {"answer": "不成立"}, format="json")
        assert (response.status_code, response.json()["code"]) == (403, "not_project_party")
        response = client_for(parties.tenderee).post(
            f"/api/objections/{body['id']}/answer/", {"answer": "经复核无误"}, format="json"
        )
    assert (response.status_code, response.json()["status"]) == (200, "answered")
    assert status(publicised) == "publicity"
