"""/organizations/{org_id}/exports/locations and /imports/locations: locations as CSV (SPEC §5.6),
thin handlers over LocationService with the sheet of app/locations/sheet.py."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.auth.dependencies import OrganizationScope, organization_scope
from app.auth.permissions import Permission
from app.csv.download import CsvStream, answer
from app.csv.routes import TAG, DryRun, UploadDep, download_responses, upload_body, upload_responses
from app.csv.schemas import ImportResult
from app.idempotency.routing import ResourceRoute
from app.locations.service import LocationServiceDep
from app.locations.sheet import LOCATIONS, LocationDownloadQuery

router = APIRouter(prefix="/organizations/{org_id}", tags=[TAG], route_class=ResourceRoute)

CanExport = Annotated[OrganizationScope, Depends(organization_scope(Permission.LOCATION_EXPORT))]
CanImport = Annotated[OrganizationScope, Depends(organization_scope(Permission.LOCATION_IMPORT))]


# A row of the OpenAPI document's examples (by JSON name): the file an upload shows, and the row its
# documented errors are of.
_EXAMPLE = {"code": "TKY001", "name": "東京本店", "short_name": "東京本店", "delegate_number": "1234567"}


@router.get(
    "/exports/locations",
    summary="依頼人拠点のダウンロード",
    description=(
        "The list's filters and scope; in code order. Columns: "
        + ", ".join(f"`{label}`" for label in LOCATIONS.header)
        + ". CRLF, RFC 4180 quoting; a cell starting with = + - @ ' tab or CR gets a leading `'`."
    ),
    response_class=CsvStream,
    responses=download_responses(LOCATIONS, _EXAMPLE),
)
async def download_locations(
    scope: CanExport, query: Annotated[LocationDownloadQuery, Query()], service: LocationServiceDep
) -> CsvStream:
    """The locations as CSV."""
    return answer(await service.download(scope, query, query.encoding))


@router.post(
    "/imports/locations",
    summary="依頼人拠点のアップロード",
    description=(
        "Each row creates the location with its code, or updates it; an empty commission number clears "
        "it; locations absent from the file stay. All or nothing: any wrong row answers 422 listing every "
        "error, and nothing changes. A downloaded file uploaded again changes nothing."
    ),
    openapi_extra=upload_body(LOCATIONS, _EXAMPLE),
    responses=upload_responses(LOCATIONS, _EXAMPLE, {"name": "ｶﾞﾚｰｼﾞ"}),
    response_model_exclude_none=True,
)
async def upload_locations(
    scope: CanImport, csv: UploadDep, service: LocationServiceDep, dry_run: DryRun = False
) -> ImportResult:
    """Create and update locations from a CSV file."""
    return await service.upload(scope, csv, dry_run)
