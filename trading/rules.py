"""Applies a RuleSet: every legal window and count is decided here and nowhere else.

Day counting follows 民法典201: a period in days starts counting on the day after the event, so
"at least N days between A and B" means B's calendar date (Asia/Shanghai) is at least N days after
A's. A period that ends on a non-working day ends on the next working day (民法典203) when the rule
set says so. The holiday calendar (CalendarDay) is data kept by the centre.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal
from zoneinfo import ZoneInfo

from evaluation import formulas
from trading.models import CalendarDay, RuleSet

LOCAL = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Breach:
    """A rule a proposed action would break: a code, the article, and the message in both languages."""

    code: str
    article: str
    zh: str
    en: str


def local_date(moment: datetime) -> date:
    return moment.astimezone(LOCAL).date()


def days_between(start: datetime, end: datetime) -> int:
    """Whole days from start to end, counted by calendar date in Asia/Shanghai (民法典201)."""
    return (local_date(end) - local_date(start)).days


def is_working_day(day: date) -> bool:
    override = CalendarDay.objects.filter(date=day).values_list("is_working_day", flat=True).first()
    if override is not None:
        return override
    return day.weekday() < 5


def next_working_day(day: date) -> date:
    overrides = dict(
        CalendarDay.objects.filter(date__gte=day, date__lt=day + timedelta(days=60)).values_list("date", "is_working_day")
    )
    while not overrides.get(day, day.weekday() < 5):
        day += timedelta(days=1)
    return day


def end_of_period(rules: RuleSet, start: datetime, days: int) -> datetime:
    """The last instant of a period of `days` days that starts counting the day after `start`."""
    last_day = local_date(start) + timedelta(days=days)
    if rules.roll_over_non_working:
        last_day = next_working_day(last_day)
    return datetime.combine(last_day, time(23, 59, 59), tzinfo=LOCAL)


# --- Publishing the tender: 法24, 条例16 -----------------------------------------------------


def tender_schedule_breaches(rules: RuleSet, *, issued_at: datetime, sale_end: datetime, deadline: datetime) -> list[Breach]:
    breaches = []
    # 法24: at least 20 days from issuing the documents to the bid deadline.
    if days_between(issued_at, deadline) < rules.doc_to_deadline_days:
        breaches.append(
            Breach(
                "deadline_too_early",
                "法24",
                f"自招标文件发出之日起至投标截止之日止不得少于{rules.doc_to_deadline_days}日",
                f"The bid deadline must be at least {rules.doc_to_deadline_days} days after the documents are issued",
            )
        )
    # 条例16: the documents are available for at least 5 days.
    if days_between(issued_at, sale_end) < rules.doc_sale_min_days:
        breaches.append(
            Breach(
                "sale_period_too_short",
                "条例16",
                f"招标文件发售期不得少于{rules.doc_sale_min_days}日",
                f"The documents must be available for at least {rules.doc_sale_min_days} days",
            )
        )
    if sale_end > deadline:
        breaches.append(
            Breach(
                "sale_after_deadline",
                "条例16",
                "招标文件获取截止时间不得晚于投标截止时间",
                "Document sale cannot end after the bid deadline",
            )
        )
    if rules.opening_on_working_day and not is_working_day(local_date(deadline)):
        breaches.append(
            Breach(
                "opening_on_non_working_day",
                "法34",
                "开标时间应为工作日",
                "The bid deadline and opening must fall on a working day",
            )
        )
    return breaches


# --- Clarifications: 条例21 ---------------------------------------------------------------


def deadline_after_clarification(rules: RuleSet, *, issued_at: datetime, deadline: datetime, affects_bids: bool) -> datetime:
    """条例21: a clarification that may affect bids needs 15 days before the deadline; else the deadline moves."""
    if not affects_bids or days_between(issued_at, deadline) >= rules.clarification_min_days:
        return deadline
    local_deadline = deadline.astimezone(LOCAL)
    day = local_date(issued_at) + timedelta(days=rules.clarification_min_days)
    if rules.opening_on_working_day or rules.roll_over_non_working:
        day = next_working_day(day)
    return datetime.combine(day, local_deadline.timetz().replace(tzinfo=None), tzinfo=LOCAL)


# --- Objections to tender documents: 条例22 ------------------------------------------------


def objection_breach(rules: RuleSet, *, raised_at: datetime, deadline: datetime) -> Breach | None:
    """条例22: an objection to the tender documents is raised at least 10 days before the bid deadline."""
    if days_between(raised_at, deadline) < rules.objection_cutoff_days:
        return Breach(
            "objection_window_closed",
            "条例22",
            f"对招标文件的异议应当在投标截止时间{rules.objection_cutoff_days}日前提出",
            f"Objections to the tender documents must be raised at least {rules.objection_cutoff_days} days before the deadline",
        )
    return None


def objection_answer_due(rules: RuleSet, *, raised_at: datetime) -> datetime:
    """条例22: the tenderee answers within 3 days of receiving the objection."""
    return end_of_period(rules, raised_at, rules.objection_answer_days)


# --- Money: 条例26 ------------------------------------------------------------------------


def bond_cap(rules: RuleSet, estimated_price: Decimal) -> Decimal:
    """条例26: the bid bond may not exceed 2% of the estimated price."""
    return (estimated_price * rules.bond_cap_percent / Decimal(100)).quantize(Decimal("0.01"), rounding=ROUND_DOWN)


def bond_breach(rules: RuleSet, *, estimated_price: Decimal, bond_amount: Decimal) -> Breach | None:
    cap = bond_cap(rules, estimated_price)
    if bond_amount > cap:
        return Breach(
            "bond_above_cap",
            "条例26",
            f"投标保证金不得超过招标项目估算价的{rules.bond_cap_percent.normalize()}%（上限 {cap} 元）",
            f"The bid bond may not exceed {rules.bond_cap_percent.normalize()}% of the estimated price (cap {cap})",
        )
    return None


# --- Opening and publicity: 条例44, 条例54 ------------------------------------------------


def enough_bids(rules: RuleSet, count: int) -> bool:
    """条例44: fewer than 3 bids, the tenderee does not open them and re-tenders."""
    return count >= rules.min_bids


def publicity_end(rules: RuleSet, *, start: datetime) -> datetime:
    """条例54: candidates are publicised for at least 3 days."""
    return end_of_period(rules, start, rules.publicity_min_days)


def candidates_publicity_due(rules: RuleSet, *, report_at: datetime) -> datetime:
    """条例54: the candidates are published within 3 days of receiving the evaluation report (the last instant)."""
    return end_of_period(rules, report_at, rules.candidates_publish_days)


def candidates_publicity_sweep_from(rules: RuleSet, *, report_at: datetime) -> datetime:
    """When the sweep publishes candidates that staff have not: the start of the window's last day, so that a slow or
    briefly stopped beat still publishes in time (条例54)."""
    due = candidates_publicity_due(rules, report_at=report_at)
    return datetime.combine(local_date(due), time(0), tzinfo=LOCAL)


def results_objection_breach(
    rules: RuleSet, *, raised_at: datetime, publicity_start: datetime | None, publicity_end: datetime | None
) -> Breach | None:
    """条例54: an objection to the evaluation result is raised during the candidates' publicity."""
    if publicity_start is None or publicity_end is None or not publicity_start <= raised_at <= publicity_end:
        return Breach(
            "objection_outside_publicity",
            "条例54",
            "对评标结果的异议应当在中标候选人公示期间提出",
            "Objections to the evaluation result must be raised during the candidates' publicity period",
        )
    return None


def results_objection_answer_due(rules: RuleSet, *, raised_at: datetime) -> datetime:
    """条例54: the tenderee answers an objection to the result within 3 days of receiving it."""
    return end_of_period(rules, raised_at, rules.publicity_objection_answer_days)


# --- The evaluation committee: 法37, 条例46, 评标规定9 ------------------------------------------------


def committee_breaches(rules: RuleSet, *, experts: int, tenderee_reps: int) -> list[Breach]:
    """法37 / 评标规定9: at least 5 members, an odd number, technical and economic experts at least two thirds.

    The ratio is stored to four decimals (0.6667 for 2/3), so the experts' share is compared after rounding it to
    four decimals as well: 6 experts of 9 (0.66666…) is two thirds and passes, 5 of 8 (0.625) does not.
    """
    total = experts + tenderee_reps
    breaches = []
    if total < rules.committee_min_size:
        breaches.append(
            Breach(
                "committee_too_small",
                "法37",
                f"评标委员会成员人数应为{rules.committee_min_size}人以上（现为{total}人）",
                f"The committee needs at least {rules.committee_min_size} members (it has {total})",
            )
        )
    if rules.committee_odd_size and total % 2 == 0:
        breaches.append(
            Breach(
                "committee_size_even",
                "法37",
                f"评标委员会成员人数应为单数（现为{total}人）",
                f"The committee must have an odd number of members (it has {total})",
            )
        )
    share = (Decimal(experts) / Decimal(total)).quantize(Decimal("0.0001")) if total else Decimal(0)
    if share < rules.committee_expert_ratio:
        breaches.append(
            Breach(
                "committee_too_few_experts",
                "法37",
                f"技术、经济等方面的专家不得少于成员总数的三分之二（专家{experts}人，共{total}人）",
                f"Technical and economic experts must be at least two thirds of the members ({experts} of {total})",
            )
        )
    return breaches


def draw_limit_since(rules: RuleSet, *, now: datetime) -> datetime:
    """专家办法 / regional rule: the start of the period over which an expert's committees are counted."""
    return now - timedelta(days=rules.expert_draw_period_days)


# --- Evaluation: 条例48 and the dispersion alert ----------------------------------------------------------------
# The arithmetic is in evaluation/formulas.py (pure, exact); these read the thresholds from the rule set. The price
# formula and the aggregation are not read here: they are the lot's own copy (evaluation.services.price_rule).


def extension_carried(rules: RuleSet, *, votes_for: int, members: int) -> bool:
    """条例48: the evaluation time is extended when more than one third of the members say it is too short
    (exactly one third is not enough)."""
    return formulas.extension_carried(
        votes_for, members, numerator=rules.extension_vote_numerator, denominator=rules.extension_vote_denominator
    )


def score_dispersion(rules: RuleSet, scores: dict, *, max_score: Decimal) -> list[formulas.Deviation]:
    """Regional supervision rule (畸高畸低): the members whose score on one criterion for one bidder deviates from the
    other members' mean by more than `score_dispersion_percent` % of the criterion's maximum
    (exactly at the limit is no alert)."""
    return formulas.dispersion(scores, max_score=max_score, threshold_percent=rules.score_dispersion_percent)


# --- Evaluation: 条例51 ---------------------------------------------------------------------------------------------


def above_max_price(*, price: Decimal, max_price: Decimal | None) -> Breach | None:
    """条例51第五项: a bid priced above the maximum price (最高投标限价) set by the tender documents is rejected by the
    committee, whatever its members think of it. A price equal to the maximum passes; a lot without one has no limit."""
    if max_price is None or Decimal(price) <= Decimal(max_price):
        return None
    return Breach(
        "above_max_price",
        "条例51第五项",
        f"投标报价 {price} 元高于最高投标限价 {max_price} 元（条例51第五项）",
        f"The bid price of {price} yuan is above the maximum price of {max_price} yuan (Regulation art. 51(5))",
    )


def report_candidates_max(rules: RuleSet) -> int:
    """条例53: the report recommends no more than 3 winning candidates, in order; a rule set may ask for fewer
    (`RuleSet.max_candidates`), never more."""
    return max(1, min(rules.max_candidates, 3))


# --- Electronic supervision (电子监察): thresholds and levels of the alert rules ---------------------------------------
# supervision/rules.py applies them (docs/supervision.md lists every rule with its evidence). The alerts only watch:
# they never change a lot. Where no article fixes a number, it is regional supervision practice: set it to the
# region's rule.

ALERT_RED = "red"
ALERT_YELLOW = "yellow"

# 条例40第一项 (视为串通投标: 不同投标人的投标文件由同一单位或者个人编制): bids of different bidders in one lot uploaded
# from one address, or sealed on one machine (the same client fingerprint).
SAME_UPLOAD_ADDRESS_LEVEL = ALERT_RED
SAME_DEVICE_FINGERPRINT_LEVEL = ALERT_RED

# 条例40第四项 (不同投标人的投标文件异常一致): identical opened files (plaintext SHA-256) of different bidders in one lot,
# or identical sealed files (ciphertext SHA-256: one sealed file copied under two names).
IDENTICAL_BID_FILE_LEVEL = ALERT_RED

# 条例40第四项 (投标报价呈规律性差异): at least PRICE_PROGRESSION_MIN_BIDS opened prices, consecutive in price order, whose
# gaps (arithmetic) or ratios (geometric) agree within PRICE_PROGRESSION_TOLERANCE, relative: (largest - smallest)
# / largest gap (or ratio - 1) <= tolerance. Exactly equal gaps or ratios are red, close ones yellow.
PRICE_PROGRESSION_MIN_BIDS = 3
PRICE_PROGRESSION_TOLERANCE = Decimal("0.01")
PRICE_PROGRESSION_LEVEL = ALERT_YELLOW
PRICE_PROGRESSION_EXACT_LEVEL = ALERT_RED

# 条例49 (评标委员会成员应当客观、公正地履行职责) and the regional 畸高畸低 rule (score_dispersion_percent above): an expert
# with a dispersion flag (not voided) in at least EXPERT_OUTLIER_SESSIONS of their last EXPERT_OUTLIER_WINDOW
# evaluation sessions. Regional practice values.
EXPERT_OUTLIER_SESSIONS = 3
EXPERT_OUTLIER_WINDOW = 5
EXPERT_OUTLIER_LEVEL = ALERT_YELLOW

# 法50, 条例41 (招标代理机构、招标人与投标人串通): one organisation winning at least REPEAT_WINNER_AWARDS of the last
# REPEAT_WINNER_WINDOW awarded lots of projects run by one agency. A risk signal, not a finding. Regional practice.
REPEAT_WINNER_AWARDS = 3
REPEAT_WINNER_WINDOW = 5
REPEAT_WINNER_LEVEL = ALERT_YELLOW

# Deadlines kept by the centre and the tenderee side: yellow once overrun by more than the grace, red once overrun by
# more than the red limit (exactly at a limit is no alert / still yellow).
# 电子办法 (开标解密): the decryption window has ended and decryption is not closed. The sweep closes it on its next beat,
# or waits while opened files are still being stored: the grace covers that.
DECRYPTION_CLOSE_GRACE = timedelta(hours=1)
DECRYPTION_CLOSE_RED_AFTER = timedelta(hours=24)
# 条例54 (candidates_publicity_due), 条例22 (objection_answer_due), 条例54 (results_objection_answer_due): late at once.
DEADLINE_GRACE = timedelta(0)
DEADLINE_RED_AFTER = timedelta(days=3)
# 法45: once the winner is determined the tenderee issues the award letter. The law sets no number of days: regional
# practice is AWARD_LETTER_DAYS days from the award (counted as every period here, 民法典201/203).
AWARD_LETTER_DAYS = 3


def award_letters_due(rules: RuleSet, *, awarded_at: datetime) -> datetime:
    """法45 (regional practice): the award and result letters are issued within AWARD_LETTER_DAYS days of the award."""
    return end_of_period(rules, awarded_at, AWARD_LETTER_DAYS)


def overrun_level(
    *, due: datetime, done_at: datetime | None, now: datetime, grace: timedelta, red_after: timedelta
) -> str | None:
    """The alert level of a deadline: None while met (or not yet due), yellow once overrun by more than `grace`, red once
    by more than `red_after`. `done_at` is when the act was done (a late act stays late); None: not done yet."""
    overrun = (done_at or now) - due
    if overrun <= grace:
        return None
    return ALERT_RED if overrun > red_after else ALERT_YELLOW
