"""Who may act: role and party checks shared by services and selectors."""

from rest_framework import status

from trading.api import DomainError
from trading.models import Role, TenderProject

TENDEREE_SIDE = (Role.TENDEREE, Role.AGENCY)


def forbidden(zh: str, en: str, code: str = "forbidden") -> DomainError:
    return DomainError(code, zh, en, status_code=status.HTTP_403_FORBIDDEN)


def is_tenderee_side(user, project: TenderProject) -> bool:
    return (
        user.role in TENDEREE_SIDE
        and user.organisation_id is not None
        and user.organisation_id in (project.tenderee_id, project.agency_id)
    )


def require_role(actor, *roles: str) -> None:
    if actor.role not in roles:
        names = "、".join(Role(r).label for r in roles)
        raise forbidden(f"只有{names}可以执行此操作", f"Only {', '.join(roles)} may do this", code="role_not_allowed")


def require_tenderee_side(actor, project: TenderProject) -> None:
    if not is_tenderee_side(actor, project):
        raise forbidden(
            "只有本项目的招标人或其代理机构可以执行此操作",
            "Only this project's tenderee or its agency may do this",
            code="not_project_party",
        )


def require_org(actor) -> None:
    if actor.organisation_id is None:
        raise forbidden("账号未关联单位", "Your account belongs to no organisation", code="no_organisation")
