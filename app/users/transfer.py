"""/organizations/{org_id}/exports/users and /imports/users: users as CSV (SPEC §5.6), thin
handlers over UserService with the sheet of app/users/sheet.py."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.auth.dependencies import OrganizationScope, organization_scope
from app.auth.permissions import Permission
from app.csv.download import CsvStream, answer
from app.csv.routes import TAG, UPLOAD_PROBLEMS, DryRun, UploadDep, download_responses, upload_body
from app.idempotency.routing import ResourceRoute
from app.users.service import UserServiceDep
from app.users.sheet import USERS, UserDownloadQuery, UserImportResult

router = APIRouter(prefix="/organizations/{org_id}", tags=[TAG], route_class=ResourceRoute)

CanExport = Annotated[OrganizationScope, Depends(organization_scope(Permission.USER_EXPORT))]
CanImport = Annotated[OrganizationScope, Depends(organization_scope(Permission.USER_IMPORT))]


@router.get(
    "/exports/users",
    summary="Download users as CSV",
    description=(
        "各種ダウンロード: 依頼人ユーザー. The list's filters and what the caller sees; in login ID order. "
        "Columns: ログインID, ユーザー名, 依頼人拠点コード, 依頼人拠点名, 権限 (管理者, 拠点管理者, "
        "担当者（送信可）, 担当者（送信不可）), 最終ログイン日時 (Japan time, YYYY/MM/DD HH:MM)."
    ),
    response_class=CsvStream,
    responses=download_responses(USERS),
)
async def download_users(
    scope: CanExport, query: Annotated[UserDownloadQuery, Query()], service: UserServiceDep
) -> CsvStream:
    """The users as CSV."""
    return answer(await service.download(scope, query, query.encoding))


@router.post(
    "/imports/users",
    summary="Upload users as CSV",
    description=(
        "Each row creates the user with its login ID, or updates name, location and role; an empty "
        "依頼人拠点コード means all locations (全拠点); 依頼人拠点名 and 最終ログイン日時 are ignored. Rows are "
        "allowed as the JSON API allows them (location admins: staff within their location; admins: no "
        "admin roles). New users get temporary passwords, answered here only. All or nothing."
    ),
    openapi_extra=upload_body(
        USERS,
        {"login_id": "tanaka.h", "name": "田中 花子", "location_code": "TKY001", "role": "担当者（送信可）"},
    ),
    responses=UPLOAD_PROBLEMS,
    response_model_exclude_none=True,
)
async def upload_users(
    scope: CanImport, csv: UploadDep, service: UserServiceDep, dry_run: DryRun = False
) -> UserImportResult:
    """Create and update users from a CSV file."""
    return await service.upload(scope, csv, dry_run)
