"""Reads of the pool, starting from what the user may see.

Expert identities are secret from bidders, tenderees and agencies (法37 and practice): they see nothing.
Centre staff and supervisors see the whole pool; an expert sees only their own unavailability and interests.
"""

from django.db.models import Prefetch, QuerySet

from experts.models import Expert, ExpertInterest, ExpertUnavailability, PerformanceRecord, Specialty
from trading.models import Role

POOL_READERS = (Role.STAFF, Role.SUPERVISOR)


def can_read_pool(user) -> bool:
    return user.is_authenticated and user.role in POOL_READERS


def experts_visible_to(user) -> QuerySet[Expert]:
    if not can_read_pool(user):
        return Expert.objects.none()
    return Expert.objects.prefetch_related(Prefetch("specialties", queryset=Specialty.objects.only("id", "code", "name")))


def specialties_visible_to(user) -> QuerySet[Specialty]:
    return Specialty.objects.all() if can_read_pool(user) else Specialty.objects.none()


def _own_or_all(qs: QuerySet, user) -> QuerySet:
    if not user.is_authenticated:
        return qs.none()
    if user.role in POOL_READERS:
        return qs
    if user.role == Role.EXPERT:
        return qs.filter(expert__user=user)
    return qs.none()


def unavailability_visible_to(user) -> QuerySet[ExpertUnavailability]:
    return _own_or_all(ExpertUnavailability.objects.select_related("expert"), user)


def interests_visible_to(user) -> QuerySet[ExpertInterest]:
    return _own_or_all(ExpertInterest.objects.select_related("expert"), user)


def performance_visible_to(user) -> QuerySet[PerformanceRecord]:
    if not can_read_pool(user):
        return PerformanceRecord.objects.none()
    return PerformanceRecord.objects.select_related("recorded_by")
