from django.core.management.base import BaseCommand, CommandError

from evaluation.models import Draw
from evaluation.verify import verify_draw


class Command(BaseCommand):
    help = "Re-run an expert draw from its revealed seed and recorded snapshot; exit 1 on any mismatch."

    def add_arguments(self, parser):
        parser.add_argument("draw_id", type=int)

    def handle(self, *args, draw_id, **options):
        draw = Draw.objects.select_related("request__lot").filter(pk=draw_id).first()
        if draw is None:
            raise CommandError(f"抽取记录不存在 / no draw {draw_id}", returncode=2)
        report = verify_draw(draw)
        self.stdout.write(f"draw {draw.pk}  lot {draw.request.lot.transaction_code}")
        self.stdout.write(f"commitment {draw.commitment}")
        self.stdout.write(f"snapshot   {draw.snapshot_sha256}")
        self.stdout.write(f"seed       {draw.seed or '(not revealed)'}")
        self.stdout.write(f"{'line':<10}{'pos':>5}  {'recorded':>10}  {'stream':>10}  {'status':<10} ok")
        for row in report.rows:
            mark = "ok" if row.ok else "MISMATCH"
            self.stdout.write(
                f"{row.specialty:<10}{row.position:>5}  {row.recorded:>10}  {row.expected!s:>10}  {row.status:<10} {mark}"
            )
        if report.ok:
            self.stdout.write(f"抽取复核通过 / draw verified: {len(report.rows)} rows")
            return
        for problem in report.problems:
            self.stdout.write(problem)
        raise CommandError(f"抽取复核失败 / draw verification failed: {len(report.problems)} problem(s)", returncode=1)
