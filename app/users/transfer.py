"""/organizations/{org_id}/exports/users and /imports/users: users as CSV (SPEC §5.6), thin
handlers over UserService with the sheet of app/users/sheet.py."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.auth.dependencies import OrganizationScope, organization_scope
from app.auth.permissions import Permission
from app.auth.principals import ORGANIZATION_ROLES
from app.csv.download import CsvStream, answer
from app.csv.routes import TAG, DryRun, UploadDep, download_responses, upload_body, upload_responses
from app.idempotency.routing import ResourceRoute
from app.text.messages import labelled_values
from app.users.service import UserServiceDep
from app.users.sheet import USERS, UserDownloadQuery, UserImportResult

router = APIRouter(prefix="/organizations/{org_id}", tags=[TAG], route_class=ResourceRoute)

CanExport = Annotated[OrganizationScope, Depends(organization_scope(Permission.USER_EXPORT))]
CanImport = Annotated[OrganizationScope, Depends(organization_scope(Permission.USER_IMPORT))]


# A row of the OpenAPI document's examples (by JSON name): the file an upload shows, and the row its
# documented errors are of.
_EXAMPLE = {
    "login_id": "tanaka.h",
    "name": "田中 花子",
    "location_code": "TKY001",
    "role": "担当者（送信可）",
}


@router.get(
    "/exports/users",
    summary="依頼人ユーザーのダウンロード",
    description=(
        "The list's filters and what the caller sees; in login ID order. Columns: "
        + ", ".join(f"`{label}`" for label in USERS.header)
        + ". The role is written as its label ("
        + labelled_values(ORGANIZATION_ROLES)
        + "), the last login in Japan time, `YYYY/MM/DD HH:MM`."
    ),
    response_class=CsvStream,
    responses=download_responses(USERS, _EXAMPLE),
)
async def download_users(
    scope: CanExport, query: Annotated[UserDownloadQuery, Query()], service: UserServiceDep
) -> CsvStream:
    """The users as CSV."""
    return answer(await service.download(scope, query, query.encoding))


@router.post(
    "/imports/users",
    summary="依頼人ユーザーのアップロード",
    description=(
        "Each row creates the user with its login ID, or updates name, location and role; an empty "
        "location code means all locations; the location name and the last login are ignored. The role "
        "is its label or its JSON name. Rows are allowed as the JSON API allows them (location admins: "
        "staff within their location; admins: no admin roles). New users get temporary passwords, "
        "answered here only. All or nothing."
    ),
    openapi_extra=upload_body(USERS, _EXAMPLE),
    responses=upload_responses(USERS, _EXAMPLE, {"name": "田中\t花子"}),
    response_model_exclude_none=True,
)
async def upload_users(
    scope: CanImport, csv: UploadDep, service: UserServiceDep, dry_run: DryRun = False
) -> UserImportResult:
    """Create and update users from a CSV file."""
    return await service.upload(scope, csv, dry_run)
