"""The supervision rules (电子监察): each a small function over the database that returns its findings.

A rule reads and never writes; supervision/services.py turns findings into alerts. Every threshold and level, with
its article, is in trading/rules.py ("Electronic supervision"); docs/supervision.md lists the rules and their evidence.
Bids name their lot and bidder only from the bid deadline on (法22), so no rule can see a bid before it.
"""

import hashlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from itertools import pairwise

from django.db.models import Count, F, Q

from bidding.models import Bid, BidStatus, Opening
from evaluation.models import DispersionFlag, EvaluationSession, SessionMember, SessionPhase
from experts.models import Expert
from notices.models import Letter, LetterKind
from supervision.models import AlertRule
from trading import rules as legal
from trading.models import Lot, LotStatus, Objection, Organisation


@dataclass(frozen=True)
class Finding:
    rule: str
    level: str
    lot_id: int | None
    key: str
    zh: str
    en: str
    subject: dict = field(default_factory=dict)
    details: dict = field(default_factory=dict)


def _orgs(ids: Iterable[int]) -> dict[int, dict]:
    return {o["id"]: o for o in Organisation.objects.filter(pk__in=set(ids)).values("id", "name", "credit_code").order_by("id")}


def _iso(moment: datetime) -> str:
    """Evidence times as ISO 8601 in Asia/Shanghai, as the API shows times."""
    return moment.astimezone(legal.LOCAL).isoformat()


def _digest(text: str, length: int = 32) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


# --- 条例40第一项: same upload address, same device ----------------------------------------------------------------

# A bid names its lot and bidder from the deadline on; these are the bids the checks look at.
NAMED_BIDS = Q(lot__isnull=False, bidder__isnull=False)


def _shared(field_name: str, *, exclude: Q) -> dict[tuple[int, str], list[dict]]:
    """(lot, value) -> the bids of that lot sharing `field_name` across two or more different bidders."""
    pairs = (
        Bid.objects.filter(NAMED_BIDS)
        .exclude(exclude)
        .values("lot_id", field_name)
        .annotate(bidders=Count("bidder_id", distinct=True))
        .filter(bidders__gte=2)
        .order_by("lot_id", field_name)
    )
    wanted = Q(pk__in=[])
    for row in pairs:
        wanted |= Q(lot_id=row["lot_id"], **{field_name: row[field_name]})
    groups = defaultdict(list)
    for bid in (
        Bid.objects.filter(NAMED_BIDS & wanted)
        .values("id", "lot_id", "bidder_id", "status", field_name)
        .order_by("bidder_id", "id")
    ):
        groups[(bid["lot_id"], bid[field_name])].append(bid)
    return groups


def _bidders_subject(bids: list[dict], orgs: dict[int, dict]) -> dict:
    return {"bidders": [orgs[i] for i in sorted({b["bidder_id"] for b in bids})]}


def _bid_rows(bids: list[dict]) -> list[dict]:
    return [{"bid": str(b["id"]), "bidder": b["bidder_id"], "status": b["status"]} for b in bids]


def _same_source(field_name: str, *, detail: str, exclude: Q, rule: str, level: str, key, zh: str, en: str) -> list[Finding]:
    """Bids of two or more different bidders of one lot sharing `field_name` (an address, a device)."""
    groups = _shared(field_name, exclude=exclude)
    orgs = _orgs(b["bidder_id"] for bids in groups.values() for b in bids)
    findings = []
    for (lot_id, value), bids in groups.items():
        subject = _bidders_subject(bids, orgs)
        count, names = len(subject["bidders"]), "、".join(o["name"] for o in subject["bidders"])
        findings.append(
            Finding(
                rule=rule,
                level=level,
                lot_id=lot_id,
                key=key(value),
                zh=zh.format(count=count, names=names, value=value),
                en=en.format(count=count, value=value),
                subject=subject,
                details={detail: value, "bids": _bid_rows(bids)},
            )
        )
    return findings


def same_upload_address(*, now: datetime) -> list[Finding]:
    return _same_source(
        "uploaded_from",
        detail="address",
        exclude=Q(uploaded_from__isnull=True),
        rule=AlertRule.SAME_UPLOAD_ADDRESS,
        level=legal.SAME_UPLOAD_ADDRESS_LEVEL,
        key=lambda address: f"ip:{address}",
        zh="{count}个投标人（{names}）的投标文件从同一地址 {value} 上传（条例40第一项）",
        en="{count} bidders uploaded their bids from the same address {value} (Regulation art. 40(1))",
    )


def same_device_fingerprint(*, now: datetime) -> list[Finding]:
    return _same_source(
        "client_fingerprint",
        detail="fingerprint",
        exclude=Q(client_fingerprint=""),
        rule=AlertRule.SAME_DEVICE_FINGERPRINT,
        level=legal.SAME_DEVICE_FINGERPRINT_LEVEL,
        key=lambda fingerprint: f"fp:{_digest(fingerprint, 64)}",
        zh="{count}个投标人（{names}）的投标文件在同一设备上编制（客户端指纹相同，条例40第一项）",
        en="{count} bidders sealed their bids on the same device (same client fingerprint, Regulation art. 40(1))",
    )


# --- 条例40第四项: identical files ----------------------------------------------------------------------------------


def identical_bid_files(*, now: datetime) -> list[Finding]:
    """The same opened file (plaintext SHA-256), or the same sealed file (ciphertext SHA-256 of a completed upload:
    one sealed bid copied under two names), from different bidders of one lot."""
    checks = [
        ("plain", "plaintext_sha256", Q(plaintext_sha256=""), "解密后的投标文件完全相同", "identical opened bid files"),
        ("cipher", "sha256", Q(header_sha256=""), "加密投标文件完全相同", "identical sealed bid files"),
    ]
    found = []
    for kind, field_name, exclude, zh, en in checks:
        for (lot_id, digest), bids in _shared(field_name, exclude=exclude).items():
            found.append((kind, lot_id, digest, bids, zh, en))
    orgs = _orgs(b["bidder_id"] for *_, bids, _, _ in found for b in bids)
    findings = []
    for kind, lot_id, digest, bids, zh, en in found:
        subject = _bidders_subject(bids, orgs)
        names = "、".join(o["name"] for o in subject["bidders"])
        findings.append(
            Finding(
                rule=AlertRule.IDENTICAL_BID_FILES,
                level=legal.IDENTICAL_BID_FILE_LEVEL,
                lot_id=lot_id,
                key=f"{kind}:{digest}",
                zh=f"{len(subject['bidders'])}个投标人（{names}）的{zh}（SHA-256 {digest[:12]}…，条例40第四项）",
                en=f"{len(subject['bidders'])} bidders: {en} (SHA-256 {digest[:12]}…, Regulation art. 40(4))",
                subject=subject,
                details={"file": kind, "sha256": digest, "bids": _bid_rows(bids)},
            )
        )
    return findings


# --- 条例40第四项: regular price gaps -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progression:
    """A run of prices, consecutive in price order, in arithmetic and/or geometric progression."""

    start: int  # index into the sorted prices
    end: int  # exclusive
    kinds: tuple[str, ...]  # "arithmetic", "geometric"
    exact: bool


def _steps(window: list[Decimal], kind: str) -> list[Decimal]:
    if kind == "arithmetic":
        return [b - a for a, b in pairwise(window)]
    return [b / a - 1 for a, b in pairwise(window)]


def _agree(steps: list[Decimal], tolerance: Decimal) -> bool:
    """Positive steps within tolerance of each other: (largest - smallest) / largest <= tolerance."""
    if any(s <= 0 for s in steps):
        return False
    largest = max(steps)
    return (largest - min(steps)) / largest <= tolerance


def _exact(window: list[Decimal], kind: str) -> bool:
    if kind == "arithmetic":
        return len(set(_steps(window, kind))) == 1
    # b/a == c/b exactly, without rounding: b*b == a*c.
    return all(window[i + 1] * window[i + 1] == window[i] * window[i + 2] for i in range(len(window) - 2))


def price_progressions(prices: list[Decimal], *, min_bids: int, tolerance: Decimal) -> list[Progression]:
    """The maximal runs of at least `min_bids` sorted prices whose gaps (arithmetic) or ratios minus one (geometric)
    agree within `tolerance`. Equal prices have no gap and break a run. Pure: tests call it directly."""
    prices = sorted(prices)
    runs: dict[tuple[int, int], dict] = {}
    for kind in ("arithmetic", "geometric"):
        covered = 0  # a run ending at or before this lies inside one already found (a subset of a run agrees too)
        for start in range(len(prices)):
            end = start + 2
            while end < len(prices) and _agree(_steps(prices[start : end + 1], kind), tolerance):
                end += 1
            if end - start < min_bids or end <= covered:
                continue
            covered = end
            entry = runs.setdefault((start, end), {"kinds": [], "exact": False})
            entry["kinds"].append(kind)
            entry["exact"] |= _exact(prices[start:end], kind)
    return [Progression(s, e, tuple(v["kinds"]), v["exact"]) for (s, e), v in sorted(runs.items())]


def _price(summary) -> Decimal | None:
    if not isinstance(summary, dict) or not isinstance(summary.get("price"), str | int | float):
        return None
    try:
        value = Decimal(str(summary["price"]).replace(",", "").strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() and value > 0 else None


def regular_price_gaps(*, now: datetime) -> list[Finding]:
    """Opened prices (opening_summary["price"] of the decrypted bids of an opening) of one lot in progression."""
    by_lot = defaultdict(list)
    opened = Bid.objects.filter(NAMED_BIDS, opening__isnull=False, status=BidStatus.DECRYPTED)
    for bid in opened.values("id", "lot_id", "bidder_id", "opening_summary").order_by("lot_id", "id"):
        price = _price(bid["opening_summary"])
        if price is not None:
            by_lot[bid["lot_id"]].append((price, bid))
    found = []
    for lot_id, rows in by_lot.items():
        if len(rows) < legal.PRICE_PROGRESSION_MIN_BIDS:
            continue
        rows.sort(key=lambda row: (row[0], row[1]["id"]))
        prices = [price for price, _ in rows]
        for run in price_progressions(
            prices, min_bids=legal.PRICE_PROGRESSION_MIN_BIDS, tolerance=legal.PRICE_PROGRESSION_TOLERANCE
        ):
            found.append((lot_id, run, rows[run.start : run.end]))
    orgs = _orgs(bid["bidder_id"] for *_, members in found for _, bid in members)
    findings = []
    for lot_id, run, members in found:
        kinds_zh = "、".join({"arithmetic": "等差", "geometric": "等比"}[k] for k in run.kinds)
        kinds_en = " and ".join(run.kinds)
        listed = "、".join(f"{orgs[bid['bidder_id']]['name']} {price}" for price, bid in members)
        exactly = "严格" if run.exact else "近似"
        findings.append(
            Finding(
                rule=AlertRule.REGULAR_PRICE_GAPS,
                level=legal.PRICE_PROGRESSION_EXACT_LEVEL if run.exact else legal.PRICE_PROGRESSION_LEVEL,
                lot_id=lot_id,
                key="prices:" + _digest(",".join(sorted(str(bid["id"]) for _, bid in members))),
                zh=f"{len(members)}个投标报价呈{exactly}{kinds_zh}规律（{listed}；条例40第四项）",
                en=f"{len(members)} bid prices form {'an exact' if run.exact else 'a near'} {kinds_en} progression "
                "(Regulation art. 40(4))",
                subject={"bidders": [orgs[bid["bidder_id"]] for _, bid in members]},
                details={
                    "progression": list(run.kinds),
                    "exact": run.exact,
                    "tolerance": str(legal.PRICE_PROGRESSION_TOLERANCE),
                    "bids": [{"bid": str(bid["id"]), "bidder": bid["bidder_id"], "price": str(price)} for price, bid in members],
                },
            )
        )
    return findings


# --- An expert's repeated scoring outliers (条例49, 畸高畸低) ---------------------------------------------------------


def expert_repeated_outliers(*, now: datetime) -> list[Finding]:
    """An expert with a dispersion flag (confirmed, amended or still open; a voided one is a replaced member's) in at
    least EXPERT_OUTLIER_SESSIONS of the last EXPERT_OUTLIER_WINDOW sessions they sat in (by session start)."""
    flagged = defaultdict(Counter)  # expert -> session -> flags
    rows = DispersionFlag.objects.exclude(resolution=DispersionFlag.Resolution.VOID).values_list(
        "member__expert_id", "session_id"
    )
    for expert_id, session_id in rows:
        flagged[expert_id][session_id] += 1
    suspects = [e for e, sessions in flagged.items() if len(sessions) >= legal.EXPERT_OUTLIER_SESSIONS]
    if not suspects:
        return []
    sat = defaultdict(dict)  # expert -> session -> (started_at, lot)
    seats = SessionMember.objects.filter(member__expert_id__in=suspects).values_list(
        "member__expert_id", "session_id", "session__started_at", "session__lot_id"
    )
    for expert_id, session_id, started_at, lot_id in seats:
        sat[expert_id][session_id] = (started_at, lot_id)
    names = dict(Expert.objects.filter(pk__in=suspects).values_list("id", "name"))
    findings = []
    for expert_id in sorted(suspects):
        sessions = sorted(sat[expert_id].items(), key=lambda item: (item[1][0], item[0]), reverse=True)
        window = sessions[: legal.EXPERT_OUTLIER_WINDOW]
        hits = [(sid, lot_id) for sid, (_, lot_id) in window if sid in flagged[expert_id]]
        if len(hits) < legal.EXPERT_OUTLIER_SESSIONS:
            continue
        latest = hits[0][0]
        findings.append(
            Finding(
                rule=AlertRule.EXPERT_REPEATED_OUTLIERS,
                level=legal.EXPERT_OUTLIER_LEVEL,
                lot_id=None,
                key=f"expert:{expert_id}/session:{latest}",
                zh=f"评标专家{names.get(expert_id, expert_id)}在最近{len(window)}次评标中有{len(hits)}次评分畸高畸低",
                en=f"Expert {expert_id}'s scores were flagged as outliers in {len(hits)} of their last {len(window)} evaluations",
                subject={"expert": {"id": expert_id, "name": names.get(expert_id, "")}},
                details={
                    "window": len(window),
                    "flagged_sessions": len(hits),
                    "sessions": [
                        {"session": sid, "lot": lot_id, "flags": flagged[expert_id].get(sid, 0)} for sid, (_, lot_id) in window
                    ],
                },
            )
        )
    return findings


# --- The same winner again and again under one agency (法50, 条例41) -------------------------------------------------


def _awards() -> list[dict]:
    """Every awarded lot of a project with an agency: its winner (the award letter's recipient; before the letters,
    the first candidate of the ranking) and when (the letter's issue, else the award)."""
    awards = {}
    letters = Letter.objects.filter(kind=LetterKind.AWARD, lot__project__agency__isnull=False)
    for row in letters.values("lot_id", "recipient_id", "issued_at", "lot__project__agency_id"):
        awards[row["lot_id"]] = {
            "lot": row["lot_id"],
            "agency": row["lot__project__agency_id"],
            "winner": row["recipient_id"],
            "at": row["issued_at"],
            "by": "letter",
        }
    pending = (
        EvaluationSession.objects.filter(
            phase=SessionPhase.DONE, lot__status=LotStatus.AWARDED, lot__project__agency__isnull=False
        )
        .exclude(lot_id__in=list(awards))
        .values("lot_id", "ranking", "lot__status_changed_at", "lot__project__agency_id")
    )
    first_bids = {}
    for row in pending:
        ranked = sorted(row["ranking"] or [], key=lambda r: int(r["rank"]))
        if ranked:
            first_bids[str(ranked[0]["bid"])] = row
    winners = dict(Bid.objects.filter(pk__in=list(first_bids)).values_list("id", "bidder_id"))
    for bid_id, bidder_id in winners.items():
        row = first_bids[str(bid_id)]
        awards[row["lot_id"]] = {
            "lot": row["lot_id"],
            "agency": row["lot__project__agency_id"],
            "winner": bidder_id,
            "at": row["lot__status_changed_at"],
            "by": "ranking",
        }
    return list(awards.values())


def repeat_winner(*, now: datetime) -> list[Finding]:
    """One organisation winning at least REPEAT_WINNER_AWARDS of the last REPEAT_WINNER_WINDOW awarded lots of one
    agency's projects. The alert sits on the latest of those lots the organisation won."""
    by_agency = defaultdict(list)
    for award in _awards():
        by_agency[award["agency"]].append(award)
    found = []
    for agency_id, awards in by_agency.items():
        awards.sort(key=lambda a: (a["at"], a["lot"]), reverse=True)
        window = awards[: legal.REPEAT_WINNER_WINDOW]
        for winner_id, wins in Counter(a["winner"] for a in window).items():
            if wins >= legal.REPEAT_WINNER_AWARDS:
                found.append((agency_id, winner_id, window))
    orgs = _orgs([a for a, _, _ in found] + [w for _, w, _ in found])
    findings = []
    for agency_id, winner_id, window in found:
        won = [a for a in window if a["winner"] == winner_id]
        agency, winner = orgs[agency_id], orgs[winner_id]
        findings.append(
            Finding(
                rule=AlertRule.REPEAT_WINNER,
                level=legal.REPEAT_WINNER_LEVEL,
                lot_id=won[0]["lot"],
                key=f"agency:{agency_id}/winner:{winner_id}",
                zh=f"{winner['name']}在代理机构{agency['name']}最近{len(window)}个定标标段中中标{len(won)}个",
                en=f"{winner['name']} won {len(won)} of the last {len(window)} awarded lots run by the agency {agency['name']}",
                subject={"agency": agency, "winner": winner},
                details={
                    "window": len(window),
                    "wins": len(won),
                    "lots": [{"lot": a["lot"], "winner": a["winner"], "at": _iso(a["at"]), "by": a["by"]} for a in window],
                },
            )
        )
    return findings


# --- Deadlines missed (电子办法, 条例22, 条例54, 法45) ------------------------------------------------------------------

_DEADLINES = {
    "decryption_close": (
        "开标解密时限届满后未结束解密",
        "decryption not closed after the decryption window",
        "电子办法",
        "staff",
    ),
    "candidates_publicity": (
        "收到评标报告后未按期公示中标候选人",
        "candidates not published in time after the evaluation report",
        "条例54",
        "staff",
    ),
    "objection_answer": ("异议未按期答复", "objection not answered in time", "条例22/条例54", "tenderee"),
    "award_letters": ("定标后未按期发出中标通知书", "award letters not issued in time after the award", "法45", "staff"),
}


def _deadline(
    kind: str, *, lot_id: int, key: str, due: datetime, done_at: datetime | None, now: datetime, grace, red_after, **extra
) -> Finding | None:
    level = legal.overrun_level(due=due, done_at=done_at, now=now, grace=grace, red_after=red_after)
    if level is None:
        return None
    zh, en, article, responsible = _DEADLINES[kind]
    overrun = (done_at or now) - due
    hours = int(overrun.total_seconds() // 3600)
    late = "（已办理，但超期）" if done_at else ""
    return Finding(
        rule=AlertRule.DEADLINE_MISSED,
        level=level,
        lot_id=lot_id,
        key=key,
        zh=f"{zh}{late}：期限 {due.astimezone(legal.LOCAL):%Y-%m-%d %H:%M}，已超过约{hours}小时（{article}）",
        en=f"{en}{' (done late)' if done_at else ''}: due {due.astimezone(legal.LOCAL):%Y-%m-%d %H:%M} (Beijing), "
        f"overrun about {hours} h ({article})",
        subject={"deadline": kind, "responsible": responsible, "article": article},
        details={"due": _iso(due), "done_at": _iso(done_at) if done_at else None, "overrun_hours": hours, **extra},
    )


def deadlines_missed(*, now: datetime) -> list[Finding]:
    """The deadlines the trading rules set (trading/rules.py), read where the lifecycle stores them."""
    findings = []
    # 电子办法: the decryption window (extensions included) has ended; the sweep closes it (bidding/services/opening.py).
    openings = Opening.objects.filter(
        Q(decryption_closed_at__isnull=True, lot__status=LotStatus.OPENING)
        | Q(decryption_closed_at__isnull=False, decryption_closed_at__gt=F("decryption_deadline"))
    )
    for opening in openings.values("id", "lot_id", "decryption_deadline", "decryption_closed_at"):
        findings.append(
            _deadline(
                "decryption_close",
                lot_id=opening["lot_id"],
                key=f"decryption_close:{opening['id']}",
                due=opening["decryption_deadline"],
                done_at=opening["decryption_closed_at"],
                now=now,
                grace=legal.DECRYPTION_CLOSE_GRACE,
                red_after=legal.DECRYPTION_CLOSE_RED_AFTER,
            )
        )
    # 条例54: candidates published within candidates_publish_days of the report (a paused lot is left alone, as the
    # sweep does).
    sessions = EvaluationSession.objects.filter(phase=SessionPhase.DONE).filter(
        Q(lot__status=LotStatus.EVALUATING) | Q(lot__publicity_start__isnull=False)
    )
    for session in sessions.select_related("lot__project__rule_set"):
        lot = session.lot
        findings.append(
            _deadline(
                "candidates_publicity",
                lot_id=lot.pk,
                key="candidates_publicity",
                due=legal.candidates_publicity_due(lot.project.rule_set, report_at=session.finished_at),
                done_at=lot.publicity_start,
                now=now,
                grace=legal.DEADLINE_GRACE,
                red_after=legal.DEADLINE_RED_AFTER,
                report_at=_iso(session.finished_at),
            )
        )
    # 条例22 / 条例54: objections answered within their answer_due (set by the rules when raised).
    objections = Objection.objects.filter(
        Q(status=Objection.Status.PENDING, answer_due__lt=now)
        | Q(status=Objection.Status.ANSWERED, answered_at__gt=F("answer_due"))
    )
    for objection in objections.values("id", "lot_id", "stage", "answer_due", "answered_at"):
        findings.append(
            _deadline(
                "objection_answer",
                lot_id=objection["lot_id"],
                key=f"objection_answer:{objection['id']}",
                due=objection["answer_due"],
                done_at=objection["answered_at"],
                now=now,
                grace=legal.DEADLINE_GRACE,
                red_after=legal.DEADLINE_RED_AFTER,
                objection=str(objection["id"]),
                stage=objection["stage"],
            )
        )
    # 法45: letters issued within AWARD_LETTER_DAYS of the award (while the lot is awarded: its status time is then
    # the award's).
    awarded = Lot.objects.filter(status=LotStatus.AWARDED, status_changed_at__isnull=False).select_related("project__rule_set")
    issued = dict(Letter.objects.filter(kind=LetterKind.AWARD, lot__status=LotStatus.AWARDED).values_list("lot_id", "issued_at"))
    for lot in awarded:
        findings.append(
            _deadline(
                "award_letters",
                lot_id=lot.pk,
                key="award_letters",
                due=legal.award_letters_due(lot.project.rule_set, awarded_at=lot.status_changed_at),
                done_at=issued.get(lot.pk),
                now=now,
                grace=legal.DEADLINE_GRACE,
                red_after=legal.DEADLINE_RED_AFTER,
                awarded_at=_iso(lot.status_changed_at),
            )
        )
    return [f for f in findings if f is not None]


RULES: list[Callable[..., list[Finding]]] = [
    same_upload_address,
    same_device_fingerprint,
    identical_bid_files,
    regular_price_gaps,
    expert_repeated_outliers,
    repeat_winner,
    deadlines_missed,
]
