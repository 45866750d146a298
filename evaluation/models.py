"""The evaluation committee (评标委员会): venues, the draw request, the draw and the drawn experts; and the lot's
evaluation method (评标办法) with its criteria (docs/evaluation.md, "Method and formulas").

The draw is specified in docs/experts.md ("Draw"); evaluation/draw_random.py is its pure core and
evaluation/services.py its only writer.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q


class Venue(models.Model):
    """An evaluation venue: the main centre (主场) or a secondary centre (副场) of a remote evaluation."""

    class Kind(models.TextChoices):
        MAIN = "main", "主场"
        SECONDARY = "secondary", "副场"

    name = models.CharField("名称", max_length=100, unique=True)
    kind = models.CharField("类型", max_length=20, choices=Kind.choices)
    seats = models.PositiveSmallIntegerField("评标席位数")
    region_code = models.CharField("行政区划代码", max_length=6, blank=True)
    active = models.BooleanField("启用", default=True)
    # The venue's monitored networks (CIDR strings, e.g. "10.20.0.0/24"): a member signs in only from an address in
    # one of them (evaluation.session.member_sign_in). Empty: the venue is not checked (production venues need them).
    networks = models.JSONField("场地网络（CIDR）", default=list, blank=True)
    # 远程异地评标: a venue of another trading centre, booked through the regional link (trading/regional). Empty: ours.
    centre_code = models.CharField("所属交易中心代码", max_length=20, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "评标场地"
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=["main", "secondary"]), name="venue_kind_valid"),
            models.CheckConstraint(condition=Q(seats__gt=0), name="venue_has_seats"),
        ]

    def __str__(self):
        return f"{self.name}（{self.get_kind_display()}）"


class DrawRequest(models.Model):
    """专家抽取申请 for one lot: what to draw, where the committee sits, when, and whom staff exclude."""

    class Status(models.TextChoices):
        PENDING = "pending", "待抽取"
        DRAWN = "drawn", "已抽取，待确认"
        FIXED = "fixed", "委员会已组成"
        CANCELLED = "cancelled", "已取消"

    lot = models.ForeignKey("trading.Lot", verbose_name="标段", on_delete=models.PROTECT, related_name="draw_requests")
    status = models.CharField("状态", max_length=20, choices=Status.choices, default=Status.PENDING)
    backups_per_line = models.PositiveSmallIntegerField("每个专业备选人数", default=2)
    tenderee_reps = models.PositiveSmallIntegerField("招标人代表人数", default=0)
    window_start = models.DateTimeField("评标开始时间")
    window_end = models.DateTimeField("评标结束时间")
    response_minutes = models.PositiveSmallIntegerField("专家答复时限（分钟）", default=30)
    # Staff exclusions: employers (credit codes) and experts (ids) that may not sit, with the reason.
    excluded_employers = models.JSONField("回避单位（统一社会信用代码）", default=list, blank=True)
    excluded_experts = models.JSONField("回避专家（编号）", default=list, blank=True)
    exclusion_note = models.TextField("回避说明", blank=True)
    # 远程异地评标: also draw experts of the regional pool (Expert.pool), called through the regional link.
    regional_pool = models.BooleanField("使用区域专家库", default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField("申请时间")
    fixed_at = models.DateTimeField("委员会组成时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "专家抽取申请"
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "drawn", "fixed", "cancelled"]), name="draw_request_status_valid"
            ),
            models.CheckConstraint(condition=Q(window_end__gt=models.F("window_start")), name="draw_window_positive"),
            models.CheckConstraint(condition=Q(response_minutes__gt=0), name="draw_response_minutes_positive"),
            # One committee per lot: at most one request that is not cancelled.
            models.UniqueConstraint(fields=["lot"], condition=~Q(status="cancelled"), name="one_live_draw_request_per_lot"),
        ]
        indexes = [models.Index(fields=["window_start", "window_end"], name="draw_request_window_idx")]

    def __str__(self):
        return f"抽取申请 #{self.pk} {self.lot_id}"


class DrawLine(models.Model):
    """A specialty line: `count` experts whose specialty code starts with `specialty_code` (A08 matches A0801)."""

    request = models.ForeignKey(DrawRequest, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField("序号")
    specialty_code = models.CharField("专业代码", max_length=20)
    count = models.PositiveSmallIntegerField("抽取人数")

    class Meta:
        verbose_name = verbose_name_plural = "抽取专业"
        ordering = ["request", "position"]
        constraints = [
            models.UniqueConstraint(fields=["request", "position"], name="draw_line_position_unique"),
            models.UniqueConstraint(fields=["request", "specialty_code"], name="draw_line_specialty_unique"),
            models.CheckConstraint(condition=Q(count__gt=0), name="draw_line_count_positive"),
        ]


class DrawVenue(models.Model):
    """The seats a request books at one venue."""

    request = models.ForeignKey(DrawRequest, on_delete=models.CASCADE, related_name="venues")
    venue = models.ForeignKey(Venue, on_delete=models.PROTECT, related_name="+")
    seats = models.PositiveSmallIntegerField("席位数")

    class Meta:
        verbose_name = verbose_name_plural = "评标场地席位"
        ordering = ["request", "id"]
        constraints = [
            models.UniqueConstraint(fields=["request", "venue"], name="draw_venue_unique"),
            models.CheckConstraint(condition=Q(seats__gt=0), name="draw_venue_seats_positive"),
        ]


class Draw(models.Model):
    """The draw of one request. Its id is the request's id (it enters the commitment).

    `seed_sealed` keeps the seed (trading/sealing.py, purpose "expert-draw") until the committee is fixed; then
    `seed` is written in clear and the seed is in the audit trail. `snapshot` is the exact byte string
    whose SHA-256 is `snapshot_sha256` (evaluation/draw_random.py, encode_snapshot).
    """

    request = models.OneToOneField(DrawRequest, primary_key=True, on_delete=models.PROTECT, related_name="draw")
    commitment = models.CharField("种子承诺值（SHA-256）", max_length=64)
    seed_sealed = models.BinaryField()
    seed = models.CharField("随机种子（公开后）", max_length=64, blank=True)
    snapshot = models.BinaryField("符合条件的专家名单快照")
    snapshot_sha256 = models.CharField("名单快照 SHA-256", max_length=64)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField("抽取时间")
    revealed_at = models.DateTimeField("种子公开时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "专家抽取"
        constraints = [
            models.CheckConstraint(
                condition=(Q(seed="") & Q(revealed_at__isnull=True)) | (~Q(seed="") & Q(revealed_at__isnull=False)),
                name="draw_seed_revealed_consistent",
            )
        ]


class MemberStatus(models.TextChoices):
    BACKUP = "backup", "备选"
    INVITED = "invited", "已通知，待确认"
    CONFIRMED = "confirmed", "已确认"
    DECLINED = "declined", "已拒绝"
    TIMED_OUT = "timed_out", "超时未答复"
    REPLACED = "replaced", "已被替换"
    SKIPPED = "skipped", "已跳过"


SEATED = (MemberStatus.INVITED, MemberStatus.CONFIRMED)


class DrawnExpert(models.Model):
    """One item of a line's stream: a member (invited → confirmed), a backup, or a skipped item, with its position."""

    Status = MemberStatus

    draw = models.ForeignKey(Draw, on_delete=models.PROTECT, related_name="members")
    line = models.ForeignKey(DrawLine, on_delete=models.PROTECT, related_name="members")
    position = models.PositiveIntegerField("抽取序位")
    expert = models.ForeignKey("experts.Expert", on_delete=models.PROTECT, related_name="committee_seats")
    status = models.CharField("状态", max_length=20, choices=MemberStatus.choices)
    venue = models.ForeignKey(Venue, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    seat = models.PositiveSmallIntegerField("席位号", null=True, blank=True)
    invited_at = models.DateTimeField("通知时间", null=True, blank=True)
    respond_by = models.DateTimeField("答复截止", null=True, blank=True)
    responded_at = models.DateTimeField("答复时间", null=True, blank=True)
    reason = models.CharField("说明", max_length=200, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "抽取结果"
        ordering = ["draw", "line", "position"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=[s.value for s in MemberStatus]), name="drawn_expert_status_valid"),
            models.UniqueConstraint(fields=["line", "position"], name="drawn_expert_position_unique"),
            # An expert sits at most once per committee (a skipped item may repeat an expert of another line).
            models.UniqueConstraint(fields=["draw", "expert"], condition=~Q(status="skipped"), name="drawn_expert_once"),
            models.UniqueConstraint(
                fields=["draw", "venue", "seat"],
                condition=Q(status__in=["invited", "confirmed"]),
                name="drawn_expert_seat_unique",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["invited", "confirmed"])
                | Q(venue__isnull=False, seat__isnull=False, respond_by__isnull=False),
                name="drawn_expert_seated_has_seat",
            ),
        ]
        indexes = [
            models.Index(fields=["expert", "status"], name="drawn_expert_busy_idx"),
            models.Index(fields=["status", "respond_by"], name="drawn_expert_due_idx"),
        ]


# --- The evaluation method (评标办法) of a lot: part of the tender documents ---------------------------------------


class EvaluationKind(models.TextChoices):
    # 评标规定34-36: scored technical and commercial criteria plus a price score.
    COMPREHENSIVE = "comprehensive", "综合评估法"
    # 评标规定30-33: pass/fail reviews, then the lowest evaluated price.
    LOWEST_PRICE = "lowest_price", "经评审的最低投标价法"


class CriterionStage(models.TextChoices):
    QUALIFICATION = "qualification", "资格评审"
    COMPLIANCE = "compliance", "符合性（响应性）评审"
    TECHNICAL = "technical", "技术评分"
    COMMERCIAL = "commercial", "商务评分"


PASS_FAIL_STAGES = (CriterionStage.QUALIFICATION, CriterionStage.COMPLIANCE)
SCORED_STAGES = (CriterionStage.TECHNICAL, CriterionStage.COMMERCIAL)


class EvaluationMethod(models.Model):
    """评标办法 of one lot: the method, the weights, the price formula and its coefficients, the aggregation.

    Written in the tender documents and binding on the committee (法40, 条例49): it may change only until the
    documents are issued (evaluation/services.py, `method_create` / `method_replace`). The price and aggregation
    parameters are copied from the RuleSet when the method is created (or given explicitly), so a later change of
    the rule set does not reach a lot whose documents are out. evaluation/formulas.py applies them.
    """

    Kind = EvaluationKind

    lot = models.OneToOneField("trading.Lot", verbose_name="标段", on_delete=models.PROTECT, related_name="evaluation_method")
    kind = models.CharField("评标方法", max_length=20, choices=EvaluationKind.choices)
    # 评标规定35: the factors and their weights are stated in the tender documents. Comprehensive: they sum to 100.
    # Lowest evaluated price: no scores, all three are 0.
    technical_weight = models.DecimalField("技术分权重", max_digits=5, decimal_places=2, default=0)
    commercial_weight = models.DecimalField("商务分权重", max_digits=5, decimal_places=2, default=0)
    price_weight = models.DecimalField("价格分权重", max_digits=5, decimal_places=2, default=0)
    # The price formula (comprehensive only; blank for the lowest evaluated price) and its coefficients (RuleSet).
    price_formula = models.CharField("价格分计算方法", max_length=20, blank=True)
    price_drop_extremes = models.BooleanField("基准价计算去掉一个最高和一个最低有效报价")
    price_drop_min_bids = models.PositiveSmallIntegerField("去掉最高最低报价所需最少有效报价数")
    price_k = models.DecimalField("基准价系数K", max_digits=5, decimal_places=4)
    price_e_above = models.DecimalField("高于基准价每1%扣分（E1）", max_digits=5, decimal_places=2)
    price_e_below = models.DecimalField("低于基准价每1%扣分（E2）", max_digits=5, decimal_places=2)
    score_drop_extremes = models.BooleanField("评分汇总去掉一个最高分和一个最低分")
    score_drop_min_members = models.PositiveSmallIntegerField("去掉最高最低分所需最少评委人数")
    note = models.TextField("说明", blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField("创建时间")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField("修改时间")

    class Meta:
        verbose_name = verbose_name_plural = "评标办法"
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=[k.value for k in EvaluationKind]), name="method_kind_valid"),
            models.CheckConstraint(
                condition=Q(technical_weight__gte=0, commercial_weight__gte=0, price_weight__gte=0),
                name="method_weights_nonnegative",
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind="comprehensive", price_formula__in=["benchmark", "lowest"], price_weight__gt=0)
                    # price = 100 − technical − commercial, written as a ±0.001 band because SQLite keeps decimals as
                    # floats (33.33 + 33.33 + 33.34); the weights have 2 decimals, so the band admits only equality.
                    & Q(price_weight__gt=Decimal("99.999") - models.F("technical_weight") - models.F("commercial_weight"))
                    & Q(price_weight__lt=Decimal("100.001") - models.F("technical_weight") - models.F("commercial_weight"))
                )
                | Q(kind="lowest_price", price_formula="", technical_weight=0, commercial_weight=0, price_weight=0),
                name="method_weights_by_kind",
            ),
            models.CheckConstraint(condition=Q(price_drop_min_bids__gte=3), name="method_price_drop_min_bids"),
            models.CheckConstraint(condition=Q(price_k__gt=0, price_k__lte=1), name="method_price_k_range"),
            models.CheckConstraint(condition=Q(price_e_above__gte=0, price_e_below__gte=0), name="method_price_e_nonnegative"),
            models.CheckConstraint(condition=Q(score_drop_min_members__gte=3), name="method_score_drop_min_members"),
        ]

    def __str__(self):
        return f"{self.lot_id} {self.get_kind_display()}"


class Criterion(models.Model):
    """One review item or scored factor (评审因素). Pass/fail stages have no maximum; scored stages have one, and the
    maxima of a stage sum to that stage's weight."""

    Stage = CriterionStage

    method = models.ForeignKey(EvaluationMethod, on_delete=models.CASCADE, related_name="criteria")
    stage = models.CharField("评审阶段", max_length=20, choices=CriterionStage.choices)
    position = models.PositiveSmallIntegerField("序号")
    name = models.CharField("评审因素", max_length=200)
    max_score = models.DecimalField("分值", max_digits=5, decimal_places=2, null=True, blank=True)
    guidance = models.TextField("评审标准", blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "评审因素"
        ordering = ["method", "stage", "position"]
        constraints = [
            models.CheckConstraint(condition=Q(stage__in=[s.value for s in CriterionStage]), name="criterion_stage_valid"),
            models.UniqueConstraint(fields=["method", "stage", "position"], name="criterion_position_unique"),
            models.CheckConstraint(
                condition=Q(stage__in=["qualification", "compliance"], max_score__isnull=True)
                | Q(stage__in=["technical", "commercial"], max_score__isnull=False, max_score__gt=0),
                name="criterion_max_score_by_stage",
            ),
        ]

    def __str__(self):
        return f"{self.get_stage_display()} {self.position}. {self.name}"


# --- The evaluation session (评标过程) of a lot: phases, members' acts, results -------------------------------------
# docs/evaluation.md ("The evaluation session"); evaluation/session.py is the only writer.


class SessionPhase(models.TextChoices):
    SIGN_IN = "sign_in", "签到"
    DECLARATION = "declaration", "回避声明"
    CHAIR_ELECTION = "chair_election", "推选评标委员会主任"
    QUALIFICATION = "qualification", "资格评审"
    COMPLIANCE = "compliance", "符合性评审"
    SCORING = "scoring", "详细评审（评分）"
    PRICE = "price", "价格分计算"
    SUMMARY = "summary", "汇总与排序"
    REPORT = "report", "评标报告签署"
    DONE = "done", "评审结束"


PHASE_ORDER = [p.value for p in SessionPhase]


class EvaluationSession(models.Model):
    """The committee's evaluation of one lot, phase by phase. One per lot; its committee is the fixed draw request's."""

    Phase = SessionPhase

    lot = models.OneToOneField("trading.Lot", verbose_name="标段", on_delete=models.PROTECT, related_name="evaluation_session")
    request = models.OneToOneField(DrawRequest, on_delete=models.PROTECT, related_name="session")
    phase = models.CharField("阶段", max_length=20, choices=SessionPhase.choices, default=SessionPhase.SIGN_IN)
    phase_started_at = models.DateTimeField("本阶段开始时间")
    chair = models.ForeignKey(DrawnExpert, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    chair_round = models.PositiveSmallIntegerField("主任推选轮次", default=1)
    # Written on entering the price and summary phases (evaluation/formulas.py), cleared if scoring restarts.
    price_result = models.JSONField("价格分", default=dict, blank=True)
    ranking = models.JSONField("排序", default=list, blank=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField("开始时间")
    finished_at = models.DateTimeField("结束时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "评标过程"
        constraints = [
            models.CheckConstraint(condition=Q(phase__in=PHASE_ORDER), name="session_phase_valid"),
            models.CheckConstraint(
                condition=Q(phase="done", finished_at__isnull=False) | (~Q(phase="done") & Q(finished_at__isnull=True)),
                name="session_finished_when_done",
            ),
        ]


class PhaseSpan(models.Model):
    """When a phase started and ended (statistics, 评标过程数据统计). A phase entered again (scoring restarted after a
    replacement) has a second span."""

    session = models.ForeignKey(EvaluationSession, on_delete=models.CASCADE, related_name="spans")
    phase = models.CharField("阶段", max_length=20, choices=SessionPhase.choices)
    started_at = models.DateTimeField("开始时间")
    ended_at = models.DateTimeField("结束时间", null=True, blank=True)

    class Meta:
        ordering = ["session", "started_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["session"], condition=Q(ended_at__isnull=True), name="phase_span_one_open"),
        ]


class SessionMember(models.Model):
    """A member's attendance: sign-in (where from), declaration, chair vote. Void once the member is replaced."""

    session = models.ForeignKey(EvaluationSession, on_delete=models.CASCADE, related_name="attendance")
    member = models.ForeignKey(DrawnExpert, on_delete=models.PROTECT, related_name="+")
    signed_in_at = models.DateTimeField("签到时间")
    venue = models.ForeignKey(Venue, on_delete=models.PROTECT, related_name="+")
    declared_at = models.DateTimeField("声明时间", null=True, blank=True)
    conflict = models.BooleanField("声明须回避", default=False)
    declaration_note = models.CharField("声明说明", max_length=500, blank=True)
    chair_vote = models.ForeignKey(DrawnExpert, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    voided_at = models.DateTimeField("作废时间", null=True, blank=True)

    class Meta:
        ordering = ["session", "id"]
        constraints = [
            models.UniqueConstraint(fields=["session", "member"], name="session_member_once"),
            models.CheckConstraint(condition=Q(conflict=False) | Q(declared_at__isnull=False), name="session_conflict_declared"),
        ]


class Mark(models.Model):
    """One member's verdict (qualification, compliance: passed, with a reason when failed) or score (technical,
    commercial) on one criterion for one bid. A replaced member's marks are void (条例48), so are marks of a re-vote."""

    session = models.ForeignKey(EvaluationSession, on_delete=models.CASCADE, related_name="marks")
    stage = models.CharField("评审阶段", max_length=20, choices=CriterionStage.choices)
    member = models.ForeignKey(DrawnExpert, on_delete=models.PROTECT, related_name="+")
    bid = models.ForeignKey("bidding.Bid", on_delete=models.PROTECT, related_name="+")
    criterion = models.ForeignKey(Criterion, on_delete=models.PROTECT, related_name="+")
    passed = models.BooleanField("合格", null=True, blank=True)
    reason = models.CharField("不合格理由", max_length=500, blank=True)
    score = models.DecimalField("得分", max_digits=6, decimal_places=2, null=True, blank=True)
    submitted_at = models.DateTimeField("提交时间")
    amended_at = models.DateTimeField("修改时间", null=True, blank=True)
    voided_at = models.DateTimeField("作废时间", null=True, blank=True)
    void_reason = models.CharField("作废原因", max_length=40, blank=True)

    class Meta:
        ordering = ["session", "stage", "bid", "criterion", "member"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "member", "bid", "criterion"], condition=Q(voided_at__isnull=True), name="mark_once"
            ),
            models.CheckConstraint(
                condition=Q(stage__in=["qualification", "compliance"], passed__isnull=False, score__isnull=True)
                & (Q(passed=True) | ~Q(reason=""))
                | Q(stage__in=["technical", "commercial"], passed__isnull=True, score__isnull=False, score__gte=0),
                name="mark_by_stage",
            ),
        ]


class Submission(models.Model):
    """A member handed in their whole table for a phase (qualification, compliance, scoring)."""

    session = models.ForeignKey(EvaluationSession, on_delete=models.CASCADE, related_name="submissions")
    phase = models.CharField("阶段", max_length=20, choices=SessionPhase.choices)
    member = models.ForeignKey(DrawnExpert, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField("提交时间")
    voided_at = models.DateTimeField("作废时间", null=True, blank=True)

    class Meta:
        ordering = ["session", "submitted_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "phase", "member"], condition=Q(voided_at__isnull=True), name="submission_once"
            ),
        ]


class ReviewResult(models.Model):
    """The committee's majority on one bid in a pass/fail phase, with the dissenting members (条例53)."""

    session = models.ForeignKey(EvaluationSession, on_delete=models.CASCADE, related_name="results")
    phase = models.CharField("阶段", max_length=20, choices=SessionPhase.choices)
    bid = models.ForeignKey("bidding.Bid", on_delete=models.PROTECT, related_name="+")
    passed = models.BooleanField("通过")
    votes_for = models.PositiveSmallIntegerField("合格票")
    votes_against = models.PositiveSmallIntegerField("不合格票")
    dissenters = models.JSONField("持不同意见的成员", default=list, blank=True)
    reasons = models.JSONField("不合格理由", default=list, blank=True)
    decided_at = models.DateTimeField("决定时间")

    class Meta:
        ordering = ["session", "phase", "id"]
        constraints = [models.UniqueConstraint(fields=["session", "phase", "bid"], name="review_result_once")]


class DispersionFlag(models.Model):
    """畸高畸低: a score further from the others' mean than the rule set allows; the member confirms or amends it."""

    class Resolution(models.TextChoices):
        OPEN = "", "待处理"
        CONFIRMED = "confirmed", "确认原分"
        AMENDED = "amended", "已修改"
        VOID = "void", "已作废"

    session = models.ForeignKey(EvaluationSession, on_delete=models.CASCADE, related_name="flags")
    mark = models.ForeignKey(Mark, on_delete=models.PROTECT, related_name="flags")
    member = models.ForeignKey(DrawnExpert, on_delete=models.PROTECT, related_name="+")
    score = models.DecimalField("得分", max_digits=6, decimal_places=2)
    others_mean = models.DecimalField("其他成员平均分", max_digits=8, decimal_places=2)
    deviation = models.DecimalField("偏离", max_digits=8, decimal_places=2)
    limit = models.DecimalField("允许偏离", max_digits=8, decimal_places=2)
    raised_at = models.DateTimeField("提示时间")
    resolution = models.CharField("处理", max_length=20, choices=Resolution.choices, blank=True, default="")
    resolved_at = models.DateTimeField("处理时间", null=True, blank=True)

    class Meta:
        ordering = ["session", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(resolution="", resolved_at__isnull=True)
                | Q(resolution__in=["confirmed", "amended", "void"], resolved_at__isnull=False),
                name="flag_resolution_valid",
            ),
            models.UniqueConstraint(fields=["mark"], condition=Q(resolution=""), name="flag_one_open_per_mark"),
        ]


class ExtensionProposal(models.Model):
    """A member says the time is short (条例48): carried when more than 1/3 of the members vote yes."""

    class Status(models.TextChoices):
        OPEN = "open", "表决中"
        CARRIED = "carried", "通过"
        NOT_CARRIED = "not_carried", "未通过"
        VOID = "void", "已作废"

    session = models.ForeignKey(EvaluationSession, on_delete=models.CASCADE, related_name="extensions")
    proposed_by = models.ForeignKey(DrawnExpert, on_delete=models.PROTECT, related_name="+")
    minutes = models.PositiveIntegerField("延长分钟数")
    reason = models.CharField("理由", max_length=500)
    status = models.CharField("状态", max_length=20, choices=Status.choices, default=Status.OPEN)
    proposed_at = models.DateTimeField("提议时间")
    decided_at = models.DateTimeField("表决结果时间", null=True, blank=True)
    window_end_before = models.DateTimeField("原结束时间")
    window_end_after = models.DateTimeField("延长后结束时间", null=True, blank=True)

    class Meta:
        ordering = ["session", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["open", "carried", "not_carried", "void"]), name="extension_status_valid"
            ),
            models.CheckConstraint(condition=Q(minutes__gt=0), name="extension_minutes_positive"),
            models.UniqueConstraint(fields=["session"], condition=Q(status="open"), name="extension_one_open"),
        ]


class ExtensionBallot(models.Model):
    proposal = models.ForeignKey(ExtensionProposal, on_delete=models.CASCADE, related_name="ballots")
    member = models.ForeignKey(DrawnExpert, on_delete=models.PROTECT, related_name="+")
    yes = models.BooleanField("同意延长")
    cast_at = models.DateTimeField("表决时间")

    class Meta:
        ordering = ["proposal", "id"]
        constraints = [models.UniqueConstraint(fields=["proposal", "member"], name="extension_ballot_once")]


# --- The evaluation report (评标报告) and the members' signatures (条例53) --------------------------------------------
# evaluation/report.py is the only writer; docs/evaluation.md ("The report, signatures and statistics").


class EvaluationReport(models.Model):
    """The session's report: the draft (content snapshot and its PDF, built on entering the report phase, rebuilt if
    the session comes back to it) and, once every sitting member has signed, the final PDF with the signature page."""

    session = models.OneToOneField(EvaluationSession, on_delete=models.PROTECT, related_name="report")
    content = models.JSONField("报告内容")
    object_key = models.CharField("草稿存储位置", max_length=300)
    sha256 = models.CharField("草稿 SHA-256", max_length=64)
    size = models.PositiveBigIntegerField("草稿大小（字节）")
    generated_at = models.DateTimeField("生成时间")
    finalized_at = models.DateTimeField("签署完成时间", null=True, blank=True)
    final_object_key = models.CharField("正式报告存储位置", max_length=300, blank=True)
    final_sha256 = models.CharField("正式报告 SHA-256", max_length=64, blank=True)
    final_size = models.PositiveBigIntegerField("正式报告大小（字节）", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "评标报告"
        constraints = [
            models.CheckConstraint(
                condition=Q(finalized_at__isnull=True, final_object_key="", final_sha256="", final_size__isnull=True)
                | (Q(finalized_at__isnull=False, final_size__isnull=False) & ~Q(final_object_key="") & ~Q(final_sha256="")),
                name="report_final_complete",
            ),
        ]


class ReportSignature(models.Model):
    """A member's signature on the draft they saw (its SHA-256): agreement, or disagreement with the written reasons
    (条例53)."""

    report = models.ForeignKey(EvaluationReport, on_delete=models.CASCADE, related_name="signatures")
    member = models.ForeignKey(DrawnExpert, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField("签署时间")
    agree = models.BooleanField("同意评标结论")
    dissent = models.TextField("不同意见及理由", blank=True)
    sha256 = models.CharField("所签报告 SHA-256", max_length=64)

    class Meta:
        verbose_name = verbose_name_plural = "评标报告签署"
        ordering = ["report", "signed_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["report", "member"], name="report_signature_once"),
            models.CheckConstraint(condition=Q(agree=True) | ~Q(dissent=""), name="report_dissent_written"),
        ]


# --- Clarifications (条例52) and price adjustments (评标规定30-31) during the evaluation ---------------------------
# evaluation/clarifications.py is the only writer.


class Clarification(models.Model):
    """条例52: the committee (through its chair) asks a bidder in writing to clarify or explain its bid; the bidder
    answers in writing, once, before `due_at`, without going beyond its bid or changing its substance. The bidder
    never learns which member asked (the committee list is secret, 法37)."""

    session = models.ForeignKey(EvaluationSession, on_delete=models.CASCADE, related_name="clarifications")
    bid = models.ForeignKey("bidding.Bid", on_delete=models.PROTECT, related_name="+")
    phase = models.CharField("提出阶段", max_length=20)  # a SessionPhase value
    question = models.TextField("澄清问题")
    asked_by = models.ForeignKey(DrawnExpert, on_delete=models.PROTECT, related_name="+")
    asked_at = models.DateTimeField("提出时间")
    due_at = models.DateTimeField("答复截止时间")
    answer = models.TextField("澄清、说明", blank=True)
    answered_at = models.DateTimeField("答复时间", null=True, blank=True)
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = verbose_name_plural = "澄清、说明"
        ordering = ["session", "asked_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(due_at__gt=models.F("asked_at")), name="clarification_due_after_asked"),
            models.CheckConstraint(
                condition=Q(answer="", answered_at__isnull=True, answered_by__isnull=True)
                | (~Q(answer="") & Q(answered_at__isnull=False, answered_by__isnull=False)),
                name="clarification_answer_complete",
            ),
        ]
        indexes = [models.Index(fields=["session", "answered_at", "due_at"], name="clarification_open_idx")]


class PriceAdjustment(models.Model):
    """经评审的最低投标价法 (评标规定30-31): one adjustment of a bid's price, by a factor the tender documents state
    (a deviation, a payment term, …), positive or negative, in yuan. The evaluated price is the bid price plus the
    bid's adjustments (formulas.evaluated_price). Recorded by the chair during the price phase."""

    session = models.ForeignKey(EvaluationSession, on_delete=models.CASCADE, related_name="price_adjustments")
    bid = models.ForeignKey("bidding.Bid", on_delete=models.PROTECT, related_name="+")
    factor = models.CharField("调整因素", max_length=200)
    amount = models.DecimalField("调整金额（元）", max_digits=16, decimal_places=2)
    reason = models.CharField("理由", max_length=500)
    recorded_by = models.ForeignKey(DrawnExpert, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField("记录时间")

    class Meta:
        verbose_name = verbose_name_plural = "评标价调整"
        ordering = ["session", "recorded_at", "id"]
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="price_adjustment_nonzero")]
