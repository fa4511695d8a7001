"""/organizations/{org_id}/exports/locations and /imports/locations: locations as CSV (SPEC §5.6),
thin handlers over LocationService with the sheet of app/locations/sheet.py."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.auth.dependencies import OrganizationScope, organization_scope
from app.auth.permissions import Permission
from app.csv.download import CsvStream, answer
from app.csv.routes import TAG, UPLOAD_PROBLEMS, DryRun, UploadDep, download_responses, upload_body
from app.csv.schemas import ImportResult
from app.idempotency.routing import ResourceRoute
from app.locations.service import LocationServiceDep
from app.locations.sheet import LOCATIONS, LocationDownloadQuery

router = APIRouter(prefix="/organizations/{org_id}", tags=[TAG], route_class=ResourceRoute)

CanExport = Annotated[OrganizationScope, Depends(organization_scope(Permission.LOCATION_EXPORT))]
CanImport = Annotated[OrganizationScope, Depends(organization_scope(Permission.LOCATION_IMPORT))]


@router.get(
    "/exports/locations",
    summary="Download locations as CSV",
    description=(
        "各種ダウンロード: 依頼人拠点. The list's filters and scope; in code order. Columns: 依頼人拠点コード, "
        "依頼人拠点名, 依頼人拠点名（略称）, 記録等事務代行者委託番号. CRLF, RFC 4180 quoting; a cell "
        "starting with = + - @ ' tab or CR gets a leading `'`."
    ),
    response_class=CsvStream,
    responses=download_responses(LOCATIONS),
)
async def download_locations(
    scope: CanExport, query: Annotated[LocationDownloadQuery, Query()], service: LocationServiceDep
) -> CsvStream:
    """The locations as CSV."""
    return answer(await service.download(scope, query, query.encoding))


@router.post(
    "/imports/locations",
    summary="Upload locations as CSV",
    description=(
        "Each row creates the location with its code, or updates it; an empty 記録等事務代行者委託番号 "
        "clears it; locations absent from the file stay. All or nothing: any wrong row answers 422 "
        "listing every error, and nothing changes. A downloaded file uploaded again changes nothing."
    ),
    openapi_extra=upload_body(
        LOCATIONS,
        {"code": "TKY001", "name": "東京本店", "short_name": "東京本店", "delegate_number": "1234567"},
    ),
    responses=UPLOAD_PROBLEMS,
    response_model_exclude_none=True,
)
async def upload_locations(
    scope: CanImport, csv: UploadDep, service: LocationServiceDep, dry_run: DryRun = False
) -> ImportResult:
    """Create and update locations from a CSV file."""
    return await service.upload(scope, csv, dry_run)
