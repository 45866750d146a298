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
