"""Reads that start from what the user may see."""

from django.db.models import Q, QuerySet

from trading.access import TENDEREE_SIDE
from trading.models import Lot, LotStatus, Objection, Review, Role, TenderProject
from trading.sealing import blind_index

# Before publication a lot is the tenderee's and the centre's business only.
UNPUBLISHED = (LotStatus.DRAFT, LotStatus.REGISTERED, LotStatus.FILED)
WATCHERS = (Role.STAFF, Role.SUPERVISOR)


def projects_visible_to(user) -> QuerySet[TenderProject]:
    qs = TenderProject.objects.select_related("tenderee", "agency", "rule_set")
    if not user.is_authenticated:
        return qs.none()
    if user.role in WATCHERS:
        return qs
    if user.role in TENDEREE_SIDE and user.organisation_id:
        return qs.filter(Q(tenderee_id=user.organisation_id) | Q(agency_id=user.organisation_id))
    return qs.filter(lots__docs_issued_at__isnull=False).distinct()


def lots_visible_to(user) -> QuerySet[Lot]:
    qs = Lot.objects.select_related("project", "project__tenderee", "project__agency", "project__rule_set")
    if not user.is_authenticated:
        return qs.none()
    if user.role in WATCHERS:
        return qs
    if user.role in TENDEREE_SIDE and user.organisation_id:
        return qs.filter(Q(project__tenderee_id=user.organisation_id) | Q(project__agency_id=user.organisation_id))
    return qs.filter(docs_issued_at__isnull=False)


def reviews_visible_to(user) -> QuerySet[Review]:
    qs = Review.objects.select_related("project", "lot", "submitted_by", "reviewed_by")
    if not user.is_authenticated:
        return qs.none()
    if user.role in WATCHERS:
        return qs
    if user.role in TENDEREE_SIDE and user.organisation_id:
        return qs.filter(Q(project__tenderee_id=user.organisation_id) | Q(project__agency_id=user.organisation_id))
    return qs.none()


def objection_raiser_index(org_id: int) -> str:
    return blind_index("objection-raiser", org_id)


def objections_visible_to(user) -> QuerySet[Objection]:
    qs = Objection.objects.select_related("lot", "lot__project", "raised_by")
    if not user.is_authenticated:
        return qs.none()
    if user.role in WATCHERS:
        return qs
    if user.role in TENDEREE_SIDE and user.organisation_id:
        return qs.filter(Q(lot__project__tenderee_id=user.organisation_id) | Q(lot__project__agency_id=user.organisation_id))
    if user.role == Role.BIDDER and user.organisation_id:
        return qs.filter(raiser_index=objection_raiser_index(user.organisation_id))
    return qs.none()
