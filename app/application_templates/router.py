"""/organizations/{org_id}/application-templates: thin handlers over ApplicationTemplateService."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response, status

from app.application_templates.schemas import (
    EXAMPLES,
    ApplicationTemplate,
    ApplicationTemplateCopy,
    ApplicationTemplateCreate,
    ApplicationTemplateQuery,
    ApplicationTemplateUpdate,
)
from app.application_templates.service import ApplicationTemplateServiceDep
from app.auth.dependencies import OrganizationScope, organization_scope
from app.auth.permissions import Permission
from app.http.errors import Conflict, FieldError, Forbidden, Unprocessable
from app.http.etag import IfMatch
from app.http.openapi import invalid, problems
from app.http.pagination import Page
from app.http.resource import JSON
from app.idempotency.routing import ResourceRoute

router = APIRouter(
    prefix="/organizations/{org_id}/application-templates",
    tags=["申請テンプレート (application templates)"],
    route_class=ResourceRoute,
)

CanRead = Annotated[OrganizationScope, Depends(organization_scope(Permission.TEMPLATE_READ))]
CanWrite = Annotated[OrganizationScope, Depends(organization_scope(Permission.TEMPLATE_WRITE))]
TemplateIdPath = Annotated[
    str, Path(max_length=64, title="申請テンプレートID", description="9 decimal digits")
]
Filters = Annotated[ApplicationTemplateQuery, Query()]

_NAME_TAKEN = Conflict("template_name_taken", context={"name": "リース車新規登録（東京本店）"})
_UNKNOWN_LOCATION = Unprocessable(errors=[FieldError("location_code", "unknown_location")])
_UNKNOWN_DESIGNATION = Unprocessable(errors=[FieldError("agent_designation_id", "unknown_agent_designation")])
_NOT_APPLICABLE = Unprocessable(
    errors=[
        FieldError("owner", "field_not_applicable"),
        FieldError("base_location", "field_not_applicable"),
    ]
)
_DESIGNATION_NOT_APPLICABLE = Unprocessable(
    errors=[
        FieldError("agent_designation_id", "designation_not_applicable", {"procedure": "new_registration"})
    ]
)
_SAME_AS_OWNER = Unprocessable(errors=[FieldError("user", "user_given_with_same_as_owner")])
_ADDRESS = {"postal_code": "1234567", "address": "東京都港区１－２"}
_NESTED = invalid(
    ApplicationTemplateCreate,
    name="新規登録",
    procedure="new_registration",
    owner={"name": "ｶﾞﾚｰｼﾞ", "postal_code": "１２３-４５６７", "address": "東京都港区1-2"},
)
_RULES = (
    403,
    _UNKNOWN_LOCATION,
    _UNKNOWN_DESIGNATION,
    _NOT_APPLICABLE,
    _DESIGNATION_NOT_APPLICABLE,
    _SAME_AS_OWNER,
)
# A create body per procedure, for Swagger UI's example picker.
_CREATE_EXAMPLES: dict[str, Any] = {
    procedure: {"summary": procedure, "value": example} for procedure, example in EXAMPLES.items()
}


@router.get(
    "",
    response_model=Page[ApplicationTemplate],
    summary="申請テンプレート検索",
    description=(
        "`name` matches partially, ignoring width and case; `procedure`, "
        "`location_code` and `agent_designation_id` exactly (an empty `location_code=` finds the "
        "all-locations templates). A caller assigned to a location sees its location's and the "
        "all-locations templates."
    ),
    responses=problems(),
)
async def list_templates(scope: CanRead, service: ApplicationTemplateServiceDep, query: Filters) -> Response:
    """Search the organization's templates (JSON straight from the rows)."""
    return Response(await service.search(scope, query, query.page()), media_type=JSON)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ApplicationTemplate,
    summary="申請テンプレートの登録",
    description=(
        "Full-width fields (`name`, `owner.name`, `owner.address`, `user.*`, "
        "`base_location.address`) are checked as everywhere: each offending character is listed with "
        "its position and the full-width character to use (`invalid_characters`), under the nested "
        "field's name. Postal codes take `123-4567` or `1234567` and are answered as `1234567`. "
        "`owner`, `user`, `user_same_as_owner` and `base_location` do not apply to "
        "`continuous_inspection` (422 field_not_applicable). A location admin creates templates of "
        "its own location only."
    ),
    responses=problems(_NAME_TAKEN, _NESTED, *_RULES),
)
async def create_template(
    scope: CanWrite,
    body: Annotated[ApplicationTemplateCreate, Body(openapi_examples=_CREATE_EXAMPLES)],
    service: ApplicationTemplateServiceDep,
    request: Request,
) -> Response:
    """Create a template."""
    template = await service.create(scope, body)
    return template.created(request, template.public_form()["id"])


@router.get(
    "/{id}",
    response_model=ApplicationTemplate,
    summary="申請テンプレートの参照",
    description="One template of the organization, with its ETag.",
    responses=problems(),
)
async def get_template(
    scope: CanRead, id: TemplateIdPath, service: ApplicationTemplateServiceDep
) -> Response:
    """One template (its row through the schema once, no ORM object)."""
    return (await service.get(scope, id)).response()


@router.patch(
    "/{id}",
    response_model=ApplicationTemplate,
    summary="申請テンプレートの変更",
    description=(
        "Absent fields stay; `owner`, `user` and `base_location` are replaced "
        "whole. The rules are checked on the result (changing the procedure to "
        "`continuous_inspection` while parties are set answers 422 field_not_applicable). Send "
        "If-Match with the ETag you read."
    ),
    responses=problems(_NAME_TAKEN, *_RULES),
)
async def update_template(
    scope: CanWrite,
    id: TemplateIdPath,
    body: Annotated[ApplicationTemplateUpdate, Body(default_factory=ApplicationTemplateUpdate)],
    expected: IfMatch,
    service: ApplicationTemplateServiceDep,
) -> Response:
    """Change a template."""
    return (await service.update(scope, id, body, expected)).response()


@router.delete(
    "/{id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="申請テンプレートの削除",
    description="Deletes the template. Send If-Match with the ETag you read.",
    responses=problems(Forbidden()),
)
async def delete_template(
    scope: CanWrite, id: TemplateIdPath, expected: IfMatch, service: ApplicationTemplateServiceDep
) -> Response:
    """Delete a template."""
    await service.delete(scope, id, expected)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{id}/copy",
    status_code=status.HTTP_201_CREATED,
    response_model=ApplicationTemplate,
    summary="転用作成",
    description="A new template with the same fields under a new name (unique in the organization).",
    responses=problems(_NAME_TAKEN, Forbidden()),
)
async def copy_template(
    scope: CanWrite,
    id: TemplateIdPath,
    body: ApplicationTemplateCopy,
    service: ApplicationTemplateServiceDep,
    request: Request,
) -> Response:
    """Copy a template under a new name."""
    template = await service.copy(scope, id, body)
    answer = template.response(status.HTTP_201_CREATED)
    answer.headers["Location"] = f"{request.url.path.rsplit('/', 2)[0]}/{template.public_form()['id']}"
    return answer
