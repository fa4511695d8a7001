"""/organizations/{org_id}/exports and /imports: CSV downloads and uploads (各種ダウンロード, SPEC §5.6)."""

import re
from collections.abc import Callable
from email.message import Message
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Query, Request
from fastapi.types import DecoratedCallable
from starlette.datastructures import UploadFile
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from app.auth.dependencies import OrganizationScope, organization_scope
from app.auth.permissions import Permission
from app.exports.columns import LOCATIONS, USERS, Sheet
from app.exports.csv_io import MAX_UPLOAD_BYTES, MAX_UPLOAD_ROWS
from app.exports.schemas import (
    CsvProblem,
    ImportResult,
    LocationDownloadQuery,
    UserDownloadQuery,
    UserImportResult,
)
from app.exports.service import Download, ExportServiceDep, ImportServiceDep, Upload
from app.http.errors import (
    PROBLEM_MEDIA_TYPE,
    PayloadTooLarge,
    Unprocessable,
    UnsupportedMediaType,
    field_errors,
)
from app.http.openapi import problems
from app.idempotency.routing import ResourceRoute

# The request bodies these paths take: the CSV, or a multipart form around it.
UPLOAD_PATHS: Final = re.compile(r"^/api/v1/organizations/[^/]+/imports/")
MAX_UPLOAD_BODY_BYTES: Final = MAX_UPLOAD_BYTES + 64 * 1024
CSV_MEDIA_TYPES: Final = frozenset({"text/csv", "application/csv", "text/plain"})

router = APIRouter(
    prefix="/organizations/{org_id}", tags=["各種ダウンロード (CSV)"], route_class=ResourceRoute
)

CanExportLocations = Annotated[OrganizationScope, Depends(organization_scope(Permission.LOCATION_EXPORT))]
CanExportUsers = Annotated[OrganizationScope, Depends(organization_scope(Permission.USER_EXPORT))]
CanImportLocations = Annotated[OrganizationScope, Depends(organization_scope(Permission.LOCATION_IMPORT))]
CanImportUsers = Annotated[OrganizationScope, Depends(organization_scope(Permission.USER_IMPORT))]


DryRun = Annotated[bool, Query(description="Check the file and answer the counts, changing nothing")]


class CsvStream(StreamingResponse):
    """A streamed download that releases what its body holds (a database connection, a temporary
    file) also when the client goes away before the end."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Stream, then close the body."""
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.body_iterator.aclose()  # type: ignore[attr-defined]


def _answer(download: Download) -> CsvStream:
    disposition = f'attachment; filename="{download.filename}"'
    return CsvStream(
        download.body, media_type=download.media_type, headers={"Content-Disposition": disposition}
    )


def _parameters(header: str) -> tuple[str, dict[str, str]]:
    """A content type's media type (lower case) and parameters."""
    message = Message()
    message["content-type"] = header
    params = {str(name).lower(): str(value) for name, value in message.get_params(failobj=[])[1:]}
    return message.get_content_type(), params


async def upload(request: Request) -> Upload:
    """The uploaded CSV: the body (`text/csv`) or the `file` of a multipart form; 415 for anything
    else, 413 beyond 5 MiB."""
    media_type, params = _parameters(request.headers.get("content-type", ""))
    if media_type in CSV_MEDIA_TYPES:
        data, charset = await request.body(), params.get("charset")
    elif media_type == "multipart/form-data":
        async with request.form(max_files=1, max_fields=8) as form:
            file = form.get("file")
            if not isinstance(file, UploadFile):
                raise field_errors("missing", "file")
            data = await file.read(MAX_UPLOAD_BYTES + 1)
            charset = _parameters(file.content_type or "")[1].get("charset")
    else:
        raise UnsupportedMediaType("csv_media_type")
    if len(data) > MAX_UPLOAD_BYTES:
        raise PayloadTooLarge(context={"limit": MAX_UPLOAD_BYTES})
    return Upload(data, charset)


UploadDep = Annotated[Upload, Depends(upload)]


def _heading_row(sheet: Sheet) -> str:
    return ",".join(sheet.header) + "\r\n"


_CSV_EXAMPLE = _heading_row(LOCATIONS) + "TKY001,東京本店,東京本店,1234567\r\n"
_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": (
            "The CSV, up to 5 MiB and 10,000 rows: the body itself (`text/csv`, optionally with a "
            "`charset`), or the `file` field of `multipart/form-data`. UTF-8 with or without a "
            "byte-order mark, or Shift_JIS (CP932): named by the charset, else detected. The heading "
            "row names the columns by the download's labels or by the JSON names, in any order."
        ),
        "content": {
            "text/csv": {"schema": {"type": "string"}, "example": _CSV_EXAMPLE},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "The CSV file"}
                    },
                }
            },
        },
    }
}


def _download_route(
    path: str, sheet: Sheet, *, summary: str, description: str
) -> Callable[[DecoratedCallable], DecoratedCallable]:
    """GET a CSV download: streamed, its heading row the example."""
    return router.get(
        path,
        summary=summary,
        description=description,
        response_class=CsvStream,
        responses={
            200: {
                "description": "The CSV file (`Content-Disposition: attachment`), streamed",
                "content": {"text/csv": {"schema": {"type": "string"}, "example": _heading_row(sheet)}},
            },
            **problems(401, 403, 404, Unprocessable("validation_failed")),
        },
    )


def _csv_problem(description: str) -> dict[str, Any]:
    return {"model": CsvProblem, "description": description, "content": {PROBLEM_MEDIA_TYPE: {}}}


_UPLOAD_PROBLEMS: dict[int | str, dict[str, Any]] = {
    **problems(401, 403, 404, 409),
    413: _csv_problem(f"Over 5 MiB or over {MAX_UPLOAD_ROWS:,} rows"),
    415: _csv_problem(
        "Neither text/csv nor multipart/form-data, or a charset other than UTF-8 and Shift_JIS"
    ),
    422: _csv_problem(
        "Every error of every row (`row`: line number, the heading row being 1); nothing changed"
    ),
}


def _upload_route(
    path: str, *, summary: str, description: str
) -> Callable[[DecoratedCallable], DecoratedCallable]:
    """POST a CSV upload: the body or form described by hand (the handler reads it itself)."""
    return router.post(
        path, summary=summary, description=description, openapi_extra=_UPLOAD_BODY, responses=_UPLOAD_PROBLEMS
    )


@_download_route(
    "/exports/locations",
    LOCATIONS,
    summary="Download locations as CSV",
    description=(
        "各種ダウンロード: 依頼人拠点. The list's filters and scope; in code order. Columns: 依頼人拠点コード, "
        "依頼人拠点名, 依頼人拠点名（略称）, 記録等事務代行者委託番号. CRLF, RFC 4180 quoting; a cell "
        "starting with = + - @ ' tab or CR gets a leading `'`."
    ),
)
async def download_locations(
    scope: CanExportLocations,
    query: Annotated[LocationDownloadQuery, Query()],
    service: ExportServiceDep,
) -> CsvStream:
    """The locations as CSV."""
    return _answer(await service.locations(scope, query, query.encoding))


@_download_route(
    "/exports/users",
    USERS,
    summary="Download users as CSV",
    description=(
        "各種ダウンロード: 依頼人ユーザー. The list's filters and what the caller sees; in login ID order. "
        "Columns: ログインID, ユーザー名, 依頼人拠点コード, 依頼人拠点名, 権限 (管理者, 拠点管理者, "
        "担当者（送信可）, 担当者（送信不可）), 最終ログイン日時 (Japan time, YYYY/MM/DD HH:MM)."
    ),
)
async def download_users(
    scope: CanExportUsers,
    query: Annotated[UserDownloadQuery, Query()],
    service: ExportServiceDep,
) -> CsvStream:
    """The users as CSV."""
    return _answer(await service.users(scope, query, query.encoding))


@_upload_route(
    "/imports/locations",
    summary="Upload locations as CSV",
    description=(
        "Each row creates the location with its code, or updates it; an empty 記録等事務代行者委託番号 "
        "clears it; locations absent from the file stay. All or nothing: any wrong row answers 422 "
        "listing every error, and nothing changes. A downloaded file uploaded again changes nothing."
    ),
)
async def upload_locations(
    scope: CanImportLocations, csv: UploadDep, service: ImportServiceDep, dry_run: DryRun = False
) -> ImportResult:
    """Create and update locations from a CSV file."""
    return await service.locations(scope, csv, dry_run)


@_upload_route(
    "/imports/users",
    summary="Upload users as CSV",
    description=(
        "Each row creates the user with its login ID, or updates name, location and role; an empty "
        "依頼人拠点コード means all locations (全拠点); 依頼人拠点名 and 最終ログイン日時 are ignored. Rows are "
        "allowed as the JSON API allows them (location admins: staff within their location; admins: no "
        "admin roles). New users get temporary passwords, answered here only. All or nothing."
    ),
)
async def upload_users(
    scope: CanImportUsers, csv: UploadDep, service: ImportServiceDep, dry_run: DryRun = False
) -> UserImportResult:
    """Create and update users from a CSV file."""
    return await service.users(scope, csv, dry_run)
