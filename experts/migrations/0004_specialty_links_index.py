"""The draw reads the specialty links by specialty and takes the expert ids (evaluation.selectors): an index on
(specialty_id, expert_id) answers that from the index alone. The auto-created M2M table takes no Meta index."""

from django.db import migrations

INDEX = "experts_expert_specialties_specialty_expert_idx"


class Migration(migrations.Migration):
    dependencies = [("experts", "0003_pool")]

    operations = [
        migrations.RunSQL(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON experts_expert_specialties (specialty_id, expert_id)",
            f"DROP INDEX IF EXISTS {INDEX}",
        )
    ]
