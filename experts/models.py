"""The expert pool (评标专家库): specialties, experts, their declared unavailability and interests, and 考评.

The draw (evaluation app) reads these fields; docs/experts.md ("Pool") describes them.
"""

from datetime import date

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from trading.codes import validate_credit_code

validate_region_code = RegexValidator(r"^\d{6}$", "行政区划代码应为6位数字 / region code must be 6 digits", code="invalid_region")


def parent_code(code: str) -> str | None:
    """The prefix one level up of a hierarchical specialty code: A080101 → A0801 → A08 → A → None.

    A code is one letter (the category) followed by pairs of digits, one pair per level.
    """
    return code[:-2] if len(code) >= 3 else None


class Specialty(models.Model):
    """A specialty in a hierarchical classification (e.g. A08 → A0801). `parent` is the code's prefix."""

    code = models.CharField(
        "专业代码",
        max_length=20,
        unique=True,
        validators=[RegexValidator(r"^[A-Z](\d{2})*$", "专业代码格式应如 A、A08、A0801 / code like A, A08, A0801")],
    )
    name = models.CharField("专业名称", max_length=100)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")

    class Meta:
        verbose_name = verbose_name_plural = "评标专业"
        ordering = ["code"]

    def __str__(self):
        return f"{self.code} {self.name}"


class ExpertStatus(models.TextChoices):
    ACTIVE = "active", "正常"
    SUSPENDED = "suspended", "暂停"
    BLACKLISTED = "blacklisted", "禁入（黑名单）"


class ExpertQuerySet(models.QuerySet):
    def eligible_on(self, day: date) -> "ExpertQuerySet":
        """Experts who may be drawn on `day` as far as their status goes: active, or a penalty that ended before it.

        A penalty with `status_until` = D covers D itself; an indefinite one (null) never lapses.
        """
        return self.filter(Q(status=ExpertStatus.ACTIVE) | Q(status_until__lt=day))

    def with_specialty_prefix(self, code: str) -> "ExpertQuerySet":
        """Experts holding `code` or any specialty below it (A08 matches A0801, A080101)."""
        return self.filter(specialties__code__startswith=code).distinct()


class Expert(models.Model):
    Status = ExpertStatus

    # An imported expert need not have an account yet; one is linked when the expert first logs in.
    user = models.OneToOneField(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="expert")
    number = models.CharField("专家编号", max_length=32, blank=True, help_text="导入时的唯一键 / the import's upsert key")
    name = models.CharField("姓名", max_length=50)
    specialties = models.ManyToManyField(Specialty, verbose_name="评标专业", related_name="experts")
    title = models.CharField("职称", max_length=50, blank=True)
    practice_years = models.PositiveSmallIntegerField("从业年限", default=0)
    region_code = models.CharField("行政区划代码", max_length=6, blank=True, validators=[validate_region_code])
    employer_name = models.CharField("工作单位", max_length=200, blank=True)
    employer_credit_code = models.CharField(
        "单位统一社会信用代码", max_length=18, blank=True, db_index=True, validators=[validate_credit_code]
    )
    phone = models.CharField("手机", max_length=30, blank=True)
    email = models.EmailField("邮箱", blank=True)
    status = models.CharField("状态", max_length=20, choices=Status.choices, default=Status.ACTIVE)
    status_reason = models.TextField("状态原因", blank=True)
    status_until = models.DateField(
        "处理期限至", null=True, blank=True, help_text="含当日；空为无期限 / inclusive; empty = indefinite"
    )
    status_changed_at = models.DateTimeField("状态变更时间", null=True, blank=True)
    # The regional (city / autonomous-region) pool's experts are drawn only by requests that ask for them and are
    # called through the regional link (trading/regional); `number` is then their regional pool number.
    pool = models.CharField(
        "所属专家库", max_length=10, choices=[("local", "本级专家库"), ("regional", "区域专家库")], default="local"
    )

    objects = ExpertQuerySet.as_manager()

    class Meta:
        verbose_name = verbose_name_plural = "评标专家"
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=[s.value for s in ExpertStatus]), name="expert_status_valid"),
            models.UniqueConstraint(fields=["number"], condition=~Q(number=""), name="expert_number_unique"),
            # An active expert carries no penalty period.
            models.CheckConstraint(
                condition=~Q(status=ExpertStatus.ACTIVE) | Q(status_until__isnull=True), name="expert_active_no_until"
            ),
        ]
        indexes = [models.Index(fields=["status", "status_until"], name="expert_status_idx")]

    def __str__(self):
        return self.name


class ExpertUnavailability(models.Model):
    """A period the expert declared they cannot sit (出差、休假…)."""

    expert = models.ForeignKey(Expert, on_delete=models.CASCADE, related_name="unavailability")
    start = models.DateTimeField("开始")
    end = models.DateTimeField("结束")
    reason = models.CharField("原因", max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = verbose_name_plural = "专家不可参评时段"
        ordering = ["start", "id"]
        constraints = [models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="unavailability_end_after_start")]
        indexes = [models.Index(fields=["expert", "start", "end"], name="unavailability_span_idx")]

    def __str__(self):
        return f"{self.expert} {self.start:%Y-%m-%d %H:%M}–{self.end:%Y-%m-%d %H:%M}"


class InterestKind(models.TextChoices):
    FORMER_EMPLOYER = "former_employer", "原工作单位（回避期内）"
    RELATIVE = "relative", "近亲属所在单位"
    OTHER = "other", "其他利害关系"


class ExpertInterest(models.Model):
    """A declared interest (利害关系): the draw avoids an expert whose interest names a bidder or the tenderee."""

    Kind = InterestKind

    expert = models.ForeignKey(Expert, on_delete=models.CASCADE, related_name="interests")
    kind = models.CharField("类型", max_length=20, choices=Kind.choices)
    organisation_credit_code = models.CharField(
        "单位统一社会信用代码", max_length=18, blank=True, db_index=True, validators=[validate_credit_code]
    )
    person_name = models.CharField("相关人员", max_length=50, blank=True)
    note = models.CharField("说明", max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = verbose_name_plural = "专家利害关系申报"
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=[k.value for k in InterestKind]), name="interest_kind_valid"),
            models.CheckConstraint(condition=~Q(organisation_credit_code="") | ~Q(person_name=""), name="interest_names_someone"),
        ]

    def __str__(self):
        return f"{self.expert} {self.get_kind_display()} {self.organisation_credit_code or self.person_name}"


class PerformanceRecord(models.Model):
    """考评: how the expert did in one evaluation."""

    expert = models.ForeignKey(Expert, on_delete=models.PROTECT, related_name="performance")
    lot = models.ForeignKey("trading.Lot", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    attended = models.BooleanField("按时到场")
    late_minutes = models.PositiveIntegerField("迟到分钟", default=0)
    score_deviation = models.DecimalField("评分偏离度（%）", max_digits=6, decimal_places=2, null=True, blank=True)
    complaints = models.PositiveSmallIntegerField("被投诉次数", default=0)
    note = models.TextField("评价", blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField("记录时间")

    class Meta:
        verbose_name = verbose_name_plural = "专家考评"
        ordering = ["-recorded_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["expert", "lot"], condition=Q(lot__isnull=False), name="performance_once_per_lot")
        ]

    def __str__(self):
        return f"{self.expert} {self.recorded_at:%Y-%m-%d}"
