"""The evaluation report (评标报告) and its signatures (条例53); docs/evaluation.md ("The report, signatures and
statistics") is the specification and docs/formats.md ("Evaluation report PDF") the document.

Entering the `report` phase (session.session_advance, summary → report) snapshots the session into
EvaluationReport.content and stores the draft PDF. Each sitting member signs the draft they saw (its SHA-256), agreeing
or disagreeing in writing; the last signature stores the final PDF (the draft's content and a signature page) and ends
the session (`done`). A store failure is a 503 and changes nothing: the object is written last, after every row, so a
refused write leaves no object and a failed one rolls the rows back.
"""

import hashlib
import io
from collections import defaultdict
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status

from bidding import pdf
from bidding.models import Bid
from evaluation import session as ev
from evaluation.bidfiles import committee_seat
from evaluation.models import (
    PHASE_ORDER,
    Clarification,
    CriterionStage,
    DispersionFlag,
    DrawnExpert,
    EvaluationKind,
    EvaluationReport,
    EvaluationSession,
    ExtensionProposal,
    Mark,
    MemberStatus,
    PriceAdjustment,
    ReportSignature,
    ReviewResult,
    SessionPhase,
)
from evaluation.statistics import lot_statistics
from trading import rules
from trading.access import is_tenderee_side
from trading.api import DomainError, store_unavailable
from trading.models import Lot, LotStatus
from trading.objectstore import ObjectMissing, StoreUnavailable, get_store

SUBJECT = "评标报告"
DISSENT_MAX = 2000


def _local(value) -> str:
    if not value:
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return timezone.localtime(moment, rules.LOCAL).strftime("%Y年%m月%d日 %H:%M:%S")


def _names(session: EvaluationSession) -> dict[int, str]:
    """Every drawn expert of the session's draw (sitting or not) by id: dissenters and replaced members by name."""
    return dict(DrawnExpert.objects.filter(draw__request=session.request_id).values_list("pk", "expert__name"))


# --- The content: a snapshot of the session, as plain JSON --------------------------------------------------------


def report_content(session: EvaluationSession, *, now: datetime) -> dict:
    """Everything the report states, read once when the draft is built (the PDF is rendered from this alone)."""
    lot = Lot.objects.select_related("project__tenderee", "project__agency", "project__rule_set").get(pk=session.lot_id)
    project = lot.project
    method = ev.method_of(session)
    names = _names(session)
    sitting = ev.committee(session)
    bids = list(Bid.objects.filter(lot=lot, opening__isnull=False).select_related("bidder").order_by("bidder__credit_code"))
    bidder = {str(b.pk): b.bidder.name for b in bids}
    crits = ev.criteria(
        session, CriterionStage.QUALIFICATION, CriterionStage.COMPLIANCE, CriterionStage.TECHNICAL, CriterionStage.COMMERCIAL
    )
    stages = [CriterionStage.TECHNICAL, CriterionStage.COMMERCIAL]
    scored = sorted((c for c in crits if c.stage in stages), key=lambda c: (stages.index(c.stage), c.position))

    reviews = []
    results = ReviewResult.objects.filter(session=session)
    for r in sorted(results, key=lambda r: (PHASE_ORDER.index(r.phase), bidder.get(str(r.bid_id), ""))):
        reviews.append(
            {
                "phase": r.phase,
                "phase_label": SessionPhase(r.phase).label,
                "bid": str(r.bid_id),
                "bidder": bidder.get(str(r.bid_id), ""),
                "passed": r.passed,
                "votes_for": r.votes_for,
                "votes_against": r.votes_against,
                "dissenters": [names.get(m, str(m)) for m in r.dissenters],
                "reasons": [
                    {"member": names.get(x.get("member"), ""), "criterion": x.get("criterion", ""), "reason": x.get("reason", "")}
                    for x in r.reasons
                ],
            }
        )

    table: dict[int, dict[str, dict[str, str]]] = defaultdict(lambda: defaultdict(dict))
    marks = Mark.objects.filter(session=session, stage__in=[c.stage for c in scored], voided_at__isnull=True)
    for m in marks:
        table[m.member_id][str(m.bid_id)][str(m.criterion_id)] = m.score
    scores = [
        {
            "member": m.pk,
            "name": m.expert.name,
            "rows": [
                {"bid": b, "bidder": bidder[b], "scores": dict(row)}
                for b, row in sorted(table[m.pk].items(), key=lambda i: bidder[i[0]])
            ],
        }
        for m in sitting
        if m.pk in table
    ]

    price = session.price_result or {}
    prices = [
        {
            "bid": b,
            "bidder": bidder.get(b, ""),
            "price": p,
            "score": (price.get("scores") or {}).get(b),
            "evaluated": (price.get("evaluated") or {}).get(b),
        }
        for b, p in sorted((price.get("prices") or {}).items(), key=lambda i: bidder.get(i[0], ""))
    ]
    limit = rules.report_candidates_max(project.rule_set)
    flags = DispersionFlag.objects.filter(session=session).select_related("mark__criterion").order_by("raised_at", "id")
    replaced = DrawnExpert.objects.filter(draw__request=session.request_id, status=MemberStatus.REPLACED).order_by("pk")
    withdrawn = {a.member_id: a.declaration_note for a in session.attendance.filter(conflict=True)}
    chair = next((m for m in sitting if m.pk == session.chair_id), None)
    return ev._plain(
        {
            "project": {
                "name": project.name,
                "code": project.code,
                "tenderee": project.tenderee.name,
                "agency": project.agency.name if project.agency else "",
            },
            "lot": {
                "id": lot.pk,
                "name": lot.name,
                "transaction_code": lot.transaction_code,
                "estimated_price": lot.estimated_price,
                "max_price": lot.max_price,
            },
            "method": {"kind": method.kind, "label": EvaluationKind(method.kind).label},
            "window": {"start": session.request.window_start, "end": session.request.window_end},
            "started_at": session.started_at,
            "committee": [
                {
                    "member": m.pk,
                    "name": m.expert.name,
                    "venue": m.venue.name,
                    "venue_kind": m.venue.get_kind_display(),
                    "seat": m.seat,
                    "chair": m.pk == session.chair_id,
                }
                for m in sitting
            ],
            "chair": {"member": chair.pk, "name": chair.expert.name} if chair else None,
            "replaced": [
                {"member": m.pk, "name": names[m.pk], "reason": m.reason, "withdrawn": m.pk in withdrawn} for m in replaced
            ],
            "bids": [
                {
                    "bid": str(b.pk),
                    "bidder": b.bidder.name,
                    "credit_code": b.bidder.credit_code,
                    "status": b.get_status_display(),
                    "price": (b.opening_summary or {}).get("price", ""),
                }
                for b in bids
            ],
            "reviews": reviews,
            "criteria": [{"id": c.pk, "name": c.name, "stage": c.stage, "max_score": c.max_score} for c in scored],
            "scores": scores,
            "price": {
                "rows": prices,
                "benchmark": price.get("benchmark"),
                "dropped": [bidder.get(b, b) for b in price.get("dropped", [])],
            },
            "ranking": session.ranking,
            "candidates_max": limit,
            "candidates": [{"rank": r["rank"], "bid": r["bid"], "bidder": r["bidder"]} for r in session.ranking[:limit]],
            "flags": [
                {
                    "member": names.get(f.member_id, ""),
                    "bidder": bidder.get(str(f.mark.bid_id), ""),
                    "criterion": f.mark.criterion.name,
                    "score": f.score,
                    "others_mean": f.others_mean,
                    "deviation": f.deviation,
                    "limit": f.limit,
                    "resolution": f.resolution,
                    "resolution_label": DispersionFlag.Resolution(f.resolution).label,
                    "score_now": f.mark.score,
                }
                for f in flags
            ],
            "extensions": [
                {
                    "proposed_by": names.get(p.proposed_by_id, ""),
                    "minutes": p.minutes,
                    "reason": p.reason,
                    "status": p.status,
                    "status_label": ExtensionProposal.Status(p.status).label,
                    "window_end_after": p.window_end_after,
                }
                for p in ExtensionProposal.objects.filter(session=session).order_by("proposed_at", "id")
            ],
            # 条例52: the committee's written questions and the bidders' written answers.
            "clarifications": [
                {
                    "bidder": bidder.get(str(q.bid_id), ""),
                    "phase_label": SessionPhase(q.phase).label,
                    "question": q.question,
                    "asked_at": q.asked_at,
                    "due_at": q.due_at,
                    "answer": q.answer,
                    "answered_at": q.answered_at,
                }
                for q in Clarification.objects.filter(session=session).order_by("asked_at", "id")
            ],
            "adjustments": [
                {"bidder": bidder.get(str(a.bid_id), ""), "factor": a.factor, "amount": a.amount, "reason": a.reason}
                for a in PriceAdjustment.objects.filter(session=session).order_by("recorded_at", "id")
            ],
            "statistics": lot_statistics(lot),
            "dissent": [
                {"phase_label": r["phase_label"], "bidder": r["bidder"], "passed": r["passed"], "members": r["dissenters"]}
                for r in reviews
                if r["dissenters"]
            ],
            "generated_at": now,
        }
    )


# --- The document -------------------------------------------------------------------------------------------------


def _yuan(value) -> str:
    return "—" if value in (None, "") else f"{value}"


def _sections(c: dict) -> list[pdf.ReportSection]:
    S = pdf.ReportSection
    sections = [
        S(
            "一、评标委员会",
            [
                f"评标委员会主任：{c['chair']['name'] if c['chair'] else '—'}",
                f"评标时间：{_local(c['window']['start'])} 至 {_local(c['window']['end'])}（开始评标：{_local(c['started_at'])}）",
                *(
                    f"{'声明回避后' if r['withdrawn'] else ''}被替换成员：{r['name']}（{r['reason'] or '—'}）；其评审结果作废（条例48）"
                    for r in c["replaced"]
                ),
            ],
            [["序号", "姓名", "职务", "评标场地", "席位"]]
            + [
                [str(i), m["name"], "主任" if m["chair"] else "成员", f"{m['venue']}（{m['venue_kind']}）", str(m["seat"])]
                for i, m in enumerate(c["committee"], 1)
            ],
        ),
        S(
            "二、开标情况",
            [f"开标时到达的投标共 {len(c['bids'])} 份。"],
            [["序号", "投标人", "状态", "投标报价（元）"]]
            + [[str(i), b["bidder"], b["status"], _yuan(b["price"])] for i, b in enumerate(c["bids"], 1)],
        ),
    ]
    for phase, label in ((SessionPhase.QUALIFICATION, "三、资格评审"), (SessionPhase.COMPLIANCE, "四、符合性评审")):
        rows = [r for r in c["reviews"] if r["phase"] == phase]
        rejected = [r for r in rows if not r["passed"]]
        sections.append(
            S(
                label,
                [f"否决 {len(rejected)} 份（条例51）。" if rows else "本阶段无评审因素，未作评审。"]
                + [
                    f"否决 {r['bidder']} 的理由："
                    + "；".join(f"{x['member']}（{x['criterion']}）：{x['reason']}" for x in r["reasons"])
                    for r in rejected
                ]
                # A bid passed by the majority: the minority's reasons are kept with their names (dissent recorded).
                + [
                    f"{r['bidder']} 经多数通过，少数成员不合格意见："
                    + "；".join(f"{x['member']}（{x['criterion']}）：{x['reason']}" for x in r["reasons"])
                    for r in rows
                    if r["passed"] and r["reasons"]
                ],
                [["投标人", "结论", "合格票", "不合格票", "持不同意见的成员"]]
                + [
                    [
                        r["bidder"],
                        "通过" if r["passed"] else "否决",
                        str(r["votes_for"]),
                        str(r["votes_against"]),
                        "、".join(r["dissenters"]) or "—",
                    ]
                    for r in rows
                ]
                if rows
                else [],
            )
        )
    asked = c.get("clarifications", [])
    sections.append(
        S(
            "五、澄清、说明（条例52）",
            [] if asked else ["评标委员会未要求投标人澄清、说明。"],
            [["投标人", "阶段", "问题", "提出时间", "答复", "答复时间"]]
            + [
                [
                    q["bidder"],
                    q["phase_label"],
                    q["question"],
                    _local(q["asked_at"]),
                    q["answer"] or "逾期未答复",
                    _local(q["answered_at"]) if q["answered_at"] else "—",
                ]
                for q in asked
            ]
            if asked
            else [],
        )
    )
    crits = c["criteria"]
    sections.append(
        S(
            "六、评分表",
            ["各成员独立评分如下；被替换成员的评分已作废，不列入（条例48）。" if c["scores"] else "本评标办法无评分项。"],
        )
    )
    for i, s in enumerate(c["scores"], 1):
        sections.append(
            S(
                f"（{i}）{s['name']}",
                [],
                [["投标人", *(f"{x['name']}（{x['max_score']}分）" for x in crits)]]
                + [[row["bidder"], *(_yuan(row["scores"].get(str(x["id"]))) for x in crits)] for row in s["rows"]],
            )
        )
    lowest = c["method"]["kind"] == EvaluationKind.LOWEST_PRICE
    price = c["price"]
    sections.append(
        S(
            "七、价格评审",
            [f"评标办法：{c['method']['label']}"]
            + ([f"评标基准价：{price['benchmark']} 元"] if price.get("benchmark") else [])
            + ([f"计算基准价时去掉的报价：{'、'.join(price['dropped'])}"] if price.get("dropped") else [])
            + [f"价格调整：{a['bidder']}，{a['factor']}，{a['amount']} 元（{a['reason']}）" for a in c.get("adjustments", [])],
            [["投标人", "投标报价（元）", "评审价（元）" if lowest else "价格分"]]
            + [[r["bidder"], _yuan(r["price"]), _yuan(r["evaluated"] if lowest else r["score"])] for r in price["rows"]],
        )
    )
    if lowest:
        head = ["排名", "投标人", "评审价（元）", "投标报价（元）"]
        body = [[str(r["rank"]), r["bidder"], _yuan(r.get("evaluated_price")), _yuan(r.get("price"))] for r in c["ranking"]]
    else:
        head = ["排名", "投标人", "技术分", "商务分", "价格分", "总分", "投标报价（元）"]
        body = [
            [
                str(r["rank"]),
                r["bidder"],
                *(_yuan(r.get(k)) for k in ("technical", "commercial", "price_score", "total", "price")),
            ]
            for r in c["ranking"]
        ]
    candidates = "；".join(f"第{x['rank']}名 {x['bidder']}" for x in c["candidates"]) or "无"
    sections.append(
        S(
            "八、排序及推荐的中标候选人",
            [f"推荐的中标候选人（按顺序，不超过{c['candidates_max']}名，条例53）：{candidates}"],
            [head, *body],
        )
    )
    sections.append(
        S(
            "九、畸高畸低提示及处理",
            [] if c["flags"] else ["无。"],
            [["成员", "投标人", "评审因素", "原分", "其他成员平均分", "偏离", "允许偏离", "处理", "现分"]]
            + [
                [
                    f["member"],
                    f["bidder"],
                    f["criterion"],
                    f["score"],
                    f["others_mean"],
                    f["deviation"],
                    f["limit"],
                    f["resolution_label"],
                    _yuan(f["score_now"]),
                ]
                for f in c["flags"]
            ]
            if c["flags"]
            else [],
        )
    )
    sections.append(
        S(
            "十、延长评标时间",
            [] if c["extensions"] else ["无。"],
            [["提议成员", "延长（分钟）", "理由", "结果", "延长后结束时间"]]
            + [
                [x["proposed_by"], str(x["minutes"]), x["reason"], x["status_label"], _local(x["window_end_after"])]
                for x in c["extensions"]
            ]
            if c["extensions"]
            else [],
        )
    )
    sections += _statistics_sections(c["statistics"])
    sections.append(
        S(
            "十二、不同意见",
            [
                f"{d['phase_label']}：{d['bidder']}（多数意见：{'通过' if d['passed'] else '否决'}），持不同意见的成员：{'、'.join(d['members'])}"
                for d in c["dissent"]
            ]
            or ["评审过程中无不同意见。"],
        )
    )
    return sections


def _statistics_sections(st: dict) -> list[pdf.ReportSection]:
    if not st.get("session"):
        return []
    bids = st["bids"]
    first = st["first_candidate"]
    lines = [
        f"开标时到达 {bids['received']} 份，解密 {bids['opened']} 份；资格评审否决 {bids['rejected']['qualification']} 份，"
        f"符合性评审否决 {bids['rejected']['compliance']} 份；有效投标 {bids['valid']} 份。",
        f"延长评标时间：提议 {st['extensions']['proposed']} 次，通过 {st['extensions']['carried']} 次，共 {st['extensions']['minutes']} 分钟；"
        f"替换成员 {len(st['replacements'])} 人。",
    ]
    if first:
        for key, label in (("savings_vs_max_price", "最高投标限价"), ("savings_vs_estimated_price", "估算价")):
            saving = first[key]
            if saving:
                lines.append(
                    f"第一中标候选人报价 {first['price']} 元，较{label} {saving['reference']} 元节约 {saving['amount']} 元（{saving['percent']}%）。"
                )
    phases = [["阶段", "开始", "结束", "用时"]] + [
        [s["label"], _local(s["started_at"]), _local(s["ended_at"]), s["human"] or "进行中"] for s in st["phases"]
    ]
    spread = [["评审因素", "评分数", "最低分", "最高分", "极差", "标准差"]] + [
        [x["name"], str(x["marks"]), x["min"], x["max"], x["range"], x["stdev"]] for x in st["criteria"]
    ]
    return [
        pdf.ReportSection("十一、评标过程数据统计", lines, phases),
        pdf.ReportSection("评分离散程度（各成员有效评分）", [], spread if st["criteria"] else []),
    ]


def _signature_section(signatures: list[dict], draft_sha256: str) -> pdf.ReportSection:
    return pdf.ReportSection(
        "评标委员会成员签署",
        [
            f"各成员对评标报告（草稿 SHA-256：{draft_sha256}）签署如下。对评标结果有不同意见的，以书面形式说明其不同意见和理由（条例53）。",
            *(f"{s['name']}的不同意见及理由：{s['dissent']}" for s in signatures if not s["agree"]),
        ],
        [["成员", "评标场地", "签署时间", "意见", "不同意见及理由"]]
        + [
            [s["name"], s["venue"], _local(s["signed_at"]), "同意" if s["agree"] else "不同意", s["dissent"] or "—"]
            for s in signatures
        ],
        new_page=True,
    )


def render(content: dict, *, signatures: list[dict] | None = None, draft_sha256: str = "") -> bytes:
    """The report PDF from its content; with `signatures`, the final one (the signature page added)."""
    lot, project = content["lot"], content["project"]
    heading = pdf.RecordHeading(
        title=f"{lot['name']} 评标报告",
        lines=[
            ("项目名称", project["name"]),
            ("项目编号", project["code"]),
            ("标段名称", lot["name"]),
            ("统一交易标识码", lot["transaction_code"]),
            ("招标人", project["tenderee"]),
            *([("招标代理机构", project["agency"])] if project["agency"] else []),
            ("估算价（元）", _yuan(lot["estimated_price"])),
            ("最高投标限价（元）", _yuan(lot["max_price"])),
        ],
    )
    sections = _sections(content)
    if signatures is not None:
        sections.append(_signature_section(signatures, draft_sha256))
    footer = [f"报告生成时间：{_local(content['generated_at'])}", "本报告经评标委员会全体成员签署后生效（条例53）。"]
    return pdf.report_pdf(heading, sections, footer, font_path=settings.PDF_CJK_FONT, subject=SUBJECT)


# --- Writes -------------------------------------------------------------------------------------------------------


def _put(key: str, document: bytes) -> None:
    """The object, written as the last step of the caller's transaction (a failure rolls every row back)."""
    try:
        get_store().put(key, io.BytesIO(document), length=len(document), content_type="application/pdf")
    except StoreUnavailable:
        raise store_unavailable() from None


def report_draft(*, session: EvaluationSession, actor, now: datetime) -> EvaluationReport:
    """Builds the draft on entering the report phase, in session_advance's transaction (the session row locked).
    Coming back to the phase (a replacement sent the session back to scoring) rebuilds it: the earlier signatures
    were given to another draft and are removed."""
    content = report_content(session, now=now)
    document = render(content)
    digest = hashlib.sha256(document).hexdigest()
    key = f"evaluation-reports/{session.lot_id}/draft-{digest}.pdf"
    fields = {
        "content": content,
        "object_key": key,
        "sha256": digest,
        "size": len(document),
        "generated_at": now,
    }
    report, created = EvaluationReport.objects.update_or_create(session=session, defaults=fields)
    dropped = 0 if created else report.signatures.all().delete()[0]
    ev._audit(
        "evaluation.report_drafted",
        session,
        actor=actor,
        now=now,
        sha256=digest,
        size=len(document),
        object_key=key,
        signatures_dropped=dropped,
    )
    ev._publish(session, "report", {"sha256": digest}, state={"report": digest}, now=now)
    _put(key, document)
    return report


def _signature_rows(report: EvaluationReport) -> list[dict]:
    venues = {a.member_id: a.venue.name for a in report.session.attendance.filter(voided_at__isnull=True).select_related("venue")}
    return [
        {
            "member": s.member_id,
            "name": s.member.expert.name,
            "venue": venues.get(s.member_id) or (s.member.venue.name if s.member.venue else "—"),
            "signed_at": s.signed_at,
            "agree": s.agree,
            "dissent": s.dissent,
            "sha256": s.sha256,
        }
        for s in report.signatures.select_related("member__expert", "member__venue").order_by("signed_at", "id")
    ]


@transaction.atomic
def report_sign(
    *, session: EvaluationSession, actor, sha256: str, agree: bool, dissent: str = "", now: datetime | None = None
) -> ReportSignature:
    """A sitting member signs the draft whose SHA-256 they saw, once. The last signature finalises the report and
    ends the session."""
    now = ev._now(now)
    session, seat, _ = ev._member_act(session, actor, now)
    ev._require_phase(session, SessionPhase.REPORT)
    report = EvaluationReport.objects.get(session=session)
    if sha256 != report.sha256:
        raise DomainError(
            "report_changed",
            "评标报告已更新，请阅读最新的报告后再签署",
            "The report has changed; read the current one before signing",
            extra={"sha256": report.sha256},
        )
    dissent = dissent.strip()
    # 条例53: a member who disagrees with the result states the disagreement and the reasons in writing.
    if not agree and not dissent:
        raise ev._bad(
            "dissent_required", "不同意评标结果的，须书面说明不同意见和理由", "Disagreeing needs the reasons in writing"
        )
    if len(dissent) > DISSENT_MAX:
        raise ev._bad("dissent_too_long", f"不同意见不超过{DISSENT_MAX}字", f"At most {DISSENT_MAX} characters")
    try:
        with transaction.atomic():
            signature = ReportSignature.objects.create(
                report=report, member=seat, signed_at=now, agree=agree, dissent="" if agree else dissent, sha256=sha256
            )
    except IntegrityError:
        raise DomainError("already_signed", "您已签署评标报告", "You have already signed the report") from None
    ev._audit(
        "evaluation.report_signed",
        session,
        actor=actor,
        now=now,
        member=seat.pk,
        agree=agree,
        dissent=signature.dissent,
        sha256=sha256,
    )
    ev._publish(session, "report_signed", {"member": seat.pk, "agree": agree}, now=now)
    sitting = {m.pk for m in ev.committee(session)}
    if sitting <= set(report.signatures.values_list("member_id", flat=True)):
        _finalise(session, report, actor=actor, now=now)
    return signature


def _finalise(session: EvaluationSession, report: EvaluationReport, *, actor, now: datetime) -> None:
    signatures = _signature_rows(report)
    document = render(report.content, signatures=ev._plain(signatures), draft_sha256=report.sha256)
    digest = hashlib.sha256(document).hexdigest()
    key = f"evaluation-reports/{session.lot_id}/final-{digest}.pdf"
    EvaluationReport.objects.filter(pk=report.pk, finalized_at__isnull=True).update(
        finalized_at=now, final_object_key=key, final_sha256=digest, final_size=len(document)
    )
    ev._audit(
        "evaluation.report_finalized",
        session,
        actor=actor,
        now=now,
        draft_sha256=report.sha256,
        sha256=digest,
        size=len(document),
        object_key=key,
        dissenting=[s["member"] for s in signatures if not s["agree"]],
    )
    ev._move(session, source=SessionPhase.REPORT, target=SessionPhase.DONE, actor=actor, now=now, report=digest)
    _put(key, document)


# --- Reads --------------------------------------------------------------------------------------------------------


def report_for(*, lot: Lot, user) -> EvaluationReport:
    """The lot's report for sitting members, staff and supervisors; for the lot's tenderee side once the winner is
    decided (法40: the committee reports to the tenderee; 法37: the report names the committee, which stays secret
    from the tenderee until then). Anyone else, or no report yet: 404."""
    if not user.is_authenticated:
        raise ev._not_found()
    report = EvaluationReport.objects.filter(session__lot=lot).select_related("session__lot__project").first()
    if report is None:
        raise ev._not_found()
    if user.role in ev.WATCHERS or committee_seat(lot=lot, user=user) is not None:
        return report
    decided = report.session.lot.status in (LotStatus.AWARDED, LotStatus.ARCHIVED)
    if report.finalized_at and decided and is_tenderee_side(user, report.session.lot.project):
        return report
    raise ev._not_found()


def report_state(report: EvaluationReport) -> dict:
    sitting = ev.committee(report.session)
    signatures = _signature_rows(report)
    signed = {s["member"] for s in signatures}
    return ev._plain(
        {
            "session": report.session_id,
            "lot": report.session.lot_id,
            "phase": report.session.phase,
            "sha256": report.sha256,
            "size": report.size,
            "generated_at": report.generated_at,
            "finalized_at": report.finalized_at,
            "final_sha256": report.final_sha256 or None,
            "final_size": report.final_size,
            "signatures": signatures,
            "unsigned": [{"member": m.pk, "name": m.expert.name} for m in sitting if m.pk not in signed],
            "content": report.content,
        }
    )


def report_document(report: EvaluationReport) -> tuple[bytes, str]:
    """(the PDF, its SHA-256): the final one once final, else the draft; checked against the recorded hash."""
    key, digest = (report.final_object_key, report.final_sha256) if report.finalized_at else (report.object_key, report.sha256)
    try:
        document = b"".join(get_store().iter_chunks(key))
    except StoreUnavailable:
        raise store_unavailable() from None
    except ObjectMissing:
        document = b""
    if hashlib.sha256(document).hexdigest() != digest:
        raise DomainError(
            "report_integrity",
            "评标报告文件与记录的 SHA-256 不符，请联系交易中心",
            "The stored report does not match its recorded SHA-256; contact the centre",
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    return document, digest
