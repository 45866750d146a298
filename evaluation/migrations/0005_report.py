import django.db.models.deletion
from django.db import migrations, models

PHASES = [
    ("sign_in", "签到"),
    ("declaration", "回避声明"),
    ("chair_election", "推选评标委员会主任"),
    ("qualification", "资格评审"),
    ("compliance", "符合性评审"),
    ("scoring", "详细评审（评分）"),
    ("price", "价格分计算"),
    ("summary", "汇总与排序"),
    ("report", "评标报告签署"),
    ("done", "评审结束"),
]


class Migration(migrations.Migration):
    dependencies = [("evaluation", "0004_evaluation_session")]

    operations = [
        # The report phase between summary and done.
        migrations.RemoveConstraint(model_name="evaluationsession", name="session_phase_valid"),
        migrations.AlterField(
            model_name="evaluationsession",
            name="phase",
            field=models.CharField(choices=PHASES, default="sign_in", max_length=20, verbose_name="阶段"),
        ),
        migrations.AlterField(
            model_name="phasespan",
            name="phase",
            field=models.CharField(choices=PHASES, max_length=20, verbose_name="阶段"),
        ),
        migrations.AlterField(
            model_name="reviewresult",
            name="phase",
            field=models.CharField(choices=PHASES, max_length=20, verbose_name="阶段"),
        ),
        migrations.AlterField(
            model_name="submission",
            name="phase",
            field=models.CharField(choices=PHASES, max_length=20, verbose_name="阶段"),
        ),
        migrations.AddConstraint(
            model_name="evaluationsession",
            constraint=models.CheckConstraint(condition=models.Q(phase__in=[p for p, _ in PHASES]), name="session_phase_valid"),
        ),
        migrations.CreateModel(
            name="EvaluationReport",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("content", models.JSONField(verbose_name="报告内容")),
                ("object_key", models.CharField(max_length=300, verbose_name="草稿存储位置")),
                ("sha256", models.CharField(max_length=64, verbose_name="草稿 SHA-256")),
                ("size", models.PositiveBigIntegerField(verbose_name="草稿大小（字节）")),
                ("generated_at", models.DateTimeField(verbose_name="生成时间")),
                ("finalized_at", models.DateTimeField(blank=True, null=True, verbose_name="签署完成时间")),
                ("final_object_key", models.CharField(blank=True, max_length=300, verbose_name="正式报告存储位置")),
                ("final_sha256", models.CharField(blank=True, max_length=64, verbose_name="正式报告 SHA-256")),
                ("final_size", models.PositiveBigIntegerField(blank=True, null=True, verbose_name="正式报告大小（字节）")),
                (
                    "session",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT, related_name="report", to="evaluation.evaluationsession"
                    ),
                ),
            ],
            options={
                "verbose_name": "评标报告",
                "verbose_name_plural": "评标报告",
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(
                                ("final_object_key", ""),
                                ("final_sha256", ""),
                                ("final_size__isnull", True),
                                ("finalized_at__isnull", True),
                            ),
                            models.Q(
                                ("final_size__isnull", False),
                                ("finalized_at__isnull", False),
                                models.Q(("final_object_key", ""), _negated=True),
                                models.Q(("final_sha256", ""), _negated=True),
                            ),
                            _connector="OR",
                        ),
                        name="report_final_complete",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="ReportSignature",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("signed_at", models.DateTimeField(verbose_name="签署时间")),
                ("agree", models.BooleanField(verbose_name="同意评标结论")),
                ("dissent", models.TextField(blank=True, verbose_name="不同意见及理由")),
                ("sha256", models.CharField(max_length=64, verbose_name="所签报告 SHA-256")),
                (
                    "member",
                    models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="evaluation.drawnexpert"),
                ),
                (
                    "report",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="signatures",
                        to="evaluation.evaluationreport",
                    ),
                ),
            ],
            options={
                "verbose_name": "评标报告签署",
                "verbose_name_plural": "评标报告签署",
                "ordering": ["report", "signed_at", "id"],
                "constraints": [
                    models.UniqueConstraint(fields=("report", "member"), name="report_signature_once"),
                    models.CheckConstraint(
                        condition=models.Q(("agree", True), models.Q(("dissent", ""), _negated=True), _connector="OR"),
                        name="report_dissent_written",
                    ),
                ],
            },
        ),
    ]
