"""/organizations/{org_id}/changes: the change feed (SPEC §5.5)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from app.auth.dependencies import OrganizationScope, organization_scope
from app.auth.permissions import Permission, visible_changes
from app.config.settings import Settings
from app.http.disconnect import client_gone
from app.http.errors import Gone, ProblemError, TooManyRequests, Unprocessable
from app.http.openapi import problems
from app.http.routing import ApiRoute
from app.journal.feed_reader import WAITING_RETRY_SECONDS, ChangeFeedServiceDep, ChangeListenerDep
from app.journal.feed_schemas import ChangeFeed, ChangeQuery

router = APIRouter(
    prefix="/organizations/{org_id}/changes", tags=["変更履歴 (change feed)"], route_class=ApiRoute
)

CanRead = Annotated[OrganizationScope, Depends(organization_scope(Permission.CHANGE_READ))]
WAITING_PER_PRINCIPAL: int = Settings.model_fields["long_polls_per_principal"].default

RESPONSES = problems(
    ProblemError("invalid_cursor"),
    Gone("cursor_expired", context={"days": 30}),
    TooManyRequests(WAITING_RETRY_SECONDS, "too_many_long_polls", context={"limit": WAITING_PER_PRINCIPAL}),
    401,
    403,
    404,
    Unprocessable("validation_failed"),
)
RESPONSES[429]["description"] = (
    "Too many attempts, or too many waiting requests of this caller; see Retry-After"
)


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
        "when the changes after it are past the retention period. A caller (a user or an API key) "
        f"may have {WAITING_PER_PRINCIPAL} requests waiting at once on one server (by default: "
        "`AINAS_LONG_POLLS_PER_PRINCIPAL`); one more answers 429 `too_many_long_polls` with Retry-After."
    ),
    responses=RESPONSES,
)
async def list_changes(
    scope: CanRead,
    query: Annotated[ChangeQuery, Query()],
    service: ChangeFeedServiceDep,
    listener: ChangeListenerDep,
    request: Request,
) -> Response:
    """Changes after the cursor (JSON straight from the stored entries)."""
    principal = scope.principal
    feed = await service.read(
        scope.organization_id,
        visible_changes(principal),
        query,
        listener,
        caller=principal.subject,
        gone=lambda: client_gone(request),
    )
    return Response(feed, media_type="application/json")
