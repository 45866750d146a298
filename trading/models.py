"""The centre's core: parties, rule sets and calendar, tender projects and lots, reviews, documents, objections."""

import uuid
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q

from trading.codes import validate_credit_code


class OrganisationKind(models.TextChoices):
    CENTRE = "centre", "交易中心"
    TENDEREE = "tenderee", "招标人"
    AGENCY = "agency", "招标代理机构"
    BIDDER = "bidder", "投标人"
    SUPERVISOR = "supervisor", "行政监督部门"
    OTHER = "other", "其他单位"


class Organisation(models.Model):
    Kind = OrganisationKind

    name = models.CharField("名称", max_length=200)
    credit_code = models.CharField("统一社会信用代码", max_length=18, unique=True, validators=[validate_credit_code])
    kind = models.CharField("类型", max_length=20, choices=Kind.choices)
    region_code = models.CharField("行政区划代码", max_length=6, blank=True)
    contact_name = models.CharField("联系人", max_length=50, blank=True)
    contact_phone = models.CharField("联系电话", max_length=30, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = verbose_name_plural = "单位"
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=[k.value for k in OrganisationKind]), name="organisation_kind_valid")
        ]

    def __str__(self):
        return self.name


class Role(models.TextChoices):
    STAFF = "staff", "交易中心工作人员"
    TENDEREE = "tenderee", "招标人"
    AGENCY = "agency", "招标代理"
    BIDDER = "bidder", "投标人"
    EXPERT = "expert", "评标专家"
    SUPERVISOR = "supervisor", "监督人员"


class User(AbstractUser):
    role = models.CharField("角色", max_length=20, choices=Role.choices)
    organisation = models.ForeignKey(
        Organisation, verbose_name="所属单位", null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    phone = models.CharField("手机", max_length=30, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "用户"
        constraints = [models.CheckConstraint(condition=Q(role__in=[r.value for r in Role]), name="user_role_valid")]


class PriceFormula(models.TextChoices):
    """评标基准价 and price score formulas (evaluation/formulas.py applies them)."""

    BENCHMARK = "benchmark", "基准价法（有效报价平均值×K，偏离扣分）"
    LOWEST = "lowest", "最低价法（有效最低报价/投标报价×价格分值）"


class RuleSet(models.Model):
    """Every window and count for one procedure type. Defaults are those for 工程建设项目招标.

    The law's wording behind each field is cited beside it; trading/rules.py applies them.
    """

    code = models.SlugField("程序类型代码", max_length=40, unique=True)
    name = models.CharField("程序类型", max_length=100)
    name_en = models.CharField("Procedure type", max_length=100, blank=True)
    # 法24: from the day tender documents are issued to the bid deadline, at least 20 days.
    doc_to_deadline_days = models.PositiveSmallIntegerField("招标文件发出至投标截止最短天数", default=20)
    # 条例16: the documents' sale/download period is at least 5 days.
    doc_sale_min_days = models.PositiveSmallIntegerField("招标文件发售期最短天数", default=5)
    # 条例21: a clarification that may affect bids comes at least 15 days before the deadline, else it moves.
    clarification_min_days = models.PositiveSmallIntegerField("澄清修改距投标截止最短天数", default=15)
    # 条例22: an objection to tender documents is raised at least 10 days before the deadline.
    objection_cutoff_days = models.PositiveSmallIntegerField("对招标文件异议截止（投标截止前天数）", default=10)
    # 条例22: an objection to prequalification documents is raised at least 2 days before that deadline.
    prequal_objection_cutoff_days = models.PositiveSmallIntegerField("对资格预审文件异议截止（提交截止前天数）", default=2)
    # 条例22: the tenderee answers within 3 days; the process pauses until then.
    objection_answer_days = models.PositiveSmallIntegerField("异议答复期限（天）", default=3)
    # 条例44: fewer than 3 bids, no opening; re-tender.
    min_bids = models.PositiveSmallIntegerField("开标最少投标人数", default=3)
    # 法37: the committee has at least 5 members, an odd number, experts at least two thirds.
    committee_min_size = models.PositiveSmallIntegerField("评标委员会最少人数", default=5)
    committee_expert_ratio = models.DecimalField("专家最低占比", max_digits=5, decimal_places=4, default=Decimal("0.6667"))
    # 法37, 评标规定9: the committee's total (experts + tenderee representatives) is an odd number (五人以上单数).
    committee_odd_size = models.BooleanField("评标委员会人数须为单数", default=True)
    # 专家办法 (评标专家和评标专家库管理办法) and the regional expert-pool rule (rotation, 避免专家频繁参评): an expert
    # confirmed on `expert_draw_limit` committees within the last `expert_draw_period_days` days is not drawn again.
    # The defaults are local practice values: set them to the region's rule.
    expert_draw_limit = models.PositiveSmallIntegerField("周期内专家参评次数上限", default=4)
    expert_draw_period_days = models.PositiveSmallIntegerField("专家参评次数统计周期（天）", default=30)
    # 条例53: at most 3 ranked candidates.
    max_candidates = models.PositiveSmallIntegerField("中标候选人最多人数", default=3)
    # 条例54: candidates published within 3 days of the report, publicity at least 3 days,
    # objections during publicity answered within 3 days.
    candidates_publish_days = models.PositiveSmallIntegerField("收到评标报告后公示期限（天）", default=3)
    publicity_min_days = models.PositiveSmallIntegerField("中标候选人公示最短天数", default=3)
    publicity_objection_answer_days = models.PositiveSmallIntegerField("公示期异议答复期限（天）", default=3)
    # 法46: contract within 30 days of the award letter.
    contract_days = models.PositiveSmallIntegerField("中标通知书发出后签订合同期限（天）", default=30)
    # 法47: written report to the supervisor within 15 days of the award.
    supervisor_report_days = models.PositiveSmallIntegerField("向监督部门提交书面报告期限（天）", default=15)
    # 条例57: bond refunded within 5 days of the contract.
    bond_refund_days = models.PositiveSmallIntegerField("签订合同后退还保证金期限（天）", default=5)
    # 条例60: complaints within 10 days of knowing.
    complaint_days = models.PositiveSmallIntegerField("投诉期限（天）", default=10)
    # 条例26: the bond may not exceed 2% of the estimated price.
    bond_cap_percent = models.DecimalField("投标保证金上限（估算价百分比）", max_digits=5, decimal_places=2, default=Decimal("2"))
    # Archive kept at least 15 years.
    archive_years = models.PositiveSmallIntegerField("档案保存年限", default=15)
    # 电子办法 / tender documents: the window in which bidders decrypt at opening.
    decryption_window_minutes = models.PositiveSmallIntegerField("开标解密时限（分钟）", default=30)
    # 民法典201/203: periods count from the next day; a period ending on a holiday ends on the next working day.
    roll_over_non_working = models.BooleanField("期限届满日为节假日时顺延", default=True)
    # Openings are held on working days only.
    opening_on_working_day = models.BooleanField("开标须在工作日", default=True)

    # --- Evaluation (评标). evaluation/formulas.py applies these; docs/evaluation.md writes every formula out. ---
    # 评标规定35/36 and 条例49: the price score formula and its coefficients are fixed in the tender documents. These
    # are the defaults a lot's EvaluationMethod copies when it is created; after the documents are issued the lot's
    # own copy governs, whatever later happens to the rule set. The numbers are regional practice, not law: set them
    # to the region's rule.
    price_formula = models.CharField(
        "价格分计算方法", max_length=20, choices=PriceFormula.choices, default=PriceFormula.BENCHMARK
    )
    # Regional practice: the benchmark drops one highest and one lowest valid price when at least N prices are valid.
    price_drop_extremes = models.BooleanField("基准价计算去掉一个最高和一个最低有效报价", default=True)
    price_drop_min_bids = models.PositiveSmallIntegerField("去掉最高最低报价所需最少有效报价数", default=5)
    # Regional practice: benchmark = mean of the valid prices × K (下浮系数; K = 1 keeps the mean).
    price_k = models.DecimalField("基准价系数K", max_digits=5, decimal_places=4, default=Decimal("1.0000"))
    # Regional practice: points deducted per 1% above / below the benchmark (E; often higher above than below).
    price_e_above = models.DecimalField("高于基准价每1%扣分（E1）", max_digits=5, decimal_places=2, default=Decimal("1.00"))
    price_e_below = models.DecimalField("低于基准价每1%扣分（E2）", max_digits=5, decimal_places=2, default=Decimal("0.50"))
    # Regional practice (tender documents fix it per lot): each scored criterion is the mean of the members' scores,
    # dropping one highest and one lowest when the committee has at least N members.
    score_drop_extremes = models.BooleanField("评分汇总去掉一个最高分和一个最低分", default=False)
    score_drop_min_members = models.PositiveSmallIntegerField("去掉最高最低分所需最少评委人数", default=7)
    # Regional supervision rule (畸高畸低, not law): a member's score deviating from the other members' mean by more
    # than this percentage of the criterion's maximum triggers an alert; the member confirms or amends it.
    # Read from the rule set when the scores come in, not copied per lot.
    score_dispersion_percent = models.DecimalField(
        "评分偏离预警阈值（占该项满分%）", max_digits=5, decimal_places=2, default=Decimal("20.00")
    )
    # 条例48: when more than one third of the members say the time is too short, the tenderee extends it.
    # Kept as a fraction so the comparison is exact: votes × denominator > members × numerator.
    extension_vote_numerator = models.PositiveSmallIntegerField("延长评标时间表决比例（分子）", default=1)
    extension_vote_denominator = models.PositiveSmallIntegerField("延长评标时间表决比例（分母）", default=3)

    class Meta:
        verbose_name = verbose_name_plural = "规则集"
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(price_formula__in=[f.value for f in PriceFormula]), name="rule_set_price_formula_valid"
            ),
            # Dropping one highest and one lowest price must leave at least one.
            models.CheckConstraint(condition=Q(price_drop_min_bids__gte=3), name="rule_set_price_drop_min_bids"),
            models.CheckConstraint(condition=Q(price_k__gt=0, price_k__lte=1), name="rule_set_price_k_range"),
            models.CheckConstraint(condition=Q(price_e_above__gte=0, price_e_below__gte=0), name="rule_set_price_e_nonnegative"),
            models.CheckConstraint(condition=Q(score_drop_min_members__gte=3), name="rule_set_score_drop_min_members"),
            models.CheckConstraint(
                condition=Q(score_dispersion_percent__gt=0, score_dispersion_percent__lte=100), name="rule_set_dispersion_range"
            ),
            models.CheckConstraint(
                condition=Q(
                    extension_vote_denominator__gt=0, extension_vote_numerator__lt=models.F("extension_vote_denominator")
                ),
                name="rule_set_extension_fraction",
            ),
        ]

    def __str__(self):
        return self.name


class CalendarDay(models.Model):
    """An exception to Monday-Friday working days: a public holiday, or a weekend made a working day (调休)."""

    date = models.DateField("日期", unique=True)
    is_working_day = models.BooleanField("是否工作日")
    name = models.CharField("说明", max_length=50, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "工作日历"
        ordering = ["date"]

    def __str__(self):
        return f"{self.date} {'工作日' if self.is_working_day else '休息日'} {self.name}"


class TenderProject(models.Model):
    code = models.CharField("项目编号", max_length=50, unique=True)
    name = models.CharField("项目名称", max_length=200)
    tenderee = models.ForeignKey(Organisation, verbose_name="招标人", on_delete=models.PROTECT, related_name="tender_projects")
    agency = models.ForeignKey(
        Organisation, verbose_name="招标代理机构", null=True, blank=True, on_delete=models.PROTECT, related_name="agency_projects"
    )
    rule_set = models.ForeignKey(RuleSet, verbose_name="程序类型", on_delete=models.PROTECT)
    # 评标规定12: staff of the project's supervising department may not sit on its committee; the draw avoids
    # experts employed there. An organisation of kind "supervisor".
    supervising_department = models.ForeignKey(
        Organisation,
        verbose_name="行政监督部门",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="supervised_projects",
        limit_choices_to={"kind": OrganisationKind.SUPERVISOR},
    )
    region_code = models.CharField("行政区划代码", max_length=6)
    funding_source = models.CharField("资金来源", max_length=100, blank=True)
    description = models.TextField("项目概况", blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    registered_at = models.DateTimeField("入场登记时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "招标项目"
        ordering = ["-id"]

    def __str__(self):
        return f"{self.code} {self.name}"


class LotStatus(models.TextChoices):
    DRAFT = "draft", "草稿"
    REGISTERED = "registered", "已入场登记"
    FILED = "filed", "已备案"
    PUBLISHED = "published", "已发布招标公告"
    TENDERING = "tendering", "投标中"
    OPENING = "opening", "开标中"
    EVALUATING = "evaluating", "评标中"
    PUBLICITY = "publicity", "中标候选人公示"
    AWARDED = "awarded", "已定标"
    ARCHIVED = "archived", "已归档"
    SUSPENDED = "suspended", "已暂停"
    FAILED = "failed", "流标"
    TERMINATED = "terminated", "已终止"


class SuspensionKind(models.TextChoices):
    OBJECTION = "objection", "异议处理中（条例22）"
    SUPERVISOR = "supervisor", "监督暂停"
    STAFF = "staff", "交易中心暂停"


class Lot(models.Model):
    """标段: the unit the whole lifecycle runs on."""

    project = models.ForeignKey(TenderProject, verbose_name="招标项目", on_delete=models.PROTECT, related_name="lots")
    seq = models.PositiveSmallIntegerField("标段序号")
    name = models.CharField("标段名称", max_length=200)
    transaction_code = models.CharField("统一交易标识码", max_length=30, unique=True)
    estimated_price = models.DecimalField("估算价（元）", max_digits=16, decimal_places=2)
    max_price = models.DecimalField("最高投标限价（元）", max_digits=16, decimal_places=2, null=True, blank=True)
    bond_amount = models.DecimalField("投标保证金（元）", max_digits=16, decimal_places=2, default=Decimal("0"))
    status = models.CharField("状态", max_length=20, choices=LotStatus.choices, default=LotStatus.DRAFT)
    suspended_from = models.CharField("暂停前状态", max_length=20, choices=LotStatus.choices, blank=True)
    suspension_kind = models.CharField("暂停原因", max_length=20, choices=SuspensionKind.choices, blank=True)
    suspension_reason = models.TextField("暂停说明", blank=True)
    status_changed_at = models.DateTimeField("状态变更时间", null=True, blank=True)
    # Key dates. The bid deadline is also the opening time (法34).
    docs_issued_at = models.DateTimeField("招标文件发出时间", null=True, blank=True)
    docs_sale_end = models.DateTimeField("招标文件获取截止时间", null=True, blank=True)
    bid_deadline = models.DateTimeField("投标截止/开标时间", null=True, blank=True)
    publicity_start = models.DateTimeField("公示开始", null=True, blank=True)
    publicity_end = models.DateTimeField("公示结束", null=True, blank=True)
    enrolments_unsealed_at = models.DateTimeField("报名信息解封时间", null=True, blank=True)
    retender_of = models.ForeignKey(
        "self", verbose_name="重新招标自", null=True, blank=True, on_delete=models.PROTECT, related_name="retenders"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = verbose_name_plural = "标段"
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "seq"], name="lot_seq_unique"),
            models.CheckConstraint(condition=Q(status__in=[s.value for s in LotStatus]), name="lot_status_valid"),
            models.CheckConstraint(condition=Q(estimated_price__gt=0), name="lot_estimated_price_positive"),
            models.CheckConstraint(condition=Q(bond_amount__gte=0), name="lot_bond_nonnegative"),
            models.CheckConstraint(condition=Q(max_price__isnull=True) | Q(max_price__gt=0), name="lot_max_price_positive"),
            models.CheckConstraint(
                condition=Q(status="suspended", suspended_from__gt="") | (~Q(status="suspended") & Q(suspended_from="")),
                name="lot_suspended_from_consistent",
            ),
        ]

    def __str__(self):
        return f"{self.transaction_code} {self.name}"


class Review(models.Model):
    """入场登记 (a project) or 招标备案 (a lot): submitted by the tenderee side, decided by centre staff."""

    class Kind(models.TextChoices):
        REGISTRATION = "registration", "入场登记"
        FILING = "filing", "招标备案"

    class Status(models.TextChoices):
        PENDING = "pending", "待审核"
        ACCEPTED = "accepted", "已通过"
        RETURNED = "returned", "已退回"

    kind = models.CharField("类型", max_length=20, choices=Kind.choices)
    project = models.ForeignKey(TenderProject, on_delete=models.PROTECT, related_name="reviews")
    lot = models.ForeignKey(Lot, null=True, blank=True, on_delete=models.PROTECT, related_name="reviews")
    status = models.CharField("状态", max_length=20, choices=Status.choices, default=Status.PENDING)
    note = models.TextField("提交说明", blank=True)
    reasons = models.TextField("退回理由", blank=True)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField()
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "登记与备案审核"
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project"], condition=Q(kind="registration", status="pending"), name="one_pending_registration"
            ),
            models.UniqueConstraint(fields=["lot"], condition=Q(kind="filing", status="pending"), name="one_pending_filing"),
            models.CheckConstraint(condition=Q(kind="registration") | Q(lot__isnull=False), name="filing_has_lot"),
            models.CheckConstraint(condition=~Q(status="returned") | ~Q(reasons=""), name="returned_has_reasons"),
        ]


class TenderDocument(models.Model):
    """A version of the tender documents, kept in the object store."""

    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="documents")
    version = models.PositiveSmallIntegerField("版本")
    filename = models.CharField("文件名", max_length=255)
    object_key = models.CharField(max_length=300, unique=True)
    size = models.BigIntegerField("大小（字节）")
    sha256 = models.CharField("SHA-256", max_length=64)
    content_type = models.CharField(max_length=100, default="application/octet-stream")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField()

    class Meta:
        verbose_name = verbose_name_plural = "招标文件"
        ordering = ["lot", "version"]
        constraints = [models.UniqueConstraint(fields=["lot", "version"], name="document_version_unique")]


class Objection(models.Model):
    """异议 to the tender documents (条例22) or to the evaluation result during the candidates' publicity (条例54).
    A documents objection's raiser stays sealed until the bid deadline."""

    class Status(models.TextChoices):
        PENDING = "pending", "待答复"
        ANSWERED = "answered", "已答复"

    class Stage(models.TextChoices):
        DOCUMENTS = "documents", "对招标文件的异议（条例22）"
        RESULTS = "results", "对评标结果的异议（条例54）"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="objections")
    stage = models.CharField("异议阶段", max_length=20, choices=Stage.choices, default=Stage.DOCUMENTS)
    subject = models.CharField("异议事项", max_length=200)
    content = models.TextField("异议内容")
    status = models.CharField("状态", max_length=20, choices=Status.choices, default=Status.PENDING)
    raised_at = models.DateTimeField("提出时间")
    answer_due = models.DateTimeField("答复期限")
    # Sealed (org, user) of the raiser and a blind index so the raiser can find its own objections.
    raiser_sealed = models.BinaryField()
    raiser_index = models.CharField(max_length=64, db_index=True)
    raised_by = models.ForeignKey(Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    answer = models.TextField("答复内容", blank=True)
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    answered_at = models.DateTimeField("答复时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "异议"
        ordering = ["raised_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="pending", answered_at__isnull=True) | Q(status="answered", answered_at__isnull=False),
                name="objection_answer_consistent",
            ),
            models.CheckConstraint(condition=Q(stage__in=["documents", "results"]), name="objection_stage_valid"),
        ]


class RegionalMessage(models.Model):
    """The regional link's transactional outbox (docs/regional-exchange.md): one row per push, written in the same
    transaction as the change it reports, delivered in `seq` order per lot, retried until the regional platform
    acknowledges it. The id is the delivery id the receiver deduplicates on."""

    class Status(models.TextChoices):
        PENDING = "pending", "待发送"
        DELIVERED = "delivered", "已送达"

    id = models.UUIDField("投递编号", primary_key=True, default=uuid.uuid4, editable=False)
    # No database constraint: a row is written under the audit head's lock, and the constraint's check would then
    # take a key-share lock on the lot, after the head; a service holding the lot FOR UPDATE and waiting for the head
    # would deadlock with it (tests/trading/regional/test_outbox.py). Lots are never deleted (PROTECT).
    lot = models.ForeignKey(
        Lot, verbose_name="标段", on_delete=models.PROTECT, related_name="regional_messages", db_constraint=False
    )
    seq = models.PositiveIntegerField("标段内序号")
    table = models.CharField("数据表", max_length=40)
    event = models.CharField("触发事件", max_length=60)
    body = models.TextField("报文（规范 JSON）")
    signature = models.CharField("签名（Ed25519，base64）", max_length=100)
    status = models.CharField("状态", max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField("发送次数", default=0)
    next_attempt_at = models.DateTimeField("下次发送时间", db_index=True)
    last_error = models.TextField("最近错误", blank=True)
    created_at = models.DateTimeField("生成时间")
    delivered_at = models.DateTimeField("送达时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "省级平台推送"
        ordering = ["lot_id", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["lot", "seq"], name="regional_message_seq_unique"),
            models.CheckConstraint(condition=Q(status__in=["pending", "delivered"]), name="regional_message_status_valid"),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self):
        return f"{self.lot_id}#{self.seq} {self.table}"
