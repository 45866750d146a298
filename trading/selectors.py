"""Reads that start from what the user may see."""

from django.db.models import Q, QuerySet

from trading.access import TENDEREE_SIDE
from trading.models import Lot, Objection, Review, Role, TenderProject
from trading.sealing import blind_index

WATCHERS = (Role.STAFF, Role.SUPERVISOR)


def _scoped(qs: QuerySet, user, *, party: str, others: Q | None) -> QuerySet:
    """Watchers see everything; the tenderee side sees its own (`party` is the path to the project);
    everyone else sees what `others` allows, or nothing."""
    if not user.is_authenticated:
        return qs.none()
    if user.role in WATCHERS:
        return qs
    if user.role in TENDEREE_SIDE and user.organisation_id:
        return qs.filter(Q(**{f"{party}tenderee_id": user.organisation_id}) | Q(**{f"{party}agency_id": user.organisation_id}))
    return qs.filter(others) if others is not None else qs.none()


def projects_visible_to(user) -> QuerySet[TenderProject]:
    qs = TenderProject.objects.select_related("tenderee", "agency", "rule_set")
    return _scoped(qs, user, party="", others=Q(lots__docs_issued_at__isnull=False)).distinct()


def lots_visible_to(user) -> QuerySet[Lot]:
    qs = Lot.objects.select_related("project", "project__tenderee", "project__agency", "project__rule_set")
    return _scoped(qs, user, party="project__", others=Q(docs_issued_at__isnull=False))


def reviews_visible_to(user) -> QuerySet[Review]:
    qs = Review.objects.select_related("project", "lot", "submitted_by", "reviewed_by")
    return _scoped(qs, user, party="project__", others=None)


def objection_raiser_index(org_id: int) -> str:
    return blind_index("objection-raiser", org_id)


def objections_visible_to(user) -> QuerySet[Objection]:
    qs = Objection.objects.select_related("lot", "lot__project", "raised_by")
    mine = None
    if user.is_authenticated and user.role == Role.BIDDER and user.organisation_id:
        mine = Q(raiser_index=objection_raiser_index(user.organisation_id))
    return _scoped(qs, user, party="lot__project__", others=mine)
