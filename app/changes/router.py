"""/organizations/{org_id}/changes: the change feed (SPEC §5.5)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from app.auth.dependencies import OrganizationScope, organization_scope
from app.auth.permissions import Permission, visible_changes
from app.http.errors import Gone, ProblemError, Unprocessable
from app.http.openapi import problems
from app.http.routing import ApiRoute
from app.journal.feed_reader import ChangeFeedServiceDep, ChangeListenerDep
from app.journal.feed_schemas import ChangeFeed, ChangeQuery

router = APIRouter(
    prefix="/organizations/{org_id}/changes", tags=["変更履歴 (change feed)"], route_class=ApiRoute
)

CanRead = Annotated[OrganizationScope, Depends(organization_scope(Permission.CHANGE_READ))]


@router.get(
    "",
    response_model=ChangeFeed,
    summary="変更履歴",
    description=(
        "Every committed change of the organization, its locations and (admins and "
        "operators) its users, exactly once and in commit order. Without `after`: no items and "
        "the current position as `next_cursor`; take it, list what you need, then follow from it. "
        "With `wait`, an answer with nothing new waits up to that many seconds for a change. "
        "400 `invalid_cursor` for a cursor not issued for this organization; 410 `cursor_expired` "
        "when the changes after it are past the retention period."
    ),
    responses=problems(
        ProblemError("invalid_cursor"),
        Gone("cursor_expired", context={"days": 30}),
        401,
        403,
        404,
        Unprocessable("validation_failed"),
    ),
)
async def list_changes(
    scope: CanRead,
    query: Annotated[ChangeQuery, Query()],
    service: ChangeFeedServiceDep,
    listener: ChangeListenerDep,
) -> Response:
    """Changes after the cursor (JSON straight from the stored entries)."""
    feed = await service.read(scope.organization_id, visible_changes(scope.principal), query, listener)
    return Response(feed, media_type="application/json")
