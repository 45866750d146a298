"""PostgreSQL: keep Draw.snapshot out of line but uncompressed (STORAGE EXTERNAL).

A snapshot is ~8 bytes per eligible expert (90 KB for 11,000), made of ids that compress poorly; pglz spent
~22 ms of a draw's write on it (bench/draw.py, docs/performance.md). Other databases: nothing to do.
"""

from django.db import migrations


def external(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE evaluation_draw ALTER COLUMN snapshot SET STORAGE EXTERNAL")


def main(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE evaluation_draw ALTER COLUMN snapshot SET STORAGE MAIN")


class Migration(migrations.Migration):
    dependencies = [("evaluation", "0001_committee_draw")]

    operations = [migrations.RunPython(external, main)]
