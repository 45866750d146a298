"""evaluation/formulas.py against tables computed by hand (docs/evaluation.md, "Method and formulas").

Every expected figure below was worked out on paper first; the arithmetic is written out for the main cases.
Rounding: 2 decimals, ROUND_HALF_UP, from the exact value (fractions), at the benchmark, each price score, each
aggregated criterion score and the savings rate; subtotals and totals are sums of those.
"""

from datetime import datetime
from decimal import Decimal as D
from fractions import Fraction

import pytest

from evaluation.formulas import (
    AggregationRule,
    FormulaError,
    PriceRule,
    RankInput,
    aggregate,
    benchmark_price,
    bid_totals,
    dispersion,
    dispersion_table,
    evaluated_price,
    extension_carried,
    majority,
    price_scores,
    rank_by_evaluated_price,
    rank_by_score,
    round_half_up,
    savings,
)
from trading import rules
from trading.models import RuleSet
from trading.rules import LOCAL


def benchmark_rule(**kw) -> PriceRule:
    values = {"formula": "benchmark", "weight": D(30), "drop_extremes": True, "drop_min_bids": 5, "k": D(1)}
    values.update({"e_above": D(1), "e_below": D("0.5"), **kw})
    return PriceRule(**values)


# --- Rounding ---------------------------------------------------------------------------------------------------


def test_round_half_up_from_the_exact_value():
    assert round_half_up(Fraction(1, 200)) == D("0.01")  # 0.005 → 0.01 (half up, not half even)
    assert round_half_up(Fraction(-1, 200)) == D("-0.01")  # halves away from zero, like Decimal's ROUND_HALF_UP
    assert round_half_up(Fraction(D("2.675"))) == D("2.68")  # a float would give 2.67 (2.67499999…)
    assert round_half_up(Fraction(1, 3)) == D("0.33")
    assert round_half_up(Fraction(2, 3)) == D("0.67")
    assert round_half_up(Fraction(0)) == D("0.00")
    assert str(round_half_up(Fraction(7))) == "7.00"


# --- Price score: the benchmark formula -------------------------------------------------------------------------------


def test_benchmark_formula_drops_extremes_applies_k_and_e_above_and_below():
    # Five valid prices, drop one highest and one lowest (5 >= 5), K = 0.98, weight 30, E above 1.00, E below 0.50.
    #   dropped: 1,200,000 (highest) and 800,000 (lowest)
    #   mean = (1,050,000 + 1,000,000 + 950,000) / 3 = 3,000,000 / 3 = 1,000,000
    #   benchmark B = 1,000,000 × 0.98 = 980,000.00
    # D = (price − B) / B × 100:
    #   1,050,000: D = 70,000 / 980,000 × 100 = +7.142857…%  → 30 − 7.142857… × 1.00 = 22.857142… → 22.86
    #   1,000,000: D = 20,000 / 980,000 × 100 = +2.040816…%  → 30 − 2.040816…       = 27.959183… → 27.96
    #     950,000: D = −30,000 / 980,000 × 100 = −3.061224…% → 30 − 3.061224… × 0.50 = 28.469387… → 28.47
    #   1,200,000: D = 220,000 / 980,000 × 100 = +22.448979…% → 30 − 22.448979…      = 7.551020… → 7.55
    #     800,000: D = −180,000 / 980,000 × 100 = −18.367346…% → 30 − 9.183673…      = 20.816326… → 20.82
    prices = {"A": D(1050000), "B": D(1000000), "C": D(950000), "D": D(1200000), "E": D(800000)}
    result = price_scores(prices, benchmark_rule(k=D("0.98")))
    assert result.benchmark == D("980000.00")
    assert result.mean == Fraction(1000000)
    assert result.dropped == (D("1200000.00"), D("800000.00"))
    assert result.scores == {"A": D("22.86"), "B": D("27.96"), "C": D("28.47"), "D": D("7.55"), "E": D("20.82")}
    # Below the benchmark costs half as much per percent as above it: C (−3.06 %) beats B (+2.04 %).
    assert result.scores["C"] > result.scores["B"]


def test_too_few_bids_to_drop_extremes_keeps_them_all():
    # Four prices, drop only from 5: mean = (900 + 1,000 + 1,100 + 1,400) / 4 = 4,400 / 4 = 1,100; K = 1 → B = 1,100.00
    #   1,100: D = 0                         → 30.00 (exactly at the benchmark: full marks)
    #   1,400: D = 300 / 1,100 × 100 = +27.2727…% → 30 − 27.2727… = 2.7272… → 2.73
    #     900: D = −200 / 1,100 × 100 = −18.1818…% → 30 − 9.0909… = 20.9090… → 20.91
    #   1,000: D = −100 / 1,100 × 100 = −9.0909…%  → 30 − 4.5454… = 25.4545… → 25.45
    prices = {"a": D(900), "b": D(1000), "c": D(1100), "d": D(1400)}
    result = price_scores(prices, benchmark_rule())
    assert result.dropped == ()
    assert result.benchmark == D("1100.00")
    assert result.scores == {"a": D("20.91"), "b": D("25.45"), "c": D("30.00"), "d": D("2.73")}


def test_the_same_four_prices_with_dropping_from_four_and_the_zero_floor():
    # Drop from 4: 1,400 and 900 dropped; mean = (1,000 + 1,100) / 2 = 1,050 → B = 1,050.00
    #   1,100: +4.7619…%  → 30 − 4.7619… = 25.238… → 25.24
    #   1,000: −4.7619…%  → 30 − 2.38095… = 27.619… → 27.62
    #     900: −14.2857…% → 30 − 7.142857… = 22.857… → 22.86
    #   1,400: +33.333…%  → 30 − 33.333… = −3.33… → floored at 0.00
    prices = {"a": D(900), "b": D(1000), "c": D(1100), "d": D(1400)}
    result = price_scores(prices, benchmark_rule(drop_min_bids=4))
    assert result.dropped == (D("1400.00"), D("900.00"))
    assert result.benchmark == D("1050.00")
    assert result.scores == {"a": D("22.86"), "b": D("27.62"), "c": D("25.24"), "d": D("0.00")}


def test_far_below_the_benchmark_is_floored_at_zero_too():
    # 100 and 200, no drop (2 < 5): B = 150.00. E below 2.00: 100 is −33.33…% → 30 − 66.67 < 0 → 0.00.
    # 200 is +33.33…% with E above 0.60 → 30 − 20.00 = 10.00 exactly.
    result = price_scores({"low": D(100), "high": D(200)}, benchmark_rule(e_below=D(2), e_above=D("0.6")))
    assert result.benchmark == D("150.00")
    assert result.scores == {"low": D("0.00"), "high": D("10.00")}


def test_one_valid_bid_gets_full_marks_and_k_below_one_costs_it_points():
    assert price_scores({"only": D("987654.32")}, benchmark_rule()).scores == {"only": D("30.00")}
    # K = 0.95: B = 987,654.32 × 0.95 = 938,271.604 → 938,271.60; D = +5.2631…% → 30 − 5.2631… = 24.7368… → 24.74
    result = price_scores({"only": D("987654.32")}, benchmark_rule(k=D("0.95")))
    assert result.benchmark == D("938271.60")
    assert result.scores == {"only": D("24.74")}


def test_all_equal_prices():
    prices = {k: D("5000000.00") for k in "abcdef"}
    # Six equal prices, one "highest" and one "lowest" dropped: the mean is still 5,000,000, everybody at B.
    result = price_scores(prices, benchmark_rule())
    assert result.benchmark == D("5000000.00") and set(result.scores.values()) == {D("30.00")}
    # K = 0.95: all 1/0.95 − 1 = 5.2631…% above → 24.74 each.
    assert set(price_scores(prices, benchmark_rule(k=D("0.95"))).scores.values()) == {D("24.74")}


def test_benchmark_is_rounded_to_the_fen_before_scoring():
    # mean = (100.00 + 100.01 + 100.01) / 3 = 100.006666… → B = 100.01 (the published figure the scores use)
    benchmark, mean, dropped = benchmark_price([D("100.00"), D("100.01"), D("100.01")], benchmark_rule())
    assert (benchmark, mean, dropped) == (D("100.01"), Fraction(30002, 300), ())


def test_prices_must_be_valid():
    with pytest.raises(FormulaError):
        price_scores({}, benchmark_rule())
    with pytest.raises(FormulaError):
        price_scores({"a": D(0), "b": D(10)}, benchmark_rule())
    with pytest.raises(FormulaError):
        price_scores({"a": D(10)}, benchmark_rule(formula="median"))


# --- Price score: the lowest-price formula ------------------------------------------------------------------------


def test_lowest_price_formula():
    # score = lowest / price × 30, lowest = 800,000:
    #   800,000 → 30.00; 1,000,000 → 0.8 × 30 = 24.00; 1,250,000 → 0.64 × 30 = 19.20; 900,000 → 26.666… → 26.67
    prices = {"a": D(800000), "b": D(1000000), "c": D(1250000), "d": D(900000)}
    result = price_scores(prices, PriceRule(formula="lowest", weight=D(30)))
    assert result.lowest == D("800000.00") and result.benchmark is None
    assert result.scores == {"a": D("30.00"), "b": D("24.00"), "c": D("19.20"), "d": D("26.67")}
    assert price_scores({"only": D(123)}, PriceRule(formula="lowest", weight=D("40.5"))).scores == {"only": D("40.50")}


# --- Aggregation ------------------------------------------------------------------------------------------------


def test_aggregation_mean_and_dropping_highest_and_lowest():
    scores = [D(8), D(9), D("7.5"), D(10), D(5)]
    # No drop: (8 + 9 + 7.5 + 10 + 5) / 5 = 39.5 / 5 = 7.90
    assert aggregate(scores, AggregationRule(drop_extremes=False)).value == D("7.90")
    # Drop from 5 members: 10 and 5 dropped; (8 + 9 + 7.5) / 3 = 24.5 / 3 = 8.1666… → 8.17
    dropped = aggregate(scores, AggregationRule(drop_extremes=True, drop_min_members=5))
    assert (dropped.value, dropped.exact, dropped.dropped_high, dropped.dropped_low) == (
        D("8.17"),
        Fraction(49, 6),
        D("10.00"),
        D("5.00"),
    )
    # Drop configured from 7 members, only 5 scored: plain mean.
    assert aggregate(scores, AggregationRule(drop_extremes=True, drop_min_members=7)).value == D("7.90")
    # Only one of two equal extremes is dropped: (6, 6, 6, 9, 9) → (6 + 6 + 9) / 3 = 7.00
    assert aggregate([D(6), D(9), D(6), D(9), D(6)], AggregationRule(True, 5)).value == D("7.00")
    with pytest.raises(FormulaError):
        aggregate([], AggregationRule())


# --- Totals and ranking ------------------------------------------------------------------------------------------


def test_totals_per_bidder_from_the_members_scores():
    # Criteria: T1 technical (max 30), T2 technical (max 20), C1 commercial (max 20); price weight 30.
    # Price scores from test_benchmark_formula…: X 1,000,000 → 27.96, Y 950,000 → 28.47, Z 1,050,000 → 22.86.
    #   X: T1 127/5 = 25.40, T2 79/5 = 15.80 → technical 41.20; C1 90/5 = 18.00; total 41.20 + 18.00 + 27.96 = 87.16
    #   Y: T1 122/5 = 24.40, T2 81/5 = 16.20 → technical 40.60; C1 88/5 = 17.60; total 40.60 + 17.60 + 28.47 = 86.67
    #   Z: T1 140/5 = 28.00, T2 91/5 = 18.20 → technical 46.20; C1 96/5 = 19.20; total 46.20 + 19.20 + 22.86 = 88.26
    table = {
        "X": {"T1": [25, 26, 24, 27, 25], "T2": [15, 16, 15, 17, 16], "C1": [18, 18, 17, 19, 18]},
        "Y": {"T1": [24, 25, 23, 26, 24], "T2": [16, 16, 16, 16, 17], "C1": [17, 18, 18, 18, 17]},
        "Z": {"T1": [28, 28, 27, 29, 28], "T2": [18, 18, 19, 18, 18], "C1": [19, 19, 19, 19, 20]},
    }
    table = {b: {c: [D(s) for s in scores] for c, scores in row.items()} for b, row in table.items()}
    stages = {"T1": "technical", "T2": "technical", "C1": "commercial"}
    totals = bid_totals(table, stages, {"X": D("27.96"), "Y": D("28.47"), "Z": D("22.86")}, AggregationRule())
    assert {b: (t.technical, t.commercial, t.price_score, t.total) for b, t in totals.items()} == {
        "X": (D("41.20"), D("18.00"), D("27.96"), D("87.16")),
        "Y": (D("40.60"), D("17.60"), D("28.47"), D("86.67")),
        "Z": (D("46.20"), D("19.20"), D("22.86"), D("88.26")),
    }
    assert totals["X"].criteria == {"T1": D("25.40"), "T2": D("15.80"), "C1": D("18.00")}
    at = datetime(2026, 11, 20, 10, tzinfo=LOCAL)
    ranked = rank_by_score([RankInput(b, t.total, D(1), at) for b, t in totals.items()])
    assert [(r.key, r.rank) for r in ranked] == [("Z", 1), ("X", 2), ("Y", 3)]


def _t(minute: int) -> datetime:
    return datetime(2026, 11, 20, 9, minute, tzinfo=LOCAL)


def test_ranking_ties_lower_price_then_earlier_submission():
    rows = [
        RankInput("a", D("88.00"), D(1000000), _t(10)),
        RankInput("b", D("88.00"), D(990000), _t(5)),
        RankInput("c", D("88.00"), D(990000), _t(0)),
        RankInput("d", D("90.00"), D(1200000), _t(30)),
        RankInput("e", D("85.00"), D(900000), _t(1)),
    ]
    ranked = rank_by_score(rows)
    # d has the highest total; a, b, c tie on 88.00: b and c (990,000) before a; c submitted before b.
    assert [(r.key, r.rank, r.decided_by) for r in ranked] == [
        ("d", 1, None),
        ("c", 2, None),
        ("b", 3, "submitted_at"),
        ("a", 4, "price"),
        ("e", 5, None),
    ]


def test_ranking_shares_a_rank_only_when_nothing_separates_two_bids():
    rows = [RankInput("f", D(80), D(100), _t(0)), RankInput("g", D(80), D(100), _t(0)), RankInput("h", D(79), D(1), _t(0))]
    assert [(r.rank, r.decided_by) for r in rank_by_score(rows)] == [(1, None), (1, "tie"), (3, None)]


def test_lowest_evaluated_price_ranking():
    # evaluated price = price + adjustments:
    #   P 1,000,000 + 20,000            = 1,020,000
    #   Q 1,010,000                     = 1,010,000
    #   R   990,000 + 30,000 − 5,000    = 1,015,000
    #   S 1,005,000 + 5,000             = 1,010,000  (ties with Q; S's bid price is lower → S first)
    bids = {
        "P": (D(1000000), [D(20000)]),
        "Q": (D(1010000), []),
        "R": (D(990000), [D(30000), D(-5000)]),
        "S": (D(1005000), [D(5000)]),
    }
    rows = [RankInput(k, evaluated_price(p, adj), p, _t(i)) for i, (k, (p, adj)) in enumerate(bids.items())]
    assert [r.value for r in rows] == [D(1020000), D(1010000), D(1015000), D(1010000)]
    ranked = rank_by_evaluated_price(rows)
    assert [(r.key, r.rank, r.decided_by) for r in ranked] == [("S", 1, None), ("Q", 2, "price"), ("R", 3, None), ("P", 4, None)]


# --- Dispersion --------------------------------------------------------------------------------------------------


def test_dispersion_exactly_at_the_threshold_is_no_alert_just_above_is():
    # Criterion max 20, threshold 20 % → limit 4.00 points.
    # m5 = 14: the others' mean is (10 × 4) / 4 = 10; |14 − 10| = 4.00 = limit → no alert.
    # (m1: others' mean (10 + 10 + 10 + 14) / 4 = 11, |10 − 11| = 1 → no alert.)
    scores = {"m1": D(10), "m2": D(10), "m3": D(10), "m4": D(10), "m5": D(14)}
    assert dispersion(scores, max_score=D(20), threshold_percent=D(20)) == []
    # m5 = 14.01: |14.01 − 10| = 4.01 > 4.00 → alert, 4.01 / 20 = 20.05 % of the maximum.
    found = dispersion({**scores, "m5": D("14.01")}, max_score=D(20), threshold_percent=D(20))
    assert [(d.member, d.score, d.others_mean, d.deviation, d.percent_of_max, d.limit) for d in found] == [
        ("m5", D("14.01"), D("10.00"), D("4.01"), D("20.05"), D("4.00"))
    ]
    # Too low counts as well: m5 = 5 → |5 − 10| = 5 > 4.
    assert [d.member for d in dispersion({**scores, "m5": D(5)}, max_score=D(20), threshold_percent=D(20))] == ["m5"]
    # Nothing to compare with a single score.
    assert dispersion({"m1": D(0)}, max_score=D(20), threshold_percent=D(20)) == []


def test_dispersion_reads_the_rule_set_threshold():
    scores = {"m1": D(10), "m2": D(10), "m3": D(10), "m4": D(10), "m5": D(14)}
    assert rules.score_dispersion(RuleSet(), scores, max_score=D(20)) == []  # default 20 %: limit 4.00, gap 4.00
    # A stricter rule set (15 %: limit 3.00) flags the same scores.
    found = rules.score_dispersion(RuleSet(score_dispersion_percent=D(15)), scores, max_score=D(20))
    assert [(d.member, d.deviation, d.limit) for d in found] == [("m5", D("4.00"), D("3.00"))]


def test_dispersion_table():
    threshold = RuleSet().score_dispersion_percent  # the rule set's default: 20 %
    assert threshold == D("20.00")
    table = {
        ("X", "T1"): {"m1": D(25), "m2": D(26), "m3": D(24), "m4": D(18), "m5": D(25)},  # max 30 → limit 6.00
        ("X", "C1"): {"m1": D(18), "m2": D(18), "m3": D(17), "m4": D(19), "m5": D(18)},
    }
    # m4 on T1: others' mean (25 + 26 + 24 + 25) / 4 = 25; |18 − 25| = 7 > 6 → alert (23.33 % of 30).
    alerts = dispersion_table(table, {"T1": D(30), "C1": D(20)}, threshold_percent=threshold)
    assert list(alerts) == [("X", "T1")]
    assert [(d.member, d.deviation, d.percent_of_max) for d in alerts[("X", "T1")]] == [("m4", D("7.00"), D("23.33"))]


# --- Pass/fail majority, extension vote -------------------------------------------------------------------------------


def test_majority_decides_and_the_dissenters_are_named():
    verdict = majority({"a": True, "b": True, "c": False, "d": True, "e": False})
    assert (verdict.passed, verdict.votes_for, verdict.votes_against, verdict.dissenters) == (True, 3, 2, ("c", "e"))
    verdict = majority({"a": False, "b": True, "c": False, "d": True, "e": False})
    assert (verdict.passed, verdict.dissenters) == (False, ("b", "d"))
    assert majority({m: True for m in "abcde"}).dissenters == ()
    # A tie (an even number of votes) decides nothing: the committee votes again.
    assert majority({"a": True, "b": False, "c": True, "d": False}).passed is None


@pytest.mark.parametrize(
    ("votes", "members", "carried"),
    [
        (3, 9, False),  # exactly one third is not more than one third
        (4, 9, True),
        (1, 5, False),  # 1/5 < 1/3
        (2, 5, True),  # 2/5 > 1/3
        (2, 6, False),  # exactly one third again
        (3, 6, True),
        (0, 5, False),
    ],
)
def test_extension_vote_needs_more_than_one_third(votes, members, carried):
    rule_set = RuleSet()  # 条例48 defaults: 1/3
    assert (rule_set.extension_vote_numerator, rule_set.extension_vote_denominator) == (1, 3)
    assert rules.extension_carried(rule_set, votes_for=votes, members=members) is carried
    assert extension_carried(votes, members, numerator=1, denominator=3) is carried


def test_extension_vote_follows_the_rule_set_fraction():
    # A rule set asking for more than half: 3 of 6 is not enough, 4 of 6 is.
    rule_set = RuleSet(extension_vote_numerator=1, extension_vote_denominator=2)
    assert [rules.extension_carried(rule_set, votes_for=v, members=6) for v in (3, 4)] == [False, True]


# --- Statistics ---------------------------------------------------------------------------------------------------


def test_savings_versus_the_maximum_price():
    # 1,000,000 − 876,550.00 = 123,450.00; 123,450 / 1,000,000 × 100 = 12.345 % → 12.35 (half up)
    result = savings(D("1000000.00"), D("876550.00"))
    assert (result.amount, result.percent) == (D("123450.00"), D("12.35"))
    result = savings(D("1000000.00"), D("873456.78"))
    assert (result.amount, result.percent) == (D("126543.22"), D("12.65"))
    assert savings(None, D(1)) is None
    assert savings(D(100), D(100)).percent == D("0.00")
