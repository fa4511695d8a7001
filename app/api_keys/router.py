"""/organizations/{org_id}/api-keys and /api-password: thin handlers over ApiKeyService."""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Request, Response, status

from app.api_keys.schemas import ApiKey, ApiKeyCreate, ApiPasswordChange, ApiPasswordChanged
from app.api_keys.service import ApiKeyServiceDep
from app.auth.dependencies import OrganizationScope, organization_scope
from app.auth.permissions import Permission
from app.http.errors import FieldError, Unprocessable
from app.http.headers import member_url
from app.http.openapi import invalid, problems
from app.http.pagination import Page, PageDep
from app.http.resource import JSON
from app.idempotency.routing import ResourceRoute

router = APIRouter(prefix="/organizations/{org_id}", tags=["APIキー (API keys)"], route_class=ResourceRoute)

CanManage = Annotated[OrganizationScope, Depends(organization_scope(Permission.API_KEY_MANAGE))]
KeyIdPath = Annotated[str, Path(max_length=20, title="APIキーID", description="The key's `id`")]
CanSetPassword = Annotated[OrganizationScope, Depends(organization_scope(Permission.API_PASSWORD_SET))]


@router.get(
    "/api-keys",
    summary="APIキーの一覧",
    description="The organization's keys, revoked keys included.",
    response_model=Page[ApiKey],
    responses=problems(),
)
async def list_api_keys(scope: CanManage, service: ApiKeyServiceDep, page: PageDep) -> Response:
    """The organization's keys (JSON straight from the rows)."""
    return Response(await service.search(scope, page), media_type=JSON)


@router.post(
    "/api-keys",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKey,
    summary="APIキーの発行",
    description=(
        "The body (`{label}`) is optional. Existing keys stay active, so a linked system can switch to the new key and the "
        "old one can be revoked afterwards, without downtime. The key works with the organization's API password."
    ),
    responses=problems(invalid(ApiKeyCreate, label="販売管理\tシステム")),
)
async def issue_api_key(
    scope: CanManage,
    body: Annotated[ApiKeyCreate, Body(default_factory=ApiKeyCreate)],
    service: ApiKeyServiceDep,
    request: Request,
) -> Response:
    """Issue a key."""
    key = await service.create(scope, body)
    return Response(
        key.model_dump_json(),
        status_code=status.HTTP_201_CREATED,
        media_type=JSON,
        headers={"Location": member_url(request, key.id)},
    )


@router.get(
    "/api-keys/{key_id}",
    response_model=ApiKey,
    summary="APIキーの参照",
    description="One key of the organization (revoked keys included).",
    responses=problems(),
)
async def get_api_key(scope: CanManage, key_id: KeyIdPath, service: ApiKeyServiceDep) -> Response:
    """One key (JSON from its row)."""
    return Response(await service.get(scope, key_id), media_type=JSON)


@router.delete(
    "/api-keys/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="APIキーの失効",
    description="The key stops working at once, on every instance.",
    responses=problems(),
)
async def revoke_api_key(scope: CanManage, key_id: KeyIdPath, service: ApiKeyServiceDep) -> Response:
    """Revoke a key."""
    await service.revoke(scope, key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(
    "/api-password",
    summary="APIパスワードの設定/変更",
    description=(
        "Admins and operators send `{new_password}`, or `{}` (or no body) to have one generated "
        "(answered once). A linked system sends `{current_password, new_password}`. Every linked-system "
        "token and Basic credential under the old password stops working at once."
    ),
    responses=problems(
        Unprocessable(errors=[FieldError("current_password", "current_password_incorrect")]),
        Unprocessable(errors=[FieldError("new_password", "password_too_short", {"min_length": 8})]),
    ),
)
async def set_api_password(
    scope: CanSetPassword,
    body: Annotated[ApiPasswordChange, Body(default_factory=ApiPasswordChange)],
    service: ApiKeyServiceDep,
) -> ApiPasswordChanged:
    """Set or change the API password."""
    return await service.change_password(scope, body)
