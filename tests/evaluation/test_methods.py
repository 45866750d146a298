"""The evaluation method of a lot (评标办法): configuration, validation, freezing at issue, and the API by role."""

from datetime import datetime, timedelta
from decimal import Decimal as D

import pytest
from django.db import IntegrityError, transaction

from audit.models import AuditEvent
from evaluation import services
from evaluation.formulas import AggregationRule, PriceRule, price_scores
from evaluation.models import Criterion, EvaluationMethod
from tests import factories
from trading import services as trading
from trading.api import DomainError
from trading.models import Review, RuleSet
from trading.rules import LOCAL

pytestmark = pytest.mark.django_db

ISSUED = factories.at(datetime(2026, 11, 2).date())  # factories.lot's default issue day
NOW = ISSUED - timedelta(hours=2)  # after filing (a day before), before the documents are issued


def comprehensive(**overrides) -> dict:
    """A 40 / 30 / 30 method: two technical criteria (25 + 15), two commercial (20 + 10), two pass/fail reviews."""
    fields = {
        "kind": "comprehensive",
        "technical_weight": D(40),
        "commercial_weight": D(30),
        "price_weight": D(30),
        "price_formula": "benchmark",
        "criteria": [
            {"stage": "qualification", "name": "营业执照与资质", "guidance": "施工总承包二级及以上"},
            {"stage": "compliance", "name": "投标报价不超过最高投标限价", "guidance": "条例51"},
            {"stage": "technical", "name": "施工方案", "max_score": D(25), "guidance": "优25 良18 一般10"},
            {"stage": "technical", "name": "工期与质量保证", "max_score": D(15)},
            {"stage": "commercial", "name": "企业业绩", "max_score": D(20)},
            {"stage": "commercial", "name": "项目经理业绩", "max_score": D(10)},
        ],
    }
    fields.update(overrides)
    return fields


def lowest_price(**overrides) -> dict:
    fields = {
        "kind": "lowest_price",
        "criteria": [
            {"stage": "qualification", "name": "资质"},
            {"stage": "compliance", "name": "工期满足招标文件要求"},
        ],
    }
    fields.update(overrides)
    return fields


def spec(fields: dict) -> services.MethodInput:
    return services.MethodInput(**fields)


def state() -> dict:
    return {
        "methods": list(EvaluationMethod.objects.order_by("pk").values()),
        "criteria": list(Criterion.objects.order_by("pk").values()),
        "audit": AuditEvent.objects.count(),
    }


@pytest.fixture
def filed(parties):
    return factories.lot(parties, stage="filed")


def publish(parties, lot):
    lot, _ = trading.lot_publish(lot=lot, actor=parties.tenderee, title="招标公告", body="欢迎投标", now=ISSUED)
    return lot


def refused(code: str, call, *args, **kwargs) -> DomainError:
    before = state()
    with pytest.raises(DomainError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code, caught.value
    assert state() == before
    return caught.value


# --- Services -----------------------------------------------------------------------------------------------------


def test_create_copies_the_rule_set_parameters_and_numbers_the_criteria(parties, filed):
    method = services.method_create(lot=filed, actor=parties.tenderee, now=NOW, spec=spec(comprehensive()))
    rule_set = filed.project.rule_set
    assert (method.kind, method.technical_weight, method.commercial_weight, method.price_weight) == (
        "comprehensive",
        D(40),
        D(30),
        D(30),
    )
    assert (method.price_formula, method.price_drop_extremes, method.price_drop_min_bids) == ("benchmark", True, 5)
    assert (method.price_k, method.price_e_above, method.price_e_below) == (D("1.0000"), D("1.00"), D("0.50"))
    assert (method.score_drop_extremes, method.score_drop_min_members) == (False, 7)
    assert method.price_k == rule_set.price_k and method.price_e_below == rule_set.price_e_below
    rows = list(method.criteria.order_by("pk").values_list("stage", "position", "name", "max_score"))
    assert rows == [
        ("qualification", 1, "营业执照与资质", None),
        ("compliance", 1, "投标报价不超过最高投标限价", None),
        ("technical", 1, "施工方案", D("25.00")),
        ("technical", 2, "工期与质量保证", D("15.00")),
        ("commercial", 1, "企业业绩", D("20.00")),
        ("commercial", 2, "项目经理业绩", D("10.00")),
    ]
    event = AuditEvent.objects.filter(action="evaluation_method.created").get()
    assert (event.lot_id, event.actor_id, event.after["kind"], len(event.after["criteria"])) == (
        filed.pk,
        parties.tenderee.pk,
        "comprehensive",
        6,
    )


def test_the_lot_keeps_its_parameters_when_the_rule_set_changes(parties, filed):
    method = services.method_create(lot=filed, actor=parties.tenderee, now=NOW, spec=spec(comprehensive(price_k=D("0.9500"))))
    RuleSet.objects.filter(pk=filed.project.rule_set_id).update(price_k=D("0.9000"), price_e_above=D("2.00"))
    method.refresh_from_db()
    assert (method.price_k, method.price_e_above) == (D("0.9500"), D("1.00"))
    rule = services.price_rule(method)
    assert rule == PriceRule("benchmark", D("30.00"), True, 5, D("0.9500"), D("1.00"), D("0.50"))
    assert services.aggregation_rule(method) == AggregationRule(False, 7)
    # The rule feeds the formulas: one bid, K = 0.95 → 30 − (1/0.95 − 1) × 100 = 24.7368… → 24.74
    assert price_scores({"only": D(1000000)}, rule).scores == {"only": D("24.74")}


def test_lowest_evaluated_price_method(parties, filed):
    method = services.method_create(lot=filed, actor=parties.tenderee, now=NOW, spec=spec(lowest_price()))
    assert (method.kind, method.price_formula, method.price_weight) == ("lowest_price", "", D(0))
    assert method.criteria.count() == 2


def test_replace_before_issue_then_frozen(parties, filed):
    method = services.method_create(lot=filed, actor=parties.tenderee, now=NOW, spec=spec(comprehensive()))
    criteria = [
        {"stage": "compliance", "name": "实质性响应"},
        {"stage": "technical", "name": "施工方案", "max_score": D("50.5")},
        {"stage": "commercial", "name": "业绩", "max_score": D("9.5")},
    ]
    replaced = services.method_replace(
        method=method,
        actor=parties.tenderee,
        now=NOW + timedelta(minutes=5),
        spec=spec(
            comprehensive(
                technical_weight=D("50.5"),
                commercial_weight=D("9.5"),
                price_weight=D(40),
                price_formula="lowest",
                criteria=criteria,
            )
        ),
    )
    assert (replaced.pk, replaced.price_formula, replaced.price_weight) == (method.pk, "lowest", D("40.00"))
    assert list(replaced.criteria.order_by("pk").values_list("name", flat=True)) == ["实质性响应", "施工方案", "业绩"]
    event = AuditEvent.objects.filter(action="evaluation_method.replaced").get()
    assert event.before["price_formula"] == "benchmark" and event.after["price_formula"] == "lowest"

    lot = publish(parties, filed)
    assert lot.docs_issued_at == ISSUED
    refused(
        "method_frozen", services.method_replace, method=replaced, actor=parties.tenderee, now=ISSUED, spec=spec(comprehensive())
    )


def test_cannot_create_after_issue(parties):
    lot = factories.lot(parties, stage="published")
    refused("method_frozen", services.method_create, lot=lot, actor=parties.tenderee, now=ISSUED, spec=spec(comprehensive()))


def test_cannot_change_while_the_filing_is_under_review(parties):
    lot = factories.lot(parties, stage="registered")
    method = services.method_create(lot=lot, actor=parties.tenderee, now=NOW - timedelta(days=2), spec=spec(comprehensive()))
    factories.document(lot, parties.tenderee, NOW - timedelta(days=1))
    trading.filing_submit(
        lot=lot,
        actor=parties.tenderee,
        docs_sale_end=datetime(2026, 11, 9, 17, tzinfo=LOCAL),
        bid_deadline=datetime(2026, 11, 23, 9, 30, tzinfo=LOCAL),
        now=NOW - timedelta(days=1),
    )
    assert Review.objects.filter(lot=lot, status="pending").exists()
    refused("review_pending", services.method_replace, method=method, actor=parties.tenderee, now=NOW, spec=spec(comprehensive()))


def test_one_method_per_lot(parties, filed):
    services.method_create(lot=filed, actor=parties.tenderee, now=NOW, spec=spec(comprehensive()))
    refused("method_exists", services.method_create, lot=filed, actor=parties.tenderee, now=NOW, spec=spec(lowest_price()))


@pytest.mark.parametrize("who", ["staff", "supervisor", "other_tenderee", "expert", "bidder"])
def test_only_the_tenderee_side_configures(parties, filed, who):
    actor = parties.bidders[0] if who == "bidder" else getattr(parties, who)
    error = refused("not_project_party", services.method_create, lot=filed, actor=actor, now=NOW, spec=spec(comprehensive()))
    assert error.status_code == 403


def test_the_agency_configures_for_its_project(parties):
    project = trading.project_create(
        actor=parties.agency,
        code="P-AGENCY",
        name="代理项目",
        rule_set=factories.rule_set(),
        region_code="450102",
        tenderee=parties.tenderee.organisation,
        now=NOW,
    )
    lot = trading.lot_create(
        actor=parties.agency, project=project, name="一标段", estimated_price=D(1000000), bond_amount=D(0), now=NOW
    )
    assert services.method_create(lot=lot, actor=parties.agency, now=NOW, spec=spec(lowest_price())).lot_id == lot.pk


def _without(fields: dict, stage: str) -> list[dict]:
    return [c for c in fields["criteria"] if c["stage"] != stage]


@pytest.mark.parametrize(
    ("code", "fields"),
    [
        # 40 + 30 + 25 = 95
        ("weights_sum", comprehensive(price_weight=D(25))),
        ("price_weight_required", comprehensive(technical_weight=D(60), commercial_weight=D(40), price_weight=D(0))),
        # technical criteria 25 + 15 = 40, weight 45 (and commercial 25 so that the weights still sum to 100)
        ("max_scores_sum", comprehensive(technical_weight=D(45), commercial_weight=D(25))),
        ("max_scores_sum", comprehensive(criteria=_without(comprehensive(), "commercial"))),
        (
            "max_score_not_allowed",
            comprehensive(criteria=[{"stage": "qualification", "name": "资质", "max_score": D(5)}, *comprehensive()["criteria"]]),
        ),
        ("max_score_required", comprehensive(criteria=[*comprehensive()["criteria"], {"stage": "technical", "name": "无分值"}])),
        ("invalid_criterion", comprehensive(criteria=[*comprehensive()["criteria"], {"stage": "technical", "name": " "}])),
        ("invalid_criterion", comprehensive(criteria=[*comprehensive()["criteria"], {"stage": "bonus", "name": "加分"}])),
        (
            "no_review_criteria",
            comprehensive(criteria=[c for c in comprehensive()["criteria"] if c["stage"] in ("technical", "commercial")]),
        ),
        ("weights_not_allowed", lowest_price(price_weight=D(100))),
        ("weights_not_allowed", lowest_price(price_formula="lowest")),
        (
            "scored_criteria_not_allowed",
            lowest_price(
                criteria=[{"stage": "compliance", "name": "响应"}, {"stage": "technical", "name": "方案", "max_score": D(1)}]
            ),
        ),
        ("invalid_parameter", comprehensive(price_k=D("1.0500"))),
        ("invalid_parameter", comprehensive(price_k=D(0))),
        ("invalid_parameter", comprehensive(price_drop_min_bids=2)),
        ("invalid_parameter", comprehensive(score_drop_min_members=2)),
        ("invalid_parameter", comprehensive(price_e_below=D("-0.5"))),
        ("invalid_price_formula", comprehensive(price_formula="median")),
        ("invalid_kind", comprehensive(kind="lottery")),
    ],
)
def test_validation_refusals_change_nothing(parties, filed, code, fields):
    error = refused(code, services.method_create, lot=filed, actor=parties.tenderee, now=NOW, spec=spec(fields))
    assert error.status_code == 400


def test_max_scores_sum_names_the_stage(parties, filed):
    error = refused(
        "max_scores_sum",
        services.method_create,
        lot=filed,
        actor=parties.tenderee,
        now=NOW,
        spec=spec(comprehensive(technical_weight=D(45), commercial_weight=D(25))),
    )
    assert (error.extra["stage"], error.extra["weight"], error.extra["sum"]) == ("technical", "45", "40")


def test_database_constraints_hold_without_the_service(parties, filed):
    base = {
        "lot": filed,
        "created_by": parties.tenderee,
        "updated_by": parties.tenderee,
        "created_at": NOW,
        "updated_at": NOW,
        **{k: getattr(filed.project.rule_set, k) for k in services._PARAMETERS},
    }
    for bad in (
        {
            "kind": "comprehensive",
            "price_formula": "benchmark",
            "technical_weight": 40,
            "commercial_weight": 30,
            "price_weight": 20,
        },
        {"kind": "comprehensive", "price_formula": "", "technical_weight": 40, "commercial_weight": 30, "price_weight": 30},
        {"kind": "lowest_price", "price_formula": "", "price_weight": 10},
        {"kind": "comprehensive", "price_formula": "lowest", "price_weight": 100, "price_k": D("1.5")},
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            EvaluationMethod.objects.create(**{**base, **bad})
    # 33.33 + 33.33 + 33.34 is 100 on SQLite (floats) too.
    method = EvaluationMethod.objects.create(
        **base,
        kind="comprehensive",
        price_formula="lowest",
        technical_weight=D("33.33"),
        commercial_weight=D("33.33"),
        price_weight=D("33.34"),
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Criterion.objects.create(method=method, stage="technical", position=1, name="无分值")
    with pytest.raises(IntegrityError), transaction.atomic():
        Criterion.objects.create(method=method, stage="compliance", position=1, name="有分值", max_score=D(1))


# --- API --------------------------------------------------------------------------------------------------------


def body(**overrides) -> dict:
    """comprehensive() as JSON."""

    def plain(value):
        if isinstance(value, D):
            return str(value)
        if isinstance(value, list):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return plain(comprehensive(**overrides))


def test_api_create_read_replace_by_role(parties, filed, client_for):
    import time_machine

    with time_machine.travel(NOW, tick=False):
        # Nobody but the tenderee side may create it; those who cannot see the lot get 404.
        for who in (parties.staff, parties.supervisor):
            response = client_for(who).post("/api/evaluation-methods/", {"lot": filed.pk, **body()}, format="json")
            assert (response.status_code, response.json()["code"]) == (403, "not_project_party")
        for who in (parties.bidders[0], parties.other_tenderee, parties.expert):
            response = client_for(who).post("/api/evaluation-methods/", {"lot": filed.pk, **body()}, format="json")
            assert response.status_code == 404
        assert client_for(None).post("/api/evaluation-methods/", {"lot": filed.pk, **body()}, format="json").status_code == 401
        assert EvaluationMethod.objects.count() == 0

        tenderee = client_for(parties.tenderee)
        response = tenderee.post("/api/evaluation-methods/", {"lot": filed.pk, **body(price_weight="25")}, format="json")
        assert (response.status_code, response.json()["code"], response.json()["sum"]) == (400, "weights_sum", "95.00")
        response = tenderee.post("/api/evaluation-methods/", {"lot": filed.pk, **body()}, format="json")
        assert response.status_code == 201, response.json()
        created = response.json()
        method_id = created["id"]
        assert (created["lot"], created["kind"], created["kind_label"], created["price_k"]) == (
            filed.pk,
            "comprehensive",
            "综合评估法",
            "1.0000",
        )
        assert [(c["stage"], c["position"], c["max_score"]) for c in created["criteria"]] == [
            ("qualification", 1, None),
            ("compliance", 1, None),
            ("technical", 1, "25.00"),
            ("technical", 2, "15.00"),
            ("commercial", 1, "20.00"),
            ("commercial", 2, "10.00"),
        ]

        # Before issue: the tenderee side, staff and supervisors read it; bidders, experts, other tenderees do not.
        for who in (parties.tenderee, parties.staff, parties.supervisor):
            client = client_for(who)
            assert client.get(f"/api/evaluation-methods/{method_id}/").json() == created
            assert client.get(f"/api/evaluation-methods/?lot={filed.pk}").json()["count"] == 1
        for who in (parties.bidders[0], parties.expert, parties.other_tenderee):
            client = client_for(who)
            assert client.get(f"/api/evaluation-methods/{method_id}/").status_code == 404
            assert client.get("/api/evaluation-methods/").json()["count"] == 0
        assert client_for(None).get("/api/evaluation-methods/").status_code == 401

        # Replace: PUT, the tenderee side only.
        response = client_for(parties.staff).put(f"/api/evaluation-methods/{method_id}/", body(), format="json")
        assert response.status_code == 403
        response = tenderee.put(f"/api/evaluation-methods/{method_id}/", body(price_formula="lowest"), format="json")
        assert (response.status_code, response.json()["price_formula"]) == (200, "lowest")
        assert tenderee.patch(f"/api/evaluation-methods/{method_id}/", {"price_weight": "1"}, format="json").status_code == 405

    publish(parties, filed)
    with time_machine.travel(ISSUED + timedelta(hours=1), tick=False):
        # Issued: part of the published documents, bidders and experts read it like the lot itself; another tenderee
        # sees only its own lots (trading.selectors.lots_visible_to) and still gets 404. Nobody changes it.
        assert client_for(parties.other_tenderee).get(f"/api/evaluation-methods/{method_id}/").status_code == 404
        for who in (parties.bidders[0], parties.expert):
            response = client_for(who).get(f"/api/evaluation-methods/{method_id}/")
            assert response.status_code == 200, (who, response.json())
            assert response.json()["price_formula"] == "lowest"
        response = tenderee.put(f"/api/evaluation-methods/{method_id}/", body(), format="json")
        assert (response.status_code, response.json()["code"]) == (409, "method_frozen")
        assert EvaluationMethod.objects.get().price_formula == "lowest"
