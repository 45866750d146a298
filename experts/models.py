"""The expert pool (评标专家库). Issue work on the draw builds on these."""

from django.conf import settings
from django.db import models


class Specialty(models.Model):
    """A specialty in a hierarchical classification (e.g. A08 → A0801)."""

    code = models.CharField("专业代码", max_length=20, unique=True)
    name = models.CharField("专业名称", max_length=100)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")

    class Meta:
        verbose_name = verbose_name_plural = "评标专业"
        ordering = ["code"]

    def __str__(self):
        return f"{self.code} {self.name}"


class Expert(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="expert")
    name = models.CharField("姓名", max_length=50)
    employer = models.ForeignKey("trading.Organisation", verbose_name="工作单位", null=True, blank=True, on_delete=models.PROTECT)
    title = models.CharField("职称", max_length=50, blank=True)
    specialties = models.ManyToManyField(Specialty, verbose_name="评标专业", related_name="experts")
    region_code = models.CharField("行政区划代码", max_length=6, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "评标专家"
        ordering = ["id"]

    def __str__(self):
        return self.name
