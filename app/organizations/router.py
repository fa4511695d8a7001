"""/organizations: thin handlers over OrganizationService."""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request, Response, status

from app.auth.dependencies import OrganizationScope, organization_scope, require
from app.auth.permissions import Permission
from app.auth.principals import Principal
from app.http.errors import Conflict, FieldError, Unprocessable
from app.http.etag import IfMatch
from app.http.headers import created
from app.http.openapi import invalid, problems
from app.http.pagination import Page
from app.http.resource import JSON
from app.idempotency.routing import ResourceRoute
from app.organizations.schemas import (
    OnboardingResult,
    Organization,
    OrganizationDetail,
    OrganizationOnboard,
    OrganizationQuery,
    OrganizationUpdate,
)
from app.organizations.service import OrganizationServiceDep

router = APIRouter(prefix="/organizations", tags=["依頼人組織 (organizations)"], route_class=ResourceRoute)

CanList = Annotated[Principal, Depends(require(Permission.ORGANIZATION_READ))]
CanOnboard = Annotated[Principal, Depends(require(Permission.ORGANIZATION_CREATE))]
CanRead = Annotated[OrganizationScope, Depends(organization_scope(Permission.ORGANIZATION_READ))]
CanUpdate = Annotated[OrganizationScope, Depends(organization_scope(Permission.ORGANIZATION_UPDATE))]


@router.get(
    "",
    summary="依頼人組織の一覧",
    description="Operators see and search all organizations; everyone else sees their own.",
    response_model=Page[Organization],
    responses=problems(),
)
async def list_organizations(
    principal: CanList,
    service: OrganizationServiceDep,
    query: Annotated[OrganizationQuery, Query()],
) -> Response:
    """Search organizations (JSON straight from the rows)."""
    return Response(await service.search(principal, query, query.page()), media_type=JSON)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="利用登録",
    description=(
        "Operators only. Creates the organization, its admin users with one-time initial passwords, "
        "its first API key and its initial API password, and answers the registration notice. "
        "The secrets appear in this answer only."
    ),
    responses=problems(
        Conflict("login_id_taken", context={"login_id": "ainas.admin"}),
        Unprocessable(errors=[FieldError("admins[1].login_id", "duplicate_login_id")]),
        invalid(
            OrganizationOnboard,
            name="株式会社ＡＩＮＡＳ自動車販売",
            short_name="AINAS自販",
            admins=[{"login_id": "ainas.admin", "name": "山田 太郎"}],
        ),
    ),
)
async def onboard_organization(
    principal: CanOnboard,
    body: OrganizationOnboard,
    service: OrganizationServiceDep,
    request: Request,
    response: Response,
) -> OnboardingResult:
    """Onboard a new organization."""
    result = await service.onboard(principal.actor, body)
    created(request, response, result.organization.id, result.organization.version)
    return result


@router.get(
    "/{org_id}",
    response_model=OrganizationDetail,
    summary="依頼人組織の参照",
    description="The organization, with its requester certificate for operators and admins.",
    responses=problems(),
    response_model_exclude_unset=True,
)
async def get_organization(scope: CanRead, service: OrganizationServiceDep) -> Response:
    """One organization (from its row, without the ORM)."""
    return (await service.get(scope)).response()


@router.patch(
    "/{org_id}",
    response_model=OrganizationDetail,
    summary="依頼人組織名の変更",
    description="Name and short name. Send If-Match with the ETag you read.",
    responses=problems(invalid(OrganizationUpdate, short_name="株式会社ＡＩＮＡＳ自動車販売")),
    response_model_exclude_unset=True,
)
async def update_organization(
    scope: CanUpdate,
    body: Annotated[OrganizationUpdate, Body(default_factory=OrganizationUpdate)],
    expected: IfMatch,
    service: OrganizationServiceDep,
) -> Response:
    """Change the name or short name; answers as GET does."""
    return (await service.update(scope, body, expected)).response()
