"""Enrolment (投标报名). Until the bid deadline an enrolment exists only as a sealed row (法22).

A SealedEnrolment carries neither the lot nor the bidder in clear: the payload is sealed under the
lot's key and found by a blind index of (lot, bidder). At the deadline the sweep opens the lot's
rows into Enrolment and deletes them (docs/architecture.md, "Confidentiality").
"""

import uuid

from django.conf import settings
from django.db import models


class SealedEnrolment(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    blind_index = models.CharField(max_length=64, unique=True)
    blob = models.BinaryField()

    class Meta:
        verbose_name = verbose_name_plural = "密封报名记录"


class Enrolment(models.Model):
    """An enrolment after the deadline, in clear."""

    lot = models.ForeignKey("trading.Lot", verbose_name="标段", on_delete=models.PROTECT, related_name="enrolments")
    bidder = models.ForeignKey("trading.Organisation", verbose_name="投标人", on_delete=models.PROTECT, related_name="enrolments")
    enrolled_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    enrolled_at = models.DateTimeField("报名时间")
    contact_name = models.CharField("联系人", max_length=50)
    contact_phone = models.CharField("联系电话", max_length=30)
    # [{"document": id, "at": iso, "ip": str}], {"<notice id>": iso}
    downloads = models.JSONField("下载记录", default=list)
    acknowledgements = models.JSONField("澄清确认", default=dict)
    unsealed_at = models.DateTimeField("解封时间")

    class Meta:
        verbose_name = verbose_name_plural = "报名记录"
        ordering = ["enrolled_at"]
        constraints = [models.UniqueConstraint(fields=["lot", "bidder"], name="enrolment_unique")]


class BidderKey(models.Model):
    """A bidder's registered public key (P-256, SubjectPublicKeyInfo DER): its certificate for sealing bids."""

    kid = models.CharField("密钥标识", max_length=32, unique=True)
    organisation = models.ForeignKey(
        "trading.Organisation", verbose_name="投标人", on_delete=models.PROTECT, related_name="bid_keys"
    )
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    public_key = models.BinaryField("公钥（SPKI DER）")
    created_at = models.DateTimeField("登记时间")
    expires_at = models.DateTimeField("有效期至")
    revoked_at = models.DateTimeField("注销时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "投标人密钥"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("created_at")), name="bidder_key_expires_after_creation"
            )
        ]


class BidStatus(models.TextChoices):
    UPLOADING = "uploading", "上传中"
    SUBMITTED = "submitted", "已递交"
    REPLACED = "replaced", "已被替换"
    WITHDRAWN = "withdrawn", "已撤回"
    REJECTED = "rejected", "未通过校验"
    DECRYPTED = "decrypted", "已解密"
    REVOKED = "revoked", "已撤销"


class Bid(models.Model):
    """A sealed bid. Until the deadline the row names neither lot nor bidder: they sit in `sealed` and are
    found through `blind_index` (HMAC of lot and bidder), like enrolments. The object is ciphertext only."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    blind_index = models.CharField(max_length=64, db_index=True)
    sealed = models.BinaryField()
    status = models.CharField("状态", max_length=20, choices=BidStatus.choices, default=BidStatus.UPLOADING)
    object_key = models.CharField(max_length=200, unique=True)
    upload_id = models.CharField(max_length=200, blank=True)
    size = models.BigIntegerField("密文大小（字节）")
    sha256 = models.CharField("密文 SHA-256（声明）", max_length=64, blank=True)  # blank until declared (at the start or at completion)
    part_size = models.PositiveIntegerField()
    header_sha256 = models.CharField("信封头 SHA-256", max_length=64, blank=True)
    status_reason = models.TextField("说明", blank=True)
    # Filled at the bid deadline, for the collusion checks of 条例40 (same machine, same address).
    uploaded_from = models.GenericIPAddressField("上传地址", null=True, blank=True)
    client_fingerprint = models.CharField("客户端指纹", max_length=200, blank=True)
    lot = models.ForeignKey("trading.Lot", null=True, blank=True, on_delete=models.PROTECT, related_name="bids")
    bidder = models.ForeignKey("trading.Organisation", null=True, blank=True, on_delete=models.PROTECT, related_name="bids")
    # Filled at opening.
    plaintext_key = models.CharField(max_length=200, blank=True)
    plaintext_sha256 = models.CharField(max_length=64, blank=True)
    plaintext_size = models.BigIntegerField(null=True, blank=True)
    decrypted_at = models.DateTimeField(null=True, blank=True)
    opening_summary = models.JSONField("开标一览表", default=dict, blank=True)
    # The opening that decrypts and records this bid: set for the bids submitted at the deadline.
    opening = models.ForeignKey("Opening", null=True, blank=True, on_delete=models.PROTECT, related_name="bids")
    decrypted_via = models.CharField("解密方式", max_length=10, blank=True)  # "bidder" or "rescue"
    # A correct data key was handed in (in the window): the close then waits for this decryption to finish.
    key_accepted_at = models.DateTimeField("数据密钥接收时间", null=True, blank=True)
    # The verified bid's data key, sealed, until a worker has stored the opened file (plaintext_key); then cleared.
    opened_key_sealed = models.BinaryField(null=True, blank=True, editable=False)
    store_attempted_at = models.DateTimeField("解密文件保存尝试时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "投标文件"
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=[s.value for s in BidStatus]), name="bid_status_valid"),
            # One bid being uploaded and one submitted per bidder and lot; a replacement supersedes the submitted one.
            models.UniqueConstraint(fields=["blind_index"], condition=models.Q(status="uploading"), name="one_upload_per_bidder"),
            models.UniqueConstraint(
                fields=["blind_index"], condition=models.Q(status="submitted"), name="one_submitted_bid_per_bidder"
            ),
            models.CheckConstraint(condition=models.Q(size__gt=0), name="bid_size_positive"),
        ]


class Opening(models.Model):
    """开标 of one lot, held online at the bid deadline (法34): bidders decrypt within the window."""

    lot = models.OneToOneField("trading.Lot", verbose_name="标段", on_delete=models.PROTECT, related_name="opening")
    started_at = models.DateTimeField("开标时间")
    decryption_deadline = models.DateTimeField("解密截止时间")
    decryption_closed_at = models.DateTimeField("解密结束时间", null=True, blank=True)
    record_published_at = models.DateTimeField("开标记录公布时间", null=True, blank=True)
    record_object_key = models.CharField(max_length=200, blank=True)
    record_sha256 = models.CharField("开标记录 PDF SHA-256", max_length=64, blank=True)
    # [{"from", "until", "reasons", "by", "at"}]: each extension of the window (platform fault).
    extensions = models.JSONField("解密时限延长记录", default=list, blank=True)
    # The opening record's rows, written when decryption closes (bidding/services/opening.py).
    record = models.JSONField("开标记录", default=list, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "开标"


# --- Opening (开标): sign-in, decryption, record, responses, rescue key ------------------------------
# Added with the remote opening (bidding/services/opening.py); docs/architecture.md, "Opening".


class OpeningSignIn(models.Model):
    """A bidder signed in to the online opening (签到), with when and from where."""

    opening = models.ForeignKey(Opening, on_delete=models.PROTECT, related_name="sign_ins")
    bidder = models.ForeignKey("trading.Organisation", verbose_name="投标人", on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signed_in_at = models.DateTimeField("签到时间")
    ip = models.GenericIPAddressField("签到 IP", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "开标签到"
        ordering = ["signed_in_at"]
        constraints = [models.UniqueConstraint(fields=["opening", "bidder"], name="one_sign_in_per_bidder")]


class OpeningResponse(models.Model):
    """A bidder's answer to the published opening record: it confirms, or objects on the spot (当场异议)."""

    class Kind(models.TextChoices):
        CONFIRM = "confirm", "确认"
        OBJECTION = "objection", "异议"

    opening = models.ForeignKey(Opening, on_delete=models.PROTECT, related_name="responses")
    bidder = models.ForeignKey("trading.Organisation", verbose_name="投标人", on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField("类型", max_length=10, choices=Kind.choices)
    objection = models.TextField("异议内容", blank=True)
    responded_at = models.DateTimeField("时间")
    answer = models.TextField("答复", blank=True)
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    answered_at = models.DateTimeField("答复时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "开标记录确认与异议"
        ordering = ["responded_at"]
        constraints = [
            models.UniqueConstraint(fields=["opening", "bidder"], name="one_response_per_bidder"),
            models.CheckConstraint(
                condition=models.Q(kind="confirm", objection="") | (models.Q(kind="objection") & ~models.Q(objection="")),
                name="opening_response_kind_matches",
            ),
        ]


class RescueKey(models.Model):
    """补救方案: a per-lot P-256 key whose private scalar exists only as k-of-n Shamir shares held by officers.

    The platform keeps the public key (published with the lot, so bidders seal with `--rescue`), never the
    shares. At opening the officers hand in their shares (sealed until k are present); the private key rebuilt
    from them (`private_sealed`) and the shares are destroyed when the opening's decryption closes."""

    lot = models.OneToOneField("trading.Lot", verbose_name="标段", on_delete=models.PROTECT, related_name="rescue_key")
    kid = models.CharField("密钥标识", max_length=32, unique=True)
    public_key = models.BinaryField("公钥（SPKI DER）")
    threshold = models.PositiveSmallIntegerField("门限 k")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField("生成时间")
    private_sealed = models.BinaryField(null=True, blank=True)
    reconstructed_at = models.DateTimeField("恢复时间", null=True, blank=True)
    destroyed_at = models.DateTimeField("销毁时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "补救密钥"
        constraints = [models.CheckConstraint(condition=models.Q(threshold__gte=2), name="rescue_threshold_at_least_2")]


class RescueShare(models.Model):
    """One officer's share of a rescue key: the platform keeps only a keyed digest of it until the officer
    hands it in at opening; then the share itself, sealed, until the decryption closes."""

    rescue_key = models.ForeignKey(RescueKey, on_delete=models.PROTECT, related_name="shares")
    officer = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="保管人", on_delete=models.PROTECT, related_name="+")
    x = models.PositiveSmallIntegerField("份额编号")
    digest = models.CharField(max_length=64)
    sealed = models.BinaryField(null=True, blank=True)
    submitted_at = models.DateTimeField("提交时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "补救密钥份额"
        ordering = ["x"]
        constraints = [
            models.UniqueConstraint(fields=["rescue_key", "officer"], name="one_share_per_officer"),
            models.UniqueConstraint(fields=["rescue_key", "x"], name="one_officer_per_share"),
        ]
