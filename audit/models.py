"""The audit trail: one append-only, hash-chained row per action, written in the same transaction as the change.

The database refuses UPDATE and DELETE of events (audit/guard.py); `audit_verify` catches anybody who
bypasses that. AuditHead is the lock that serialises appends and remembers the tail, so that deleting
the newest entries is noticed too.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

GENESIS_HASH = "0" * 64
SEALED_ACTION = "sealed"
HEAD_PK = 1


class AuditEvent(models.Model):
    seq = models.BigAutoField("序号", primary_key=True)
    at = models.DateTimeField("时间")
    # A plain reference: no joins in the trail, and a user with entries cannot be deleted.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="操作人", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_role = models.CharField("操作人角色", max_length=20, blank=True)
    ip = models.GenericIPAddressField("IP 地址", null=True, blank=True)
    action = models.CharField("操作", max_length=100)
    object_type = models.CharField("对象类型", max_length=100, blank=True)
    object_id = models.CharField("对象标识", max_length=64, blank=True)
    # Plain integer, not a foreign key: the trail never blocks deletes elsewhere and never joins.
    lot_id = models.BigIntegerField("标段", null=True, blank=True, db_index=True)
    before = models.JSONField("变更前", default=dict, blank=True)
    after = models.JSONField("变更后", default=dict, blank=True)
    # For actions secret until the bid deadline: the real fields, sealed (trading/sealing.py); the row shows nothing.
    sealed = models.BinaryField("密封内容", null=True, blank=True)
    prev_hash = models.CharField("前一条哈希", max_length=64)
    hash = models.CharField("哈希", max_length=64, unique=True)

    class Meta:
        verbose_name = verbose_name_plural = "审计日志"
        ordering = ["seq"]
        indexes = [models.Index(fields=["action"], name="audit_event_action_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(seq__gte=1), name="audit_event_seq_positive"),
            models.CheckConstraint(
                condition=(Q(sealed__isnull=True) & ~Q(action=SEALED_ACTION))
                | Q(
                    sealed__isnull=False,
                    action=SEALED_ACTION,
                    actor__isnull=True,
                    actor_role="",
                    ip__isnull=True,
                    object_type="",
                    object_id="",
                    lot_id__isnull=True,
                ),
                name="audit_event_sealed_shows_nothing",
            ),
        ]

    def __str__(self):
        return f"#{self.seq} {self.action}"


class AuditHead(models.Model):
    """The single row (pk=1) locked by every append; it holds the newest entry's seq and hash."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=HEAD_PK)
    last_seq = models.BigIntegerField("最新序号", default=0)
    last_hash = models.CharField("最新哈希", max_length=64, default=GENESIS_HASH)

    class Meta:
        verbose_name = verbose_name_plural = "审计链头"
        constraints = [models.CheckConstraint(condition=Q(id=HEAD_PK), name="audit_head_singleton")]

    def __str__(self):
        return f"#{self.last_seq} {self.last_hash[:12]}"
