"""Pool fixtures: a small specialty tree and experts built directly (the import has its own tests)."""

import pytest

from experts.models import Expert, Specialty
from tests import factories

TREE = [
    ("A08", "建筑工程"),
    ("A0801", "房屋建筑"),
    ("A080101", "住宅"),
    ("A09", "市政工程"),
    ("A0901", "道路"),
    ("B01", "工程造价"),
]


@pytest.fixture
def tree(db):
    made = {}
    for code, name in TREE:
        made[code] = Specialty.objects.create(code=code, name=name, parent=made.get(code[:-2]))
    return made


def make_expert(number: str, *codes_of: Specialty, user=None, **fields) -> Expert:
    fields.setdefault("name", f"专家{number}")
    fields.setdefault("employer_credit_code", factories.credit_code())
    fields.setdefault("employer_name", "某设计院")
    fields.setdefault("phone", "13900000000")
    expert = Expert.objects.create(number=number, user=user, **fields)
    expert.specialties.add(*codes_of)
    return expert


@pytest.fixture
def own_expert(parties, tree):
    """The Parties' expert user's own record."""
    return make_expert("OWN-1", tree["A0801"], user=parties.expert, name="本人专家")
