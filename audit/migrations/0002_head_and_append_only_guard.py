"""The chain's head row, and the triggers that make the event table append-only (see audit/guard.py)."""

from django.db import migrations

from audit import guard

GENESIS_HASH = "0" * 64


def create_head(apps, schema_editor):
    AuditHead = apps.get_model("audit", "AuditHead")
    AuditHead.objects.using(schema_editor.connection.alias).get_or_create(pk=1, defaults={"last_seq": 0, "last_hash": GENESIS_HASH})


def delete_head(apps, schema_editor):
    AuditHead = apps.get_model("audit", "AuditHead")
    AuditHead.objects.using(schema_editor.connection.alias).filter(pk=1).delete()


def install_guard(apps, schema_editor):
    guard.install(schema_editor.connection)


def remove_guard(apps, schema_editor):
    guard.remove(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(create_head, delete_head),
        migrations.RunPython(install_guard, remove_guard),
    ]
