"""Seeds the construction-tender rule set and the 2026 public-holiday calendar (centre staff keep it up to date)."""

from datetime import date, timedelta

from django.db import migrations

# 2026 holidays and make-up working days as published by the State Council General Office;
# centre staff check and extend this in the admin (工作日历) each year.
HOLIDAYS_2026 = [
    ("元旦", date(2026, 1, 1), 3),
    ("春节", date(2026, 2, 15), 9),
    ("清明节", date(2026, 4, 4), 3),
    ("劳动节", date(2026, 5, 1), 5),
    ("端午节", date(2026, 6, 19), 3),
    ("中秋节", date(2026, 9, 25), 3),
    ("国庆节", date(2026, 10, 1), 7),
]
MAKEUP_WORKDAYS_2026 = [date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28), date(2026, 5, 9), date(2026, 9, 20), date(2026, 10, 10)]


def seed(apps, schema_editor):
    RuleSet = apps.get_model("trading", "RuleSet")
    CalendarDay = apps.get_model("trading", "CalendarDay")
    RuleSet.objects.get_or_create(
        code="construction",
        defaults={"name": "工程建设项目招标", "name_en": "Construction project tendering"},
    )
    for name, first, days in HOLIDAYS_2026:
        for offset in range(days):
            CalendarDay.objects.get_or_create(date=first + timedelta(days=offset), defaults={"is_working_day": False, "name": name})
    for day in MAKEUP_WORKDAYS_2026:
        CalendarDay.objects.get_or_create(date=day, defaults={"is_working_day": True, "name": "调休上班"})


class Migration(migrations.Migration):
    dependencies = [("trading", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
