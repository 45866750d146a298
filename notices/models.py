"""Public notices: every one is public the moment it exists (a row is created when it is published)."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class NoticeKind(models.TextChoices):
    TENDER = "tender", "招标公告"
    CLARIFICATION = "clarification", "澄清/修改公告"
    CANDIDATES = "candidates", "中标候选人公示"
    RESULT = "result", "中标结果公告"
    TERMINATION = "termination", "终止公告"
    FAILURE = "failure", "流标公告"


class Notice(models.Model):
    kind = models.CharField("公告类型", max_length=20, choices=NoticeKind.choices)
    lot = models.ForeignKey("trading.Lot", verbose_name="标段", on_delete=models.PROTECT, related_name="notices")
    title = models.CharField("标题", max_length=300)
    body = models.TextField("正文")
    region_code = models.CharField("行政区划代码", max_length=6, db_index=True)
    published_at = models.DateTimeField("发布时间", db_index=True)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # Clarifications: whether it may affect bids (条例21) and the deadline before and after it.
    affects_bids = models.BooleanField("可能影响投标文件编制", default=False)
    deadline_before = models.DateTimeField("原投标截止时间", null=True, blank=True)
    deadline_after = models.DateTimeField("投标截止时间", null=True, blank=True)
    document = models.ForeignKey(
        "trading.TenderDocument", verbose_name="附件", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = verbose_name_plural = "公告"
        ordering = ["-published_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=[k.value for k in NoticeKind]), name="notice_kind_valid"),
            models.UniqueConstraint(fields=["lot"], condition=Q(kind="tender"), name="one_tender_notice_per_lot"),
        ]
        indexes = [models.Index(fields=["kind", "-published_at"])]

    def __str__(self):
        return self.title


class LetterKind(models.TextChoices):
    AWARD = "award", "中标通知书"
    RESULT = "result", "中标结果通知书"


class Letter(models.Model):
    """A letter to one bidder once the lot is awarded (法45): the award letter to the winner, result letters to
    the others. Its PDF is kept in the object store; anyone holding it can check it on the public verification
    page by its code and SHA-256."""

    Kind = LetterKind

    lot = models.ForeignKey("trading.Lot", verbose_name="标段", on_delete=models.PROTECT, related_name="letters")
    kind = models.CharField("类型", max_length=10, choices=LetterKind.choices)
    recipient = models.ForeignKey("trading.Organisation", verbose_name="收件人", on_delete=models.PROTECT, related_name="+")
    code = models.CharField("验证码", max_length=20, unique=True)
    object_key = models.CharField(max_length=200, unique=True)
    size = models.PositiveIntegerField()
    sha256 = models.CharField("SHA-256", max_length=64)
    issued_at = models.DateTimeField("发出时间")
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = verbose_name_plural = "中标（结果）通知书"
        ordering = ["lot", "-kind", "recipient__credit_code"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=[k.value for k in LetterKind]), name="letter_kind_valid"),
            models.UniqueConstraint(fields=["lot", "recipient"], name="one_letter_per_bidder_and_lot"),
            models.UniqueConstraint(fields=["lot"], condition=Q(kind="award"), name="one_award_letter_per_lot"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.code}"


class Release(models.Model):
    """An OCDS 1.1 release of a lot (notices/ocds.py, docs/open-data.md): written once, in the transaction of the
    public event it reports (a notice published, the opening record published), and never changed. `seq` is taken
    under the ReleaseHead lock, held until commit, so it grows in commit order: a reader that has seen `seq` n has
    seen every release below it, which is what the cursor of /api/ocds/releases/ relies on."""

    seq = models.BigIntegerField("序号", unique=True)
    # No database constraint, as for the regional outbox (trading.models.RegionalMessage): a release is written
    # after the audit head's lock, and the constraint's key-share lock on the lot would then be taken after the head,
    # the reverse of the services' order (lot, then head). Lots are never deleted (PROTECT).
    lot = models.ForeignKey(
        "trading.Lot", verbose_name="标段", on_delete=models.PROTECT, related_name="ocds_releases", db_constraint=False
    )
    ocid = models.CharField("OCID", max_length=64, db_index=True)
    release_id = models.CharField("发布标识", max_length=128, unique=True)
    date = models.DateTimeField("事件时间")
    recorded_at = models.DateTimeField("写入时间", db_index=True)
    data = models.JSONField("OCDS 发布")

    class Meta:
        verbose_name = verbose_name_plural = "OCDS 发布"
        ordering = ["seq"]
        constraints = [models.CheckConstraint(condition=Q(seq__gte=1), name="ocds_release_seq_positive")]

    def __str__(self):
        return self.release_id


class ReleaseHead(models.Model):
    """The single row (pk=1) locked by every release written: it holds the last `seq` given out."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_seq = models.BigIntegerField("最新序号", default=0)

    class Meta:
        verbose_name = verbose_name_plural = "OCDS 发布序号"
        constraints = [models.CheckConstraint(condition=Q(id=1), name="ocds_release_head_singleton")]
