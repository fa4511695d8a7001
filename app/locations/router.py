"""/organizations/{org_id}/locations: thin handlers over LocationService."""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response, status

from app.auth.dependencies import OrganizationScope, organization_scope
from app.auth.permissions import Permission
from app.http.errors import Conflict
from app.http.etag import IfMatch
from app.http.openapi import invalid, problems
from app.http.pagination import Page
from app.idempotency.routing import ResourceRoute
from app.locations.schemas import CODE, Location, LocationCreate, LocationQuery, LocationUpdate
from app.locations.service import LocationServiceDep

router = APIRouter(
    prefix="/organizations/{org_id}/locations", tags=["依頼人拠点 (locations)"], route_class=ResourceRoute
)

CanRead = Annotated[OrganizationScope, Depends(organization_scope(Permission.LOCATION_READ))]
CanWrite = Annotated[OrganizationScope, Depends(organization_scope(Permission.LOCATION_WRITE))]
LocationCodePath = Annotated[
    str, Path(max_length=64, title=CODE, description="The location's code, as it was created")
]
Filters = Annotated[LocationQuery, Query()]


@router.get(
    "",
    response_model=Page[Location],
    summary="依頼人拠点検索",
    description=(
        "Each filter is optional and matches partially, ignoring width and case "
        "(`ﾃｽﾄ` finds `テスト`, `００１` finds `001`). A caller assigned to a location sees only that location."
    ),
    responses=problems(),
)
async def list_locations(scope: CanRead, service: LocationServiceDep, query: Filters) -> Response:
    """Search the organization's locations (linked systems poll it: JSON straight from the rows)."""
    return Response(await service.search(scope, query, query.page()), media_type="application/json")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Location,
    summary="依頼人拠点の追加",
    description="The code is unique within the organization and never changes (409 when taken).",
    responses=problems(
        Conflict("location_code_taken", context={"code": "TKY001"}),
        invalid(LocationCreate, code="TKY001", name="ｶﾞﾚｰｼﾞ１", short_name="ガレージ"),
    ),
)
async def create_location(
    scope: CanWrite, body: LocationCreate, service: LocationServiceDep, request: Request
) -> Response:
    """Create a location."""
    return (await service.create(scope, body)).created(request, body.code)


@router.get(
    "/{code}",
    response_model=Location,
    summary="依頼人拠点の参照",
    description="One location of the organization, with its ETag.",
    responses=problems(),
)
async def get_location(scope: CanRead, code: LocationCodePath, service: LocationServiceDep) -> Response:
    """One location (JSON straight from its row)."""
    return (await service.get(scope, code)).response()


@router.patch(
    "/{code}",
    response_model=Location,
    summary="依頼人拠点情報の変更 / 記録等事務代行者委託番号の設定",
    description=(
        "Name, short name and commission number; the code never changes. Send If-Match with the ETag you read."
    ),
    responses=problems(invalid(LocationUpdate, delegate_number="１２３４")),
)
async def update_location(
    scope: CanWrite,
    code: LocationCodePath,
    body: Annotated[LocationUpdate, Body(default_factory=LocationUpdate)],
    expected: IfMatch,
    service: LocationServiceDep,
) -> Response:
    """Change name, short name or commission number."""
    return (await service.update(scope, code, body, expected)).response()


@router.delete(
    "/{code}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="依頼人拠点の削除",
    description=(
        "Refused (409) while users are assigned to it, agents are designated for it, "
        "or application templates belong to it."
    ),
    responses=problems(
        Conflict("location_in_use", context={"count": 3}),
        Conflict("location_has_designations", context={"count": 1}),
        Conflict("location_has_templates", context={"count": 2}),
    ),
)
async def delete_location(
    scope: CanWrite, code: LocationCodePath, expected: IfMatch, service: LocationServiceDep
) -> Response:
    """Delete a location."""
    await service.delete(scope, code, expected)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
