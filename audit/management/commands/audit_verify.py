from django.core.management.base import BaseCommand, CommandError

from audit.services import verify_chain


class Command(BaseCommand):
    help = "Recompute the audit trail's hash chain; exit 1 and list the problems if anything was edited or deleted."

    def handle(self, *args, **options):
        result = verify_chain()
        if result.ok:
            self.stdout.write(f"审计链校验通过 / audit chain verified: {result.checked} entries")
            return
        for problem in result.problems:
            self.stdout.write(problem)
        raise CommandError(
            f"审计链校验失败 / audit chain broken: {len(result.problems)} problem(s) in {result.checked} entries", returncode=1
        )
