import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("bidding", "0007_opened_file_stored_by_worker"),
        ("evaluation", "0005_report"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="venue",
            name="networks",
            field=models.JSONField(blank=True, default=list, verbose_name="场地网络（CIDR）"),
        ),
        migrations.CreateModel(
            name="Clarification",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("phase", models.CharField(max_length=20, verbose_name="提出阶段")),
                ("question", models.TextField(verbose_name="澄清问题")),
                ("asked_at", models.DateTimeField(verbose_name="提出时间")),
                ("due_at", models.DateTimeField(verbose_name="答复截止时间")),
                ("answer", models.TextField(blank=True, verbose_name="澄清、说明")),
                ("answered_at", models.DateTimeField(blank=True, null=True, verbose_name="答复时间")),
                (
                    "answered_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "asked_by",
                    models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="evaluation.drawnexpert"),
                ),
                (
                    "bid",
                    models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="bidding.bid"),
                ),
                (
                    "session",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="clarifications",
                        to="evaluation.evaluationsession",
                    ),
                ),
            ],
            options={
                "verbose_name": "澄清、说明",
                "verbose_name_plural": "澄清、说明",
                "ordering": ["session", "asked_at", "id"],
                "indexes": [models.Index(fields=["session", "answered_at", "due_at"], name="clarification_open_idx")],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("due_at__gt", models.F("asked_at"))), name="clarification_due_after_asked"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("answer", ""), ("answered_at__isnull", True), ("answered_by__isnull", True)),
                            models.Q(
                                models.Q(("answer", ""), _negated=True),
                                ("answered_at__isnull", False),
                                ("answered_by__isnull", False),
                            ),
                            _connector="OR",
                        ),
                        name="clarification_answer_complete",
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="PriceAdjustment",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("factor", models.CharField(max_length=200, verbose_name="调整因素")),
                ("amount", models.DecimalField(decimal_places=2, max_digits=16, verbose_name="调整金额（元）")),
                ("reason", models.CharField(max_length=500, verbose_name="理由")),
                ("recorded_at", models.DateTimeField(verbose_name="记录时间")),
                (
                    "bid",
                    models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="bidding.bid"),
                ),
                (
                    "recorded_by",
                    models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="evaluation.drawnexpert"),
                ),
                (
                    "session",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="price_adjustments",
                        to="evaluation.evaluationsession",
                    ),
                ),
            ],
            options={
                "verbose_name": "评标价调整",
                "verbose_name_plural": "评标价调整",
                "ordering": ["session", "recorded_at", "id"],
                "constraints": [
                    models.CheckConstraint(condition=models.Q(("amount", 0), _negated=True), name="price_adjustment_nonzero")
                ],
            },
        ),
    ]
