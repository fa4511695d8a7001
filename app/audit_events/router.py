"""/organizations/{org_id}/audit-events: read-only; events are never changed or deleted."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from app.auth.dependencies import OrganizationScope, organization_scope
from app.auth.permissions import Permission
from app.http.openapi import problems
from app.http.pagination import Page
from app.http.resource import JSON
from app.http.routing import ApiRoute
from app.journal.audit_reader import AuditReaderDep
from app.journal.audit_schemas import AuditEvent, AuditQuery

router = APIRouter(
    prefix="/organizations/{org_id}/audit-events", tags=["監査ログ (audit events)"], route_class=ApiRoute
)

CanRead = Annotated[OrganizationScope, Depends(organization_scope(Permission.AUDIT_READ))]


@router.get(
    "",
    summary="監査ログ",
    description="Every change and security event of the organization, newest first.",
    response_model=Page[AuditEvent],
    responses=problems(),
)
async def list_audit_events(
    scope: CanRead, reader: AuditReaderDep, query: Annotated[AuditQuery, Query()]
) -> Response:
    """Search the organization's audit trail (JSON straight from the rows)."""
    return Response(await reader.search(scope.organization_id, query, query.page()), media_type=JSON)
