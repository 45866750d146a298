"""The evaluation's arithmetic: price scores, aggregation of the members' scores, totals, ranking, dispersion,
pass/fail majorities, the extension vote, savings. docs/evaluation.md ("Method and formulas") writes each one out.

Why here and not in trading/rules.py: rules.py applies windows and counts and reads the holiday calendar from the
database; these functions touch no database and no model. They take their parameters as arguments (`PriceRule`,
`AggregationRule`, thresholds), and the callers read those from exactly one place each:

- the price formula and its coefficients, and the aggregation, from the lot's `EvaluationMethod` (fixed in the
  tender documents, 条例49; copied from the RuleSet when the method is created: `evaluation.services.price_rule`);
- the dispersion threshold and the extension vote's fraction from the lot's `RuleSet` at the time of scoring
  (procedure rules, not content of the tender documents), through trading/rules.py (`extension_carried`,
  `score_dispersion`), which stays the one place that reads a RuleSet's thresholds.

Exactness and rounding. Inputs are `Decimal`s (prices in yuan with at most 2 decimals, scores as entered). All
arithmetic is done on `fractions.Fraction`, so a mean of three or a ratio is exact and no precision context matters.
Rounding happens at exactly four places, each to 2 decimals, ROUND_HALF_UP (0.005 → 0.01), each from the exact value:

1. the benchmark price (评标基准价), a price in yuan rounded to the fen; the price scores are computed from this
   rounded benchmark, so anyone can recompute them from the published figure;
2. each price score;
3. each criterion's aggregated score (the committee's score of one bidder on one criterion);
4. the extension of those: a bidder's technical and commercial subtotals are sums of (3) and the total is the sum
   of the subtotals and (2), so they are exact sums of published two-decimal figures and are not rounded again.
   The savings rate (statistics) is rounded the same way.

Ranking uses the published (rounded) totals, so a tie that the report shows is a tie that the tie-break decides.
"""

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

Key = Hashable
CENT = Fraction(1, 100)
HUNDRED = Fraction(100)


class FormulaError(ValueError):
    """The inputs cannot be scored (no valid price, a non-positive price, an empty committee...)."""


def _fr(value: Decimal | int | Fraction) -> Fraction:
    if isinstance(value, float):
        raise TypeError("floats are not accepted: pass Decimal")
    return Fraction(value)


def round_half_up(value: Fraction, places: int = 2) -> Decimal:
    """`value` rounded to `places` decimals, halves away from zero (Decimal's ROUND_HALF_UP), from the exact value."""
    scale = 10**places
    scaled = abs(value) * scale
    whole = int(scaled + Fraction(1, 2))  # floor(x + 1/2) for x >= 0
    sign = -1 if value < 0 else 1
    return Decimal(sign * whole).scaleb(-places).quantize(Decimal(1).scaleb(-places))


def _mean(values: Sequence[Fraction]) -> Fraction:
    return sum(values, Fraction(0)) / len(values)


def _drop_extremes(values: Sequence[Fraction]) -> tuple[list[Fraction], Fraction, Fraction]:
    """The values without one highest and one lowest (one occurrence each), and the two dropped."""
    ordered = sorted(values)
    return ordered[1:-1], ordered[-1], ordered[0]


# --- Price score (价格分) -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PriceRule:
    """The price formula of a lot (EvaluationMethod), in the formulas' terms.

    formula: "benchmark" or "lowest" (trading.models.PriceFormula). weight: the price score's full marks.
    drop_extremes / drop_min_bids: drop one highest and one lowest valid price from the mean when at least
    `drop_min_bids` prices are valid. k: benchmark = mean × k. e_above / e_below: points per 1 % of deviation.
    """

    formula: str
    weight: Decimal
    drop_extremes: bool = False
    drop_min_bids: int = 5
    k: Decimal = Decimal(1)
    e_above: Decimal = Decimal(1)
    e_below: Decimal = Decimal("0.5")


@dataclass(frozen=True)
class PriceScores:
    scores: dict[Key, Decimal]
    # The benchmark formula: the rounded benchmark, the mean it came from (exact), the prices dropped from the mean.
    benchmark: Decimal | None = None
    mean: Fraction | None = None
    dropped: tuple[Decimal, ...] = ()
    # The lowest-price formula: the lowest valid price.
    lowest: Decimal | None = None


def _check_prices(prices: Mapping[Key, Decimal]) -> None:
    if not prices:
        raise FormulaError("no valid price to score")
    for key, price in prices.items():
        if _fr(price) <= 0:
            raise FormulaError(f"price of {key!r} is not positive")


def benchmark_price(prices: Sequence[Decimal], rule: PriceRule) -> tuple[Decimal, Fraction, tuple[Decimal, ...]]:
    """评标基准价 = mean of the valid prices (without one highest and one lowest when configured and at least
    `drop_min_bids` are valid) × K, rounded to the fen. Returns (benchmark, exact mean, dropped prices)."""
    values = [_fr(p) for p in prices]
    dropped: tuple[Decimal, ...] = ()
    if rule.drop_extremes and len(values) >= rule.drop_min_bids:
        values, high, low = _drop_extremes(values)
        dropped = (round_half_up(high), round_half_up(low))
    mean = _mean(values)
    return round_half_up(mean * _fr(rule.k)), mean, dropped


def price_scores(prices: Mapping[Key, Decimal], rule: PriceRule) -> PriceScores:
    """Each valid bid's price score under the lot's formula; `prices` are the valid bids only (those that passed the
    qualification and compliance reviews; a price above the maximum price is rejected before, 条例51).

    benchmark: deviation D = (price − B) / B × 100 (percent, exact, B the rounded benchmark);
               score = weight − D × e_above when D > 0, weight − |D| × e_below when D < 0, weight when D = 0;
               floored at 0, capped at weight, rounded.
    lowest:    score = lowest valid price / price × weight, rounded.
    """
    _check_prices(prices)
    weight = _fr(rule.weight)
    if rule.formula == "lowest":
        lowest = min(_fr(p) for p in prices.values())
        scores = {key: round_half_up(lowest / _fr(price) * weight) for key, price in prices.items()}
        return PriceScores(scores=scores, lowest=round_half_up(lowest))
    if rule.formula != "benchmark":
        raise FormulaError(f"unknown price formula {rule.formula!r}")
    benchmark, mean, dropped = benchmark_price(list(prices.values()), rule)
    base = _fr(benchmark)
    if base <= 0:
        raise FormulaError("the benchmark price is not positive")
    scores = {}
    for key, price in prices.items():
        deviation = (_fr(price) - base) / base * HUNDRED
        per_percent = _fr(rule.e_above) if deviation > 0 else _fr(rule.e_below)
        score = weight - abs(deviation) * per_percent
        scores[key] = round_half_up(min(weight, max(Fraction(0), score)))
    return PriceScores(scores=scores, benchmark=benchmark, mean=mean, dropped=dropped)


# --- Aggregating the members' scores (汇总) ---------------------------------------------------------------------


@dataclass(frozen=True)
class AggregationRule:
    """Mean of the members' scores; one highest and one lowest dropped when `drop_extremes` and at least
    `drop_min_members` members scored."""

    drop_extremes: bool = False
    drop_min_members: int = 7


@dataclass(frozen=True)
class Aggregate:
    value: Decimal  # rounded: the published figure
    exact: Fraction
    dropped_high: Decimal | None = None
    dropped_low: Decimal | None = None


def aggregate(scores: Sequence[Decimal], rule: AggregationRule) -> Aggregate:
    """The committee's score on one criterion for one bidder (the scores of members still sitting: a replaced
    member's scores are void, 条例48, and the caller leaves them out)."""
    if not scores:
        raise FormulaError("no score to aggregate")
    values = [_fr(s) for s in scores]
    if rule.drop_extremes and len(values) >= rule.drop_min_members:
        kept, high, low = _drop_extremes(values)
        exact = _mean(kept)
        return Aggregate(round_half_up(exact), exact, round_half_up(high), round_half_up(low))
    exact = _mean(values)
    return Aggregate(round_half_up(exact), exact)


# --- Totals and ranking ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BidTotal:
    key: Key
    technical: Decimal
    commercial: Decimal
    price_score: Decimal
    total: Decimal
    criteria: dict[Key, Decimal]


def bid_totals(
    criterion_scores: Mapping[Key, Mapping[Key, Sequence[Decimal]]],
    stages: Mapping[Key, str],
    price_score: Mapping[Key, Decimal],
    rule: AggregationRule,
) -> dict[Key, BidTotal]:
    """Totals per bidder for the comprehensive method.

    criterion_scores: {bidder: {criterion: [the members' scores]}}; stages: {criterion: "technical" | "commercial"};
    price_score: {bidder: price score}. technical = Σ aggregated technical criteria; commercial likewise;
    total = technical + commercial + price score (sums of rounded figures: no further rounding).
    """
    totals = {}
    for bidder, by_criterion in criterion_scores.items():
        aggregated = {criterion: aggregate(scores, rule).value for criterion, scores in by_criterion.items()}
        technical = sum((v for c, v in aggregated.items() if stages[c] == "technical"), Decimal("0.00"))
        commercial = sum((v for c, v in aggregated.items() if stages[c] == "commercial"), Decimal("0.00"))
        price = price_score[bidder]
        totals[bidder] = BidTotal(bidder, technical, commercial, price, technical + commercial + price, aggregated)
    return totals


@dataclass(frozen=True)
class RankInput:
    """One valid bid to rank. `value` is the total score (comprehensive) or the evaluated price (lowest evaluated
    price); `submitted_at` is the time on the bid's receipt."""

    key: Key
    value: Decimal
    price: Decimal
    submitted_at: datetime


@dataclass(frozen=True)
class Ranked:
    key: Key
    rank: int
    value: Decimal
    price: Decimal
    # What separated this bid from the one ranked just above it, when their values are equal: "price" or
    # "submitted_at"; None when the value alone decides (or for the first). "tie" when nothing does (shared rank).
    decided_by: str | None


def _rank(rows: Sequence[RankInput], *, higher_is_better: bool) -> list[Ranked]:
    def sort_key(row: RankInput):
        value = -row.value if higher_is_better else row.value
        return (value, row.price, row.submitted_at)

    ordered = sorted(rows, key=sort_key)
    ranked: list[Ranked] = []
    for i, row in enumerate(ordered):
        decided_by = None
        rank = i + 1
        if i:
            previous, above = ordered[i - 1], ranked[-1]
            if row.value == previous.value:
                if row.price != previous.price:
                    decided_by = "price"
                elif row.submitted_at != previous.submitted_at:
                    decided_by = "submitted_at"
                else:
                    decided_by, rank = "tie", above.rank
        ranked.append(Ranked(row.key, rank, row.value, row.price, decided_by))
    return ranked


def rank_by_score(rows: Sequence[RankInput]) -> list[Ranked]:
    """综合评估法: higher total first; equal totals: the lower bid price first; then the earlier submission (the
    time on the receipt). The first two follow the 标准施工招标文件 (2007) 评标办法 ("综合评分相等时，以投标报价低的
    优先"); the last stands for "由招标人自行确定" and must be stated in the tender documents (a local choice)."""
    return _rank(rows, higher_is_better=True)


def rank_by_evaluated_price(rows: Sequence[RankInput]) -> list[Ranked]:
    """经评审的最低投标价法 (评标规定31/32): lower evaluated price first; equal: the lower bid price first; then the
    earlier submission (same sources and the same local choice as `rank_by_score`)."""
    return _rank(rows, higher_is_better=False)


def evaluated_price(price: Decimal, adjustments: Sequence[Decimal]) -> Decimal:
    """评标价 = bid price + the adjustments the tender documents' price-adjustment method gives (评标规定32),
    positive or negative, in yuan. Exact (a sum of two-decimal figures)."""
    return sum((Decimal(a) for a in adjustments), Decimal(price))


# --- Dispersion (畸高畸低) -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deviation:
    member: Key
    score: Decimal
    others_mean: Decimal  # rounded to 2 decimals, for display
    deviation: Decimal  # |score − others' mean|, rounded to 2 decimals, for display
    percent_of_max: Decimal  # deviation / max × 100, rounded to 2 decimals, for display
    limit: Decimal  # threshold % × max / 100


def dispersion(scores: Mapping[Key, Decimal], *, max_score: Decimal, threshold_percent: Decimal) -> list[Deviation]:
    """The members whose score on one criterion for one bidder deviates from the mean of the other members' scores
    by MORE than `threshold_percent` % of the criterion's maximum (exactly at the threshold is no alert). The
    comparison is exact; the returned figures are rounded for display. Fewer than two scores: nothing to compare."""
    if len(scores) < 2:
        return []
    values = {member: _fr(score) for member, score in scores.items()}
    total = sum(values.values(), Fraction(0))
    limit = _fr(threshold_percent) * _fr(max_score) / HUNDRED
    found = []
    for member, score in values.items():
        others = (total - score) / (len(values) - 1)
        gap = abs(score - others)
        if gap > limit:
            found.append(
                Deviation(
                    member=member,
                    score=Decimal(scores[member]),
                    others_mean=round_half_up(others),
                    deviation=round_half_up(gap),
                    percent_of_max=round_half_up(gap / _fr(max_score) * HUNDRED),
                    limit=round_half_up(limit),
                )
            )
    return found


def dispersion_table(
    table: Mapping[tuple[Key, Key], Mapping[Key, Decimal]], max_scores: Mapping[Key, Decimal], *, threshold_percent: Decimal
) -> dict[tuple[Key, Key], list[Deviation]]:
    """`dispersion` over {(bidder, criterion): {member: score}}: only the cells with an alert."""
    alerts = {}
    for (bidder, criterion), scores in table.items():
        found = dispersion(scores, max_score=max_scores[criterion], threshold_percent=threshold_percent)
        if found:
            alerts[(bidder, criterion)] = found
    return alerts


# --- Pass/fail reviews, the extension vote ---------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    passed: bool | None  # None: a tie (possible only with an even number of votes): the committee votes again
    votes_for: int
    votes_against: int
    dissenters: tuple[Key, ...]  # members who voted against the outcome (their reasons go into the report, 条例53)


def majority(votes: Mapping[Key, bool]) -> Verdict:
    """Qualification and compliance reviews: each member passes or fails the bid; the majority of the votes decides
    (少数服从多数, 评标规定; confirm the article for the region's rule book) and the minority's names are returned so
    that their dissent is recorded (条例53)."""
    if not votes:
        raise FormulaError("no vote")
    ayes = [m for m, v in votes.items() if v]
    noes = [m for m, v in votes.items() if not v]
    if len(ayes) == len(noes):
        return Verdict(None, len(ayes), len(noes), ())
    passed = len(ayes) > len(noes)
    return Verdict(passed, len(ayes), len(noes), tuple(noes if passed else ayes))


def extension_carried(votes_for: int, members: int, *, numerator: int, denominator: int) -> bool:
    """条例48: the time is extended when MORE than numerator/denominator (1/3) of the members ask for it.
    Exact in integers: votes × denominator > members × numerator. 3 of 9 is not enough, 4 of 9 is; 2 of 5 is."""
    if members <= 0 or denominator <= 0:
        raise FormulaError("no members")
    return votes_for * denominator > members * numerator


# --- Statistics ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Savings:
    amount: Decimal  # max price − awarded price (may be 0)
    percent: Decimal  # amount / max price × 100, rounded to 2 decimals


def savings(max_price: Decimal | None, awarded_price: Decimal) -> Savings | None:
    """节约资金 versus the maximum price (最高投标限价) for the lot's statistics; None when the lot has no maximum."""
    if max_price is None:
        return None
    if _fr(max_price) <= 0:
        raise FormulaError("the maximum price is not positive")
    amount = Decimal(max_price) - Decimal(awarded_price)
    return Savings(amount, round_half_up(_fr(amount) / _fr(max_price) * HUNDRED))
