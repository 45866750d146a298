"""manage.py import_experts FILE [--dry-run] [--partial] [--create-accounts]: the expert spreadsheet import.

Prints the report (JSON with --json, else one line per problem); exits 1 when the file was refused.
"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from experts.services import experts_import


class Command(BaseCommand):
    help = "导入评标专家（CSV/XLSX，按专家编号更新或新增） / import experts from CSV or XLSX, upserting on 专家编号"

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--dry-run", action="store_true", help="只检查，不写入 / check only")
        parser.add_argument("--partial", action="store_true", help="导入无误的行，跳过有误的行 / import the good rows")
        parser.add_argument("--create-accounts", action="store_true", help="为新专家建立登录账号 / create logins")
        parser.add_argument("--json", action="store_true", help="输出 JSON 报告 / print the report as JSON")

    def handle(self, *args, **options):
        path: Path = options["file"]
        try:
            data = path.read_bytes()
        except OSError as error:
            raise CommandError(f"无法读取 {path}: {error}") from error
        report = experts_import(
            actor=None,
            filename=path.name,
            data=data,
            dry_run=options["dry_run"],
            partial=options["partial"],
            create_accounts=options["create_accounts"],
        )
        if options["json"]:
            self.stdout.write(json.dumps(report, ensure_ascii=False, indent=2))
        else:
            for error in report["errors"]:
                self.stdout.write(f"第{error['row']}行 [{error['column']}] {error['code']}: {error['zh']} / {error['en']}")
            verb = "将" if options["dry_run"] else ""
            self.stdout.write(
                f"共{report['rows']}行，有效{report['valid']}行；{verb}新增{report['created']}，{verb}更新{report['updated']}，"
                f"未变{report['unchanged']}；{'已写入' if report['imported'] else '未写入'}"
            )
        if report["errors"] and not report["imported"]:
            raise CommandError("导入被拒绝，未写入任何数据 / import refused, nothing written", returncode=1)
