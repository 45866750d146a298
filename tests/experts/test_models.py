from datetime import date, timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from experts.models import Expert, ExpertInterest, ExpertUnavailability, parent_code
from tests.experts.conftest import make_expert

pytestmark = pytest.mark.django_db

DAY = date(2026, 12, 1)


def test_parent_code_follows_the_prefix():
    assert parent_code("A080101") == "A0801"
    assert parent_code("A0801") == "A08"
    assert parent_code("A08") == "A"
    assert parent_code("A") is None


def test_eligible_on_keeps_active_and_lapsed_penalties_only(tree):
    active = make_expert("E1", tree["A0801"])
    lapsed = make_expert("E2", tree["A0801"], status=Expert.Status.SUSPENDED, status_until=DAY - timedelta(days=1))
    ends_today = make_expert("E3", tree["A0801"], status=Expert.Status.SUSPENDED, status_until=DAY)
    indefinite = make_expert("E4", tree["A0801"], status=Expert.Status.BLACKLISTED, status_until=None)
    lapsed_black = make_expert("E5", tree["A0801"], status=Expert.Status.BLACKLISTED, status_until=DAY - timedelta(days=30))
    later_black = make_expert("E6", tree["A0801"], status=Expert.Status.BLACKLISTED, status_until=DAY + timedelta(days=30))

    eligible = set(Expert.objects.eligible_on(DAY).values_list("number", flat=True))

    assert eligible == {active.number, lapsed.number, lapsed_black.number}
    assert {ends_today.number, indefinite.number, later_black.number}.isdisjoint(eligible)
    # The day after the suspension's last day it lapses.
    assert ends_today.number in set(Expert.objects.eligible_on(DAY + timedelta(days=1)).values_list("number", flat=True))


def test_specialty_prefix_matches_the_subtree_once(tree):
    both = make_expert("E1", tree["A0801"], tree["A080101"])
    leaf = make_expert("E2", tree["A080101"])
    make_expert("E3", tree["A0901"])

    assert list(Expert.objects.with_specialty_prefix("A08").values_list("number", flat=True)) == [both.number, leaf.number]
    assert list(Expert.objects.with_specialty_prefix("A080101").values_list("number", flat=True)) == [both.number, leaf.number]
    assert list(Expert.objects.with_specialty_prefix("A0801").values_list("number", flat=True)) == [both.number, leaf.number]
    assert list(Expert.objects.with_specialty_prefix("A09").values_list("number", flat=True)) == ["E3"]


def test_database_refuses_inconsistent_rows(tree):
    expert = make_expert("E1", tree["A0801"])
    with pytest.raises(IntegrityError), transaction.atomic():
        Expert.objects.filter(pk=expert.pk).update(status=Expert.Status.ACTIVE, status_until=DAY)
    with pytest.raises(IntegrityError), transaction.atomic():
        Expert.objects.filter(pk=expert.pk).update(status="retired")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_expert("E1", tree["A0801"])  # 专家编号 is unique
    now = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        ExpertUnavailability.objects.create(expert=expert, start=now, end=now)
    with pytest.raises(IntegrityError), transaction.atomic():
        ExpertInterest.objects.create(expert=expert, kind="other")


def test_experts_without_number_or_account_may_coexist(tree):
    Expert.objects.create(name="甲")
    Expert.objects.create(name="乙")
    assert Expert.objects.filter(number="", user=None).count() == 2
