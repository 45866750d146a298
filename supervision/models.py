"""电子监察: alerts raised by the supervision rules (supervision/rules.py). The app only watches: it never changes a lot.

An alert is one piece of evidence under one rule: (rule, lot, key) is unique, so a scan run again finds the same row
and only moves its `last_seen`. Cross-lot rules (an expert's sessions) have no lot. A supervisor resolves an alert
with a note; the row stays, and the resolution is in the audit trail.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class AlertLevel(models.TextChoices):
    RED = "red", "红色预警"
    YELLOW = "yellow", "黄色预警"


class AlertRule(models.TextChoices):
    SAME_UPLOAD_ADDRESS = "same_upload_address", "不同投标人从同一地址上传投标文件（条例40第一项）"
    SAME_DEVICE_FINGERPRINT = "same_device_fingerprint", "不同投标人使用同一设备编制投标文件（条例40第一项）"
    IDENTICAL_BID_FILES = "identical_bid_files", "不同投标人的投标文件异常一致（条例40第四项）"
    REGULAR_PRICE_GAPS = "regular_price_gaps", "投标报价呈规律性差异（条例40第四项）"
    EXPERT_REPEATED_OUTLIERS = "expert_repeated_outliers", "评标专家多次评分畸高畸低"
    REPEAT_WINNER = "repeat_winner", "同一代理机构项目中标人反复集中"
    DEADLINE_MISSED = "deadline_missed", "办理时限超期"


# Higher is more severe: a level only ever rises on a later scan.
LEVEL_RANK = {AlertLevel.YELLOW: 1, AlertLevel.RED: 2}


class Alert(models.Model):
    Level = AlertLevel
    Rule = AlertRule

    rule = models.CharField("预警规则", max_length=40, choices=AlertRule.choices)
    level = models.CharField("预警等级", max_length=10, choices=AlertLevel.choices)
    lot = models.ForeignKey(
        "trading.Lot", verbose_name="标段", null=True, blank=True, on_delete=models.PROTECT, related_name="supervision_alerts"
    )
    # What makes this alert distinct under its rule and lot: "ip:10.0.0.7", "plain:<sha256>", "expert:12/session:40"...
    key = models.CharField("证据标识", max_length=200)
    # Who or what the alert is about (bidders, an expert, an agency and its winner, a deadline), and the evidence.
    subject = models.JSONField("对象", default=dict, blank=True)
    details = models.JSONField("证据", default=dict, blank=True)
    message_zh = models.TextField("预警内容")
    message_en = models.TextField("Message")
    first_seen = models.DateTimeField("首次发现")
    last_seen = models.DateTimeField("最近发现")
    resolved_at = models.DateTimeField("处理时间", null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="处理人", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolution_note = models.TextField("处理说明", blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "监察预警"
        ordering = ["-first_seen", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(rule__in=[r.value for r in AlertRule]), name="alert_rule_valid"),
            models.CheckConstraint(condition=Q(level__in=[v.value for v in AlertLevel]), name="alert_level_valid"),
            models.CheckConstraint(condition=Q(last_seen__gte=models.F("first_seen")), name="alert_seen_order"),
            # Resolved: when, by whom and why, all three; open: none of them.
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True, resolved_by__isnull=True, resolution_note="")
                | (Q(resolved_at__isnull=False, resolved_by__isnull=False) & ~Q(resolution_note="")),
                name="alert_resolution_consistent",
            ),
            # One row per piece of evidence, with or without a lot (NULLs are distinct in a plain unique index).
            models.UniqueConstraint(fields=["rule", "lot", "key"], condition=Q(lot__isnull=False), name="alert_once_per_lot"),
            models.UniqueConstraint(fields=["rule", "key"], condition=Q(lot__isnull=True), name="alert_once_without_lot"),
        ]
        indexes = [models.Index(fields=["resolved_at", "level"], name="alert_open_level_idx")]

    def __str__(self):
        return f"{self.get_level_display()} {self.get_rule_display()} {self.key}"
