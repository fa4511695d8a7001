"""/organizations/{org_id}/audit-events: read-only; events are never changed or deleted."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.audit.repository import AuditEventRepository
from app.audit.schemas import AuditActor, AuditEvent, AuditFilters, AuditResource
from app.auth.dependencies import OrganizationScope, organization_scope
from app.auth.permissions import Permission
from app.core.db import SessionDep
from app.core.openapi import problems
from app.core.pagination import Page, PageDep
from app.core.routing import ApiRoute
from app.models import AuditEvent as AuditEventRow

router = APIRouter(
    prefix="/organizations/{org_id}/audit-events", tags=["監査ログ (audit events)"], route_class=ApiRoute
)

CanRead = Annotated[OrganizationScope, Depends(organization_scope(Permission.AUDIT_READ))]


def to_schema(event: AuditEventRow) -> AuditEvent:
    """The public form of an event."""
    return AuditEvent(
        id=str(event.id),
        at=event.at,
        actor=AuditActor(kind=event.actor_kind, id=event.actor_id),
        action=event.action,
        resource=AuditResource(type=event.resource_type, id=event.resource_id),
        changes=event.changes,
        request_id=event.request_id,
        client_ip=event.client_ip,
    )


@router.get(
    "",
    summary="List audit events",
    description="監査ログ. Every change and security event of the organization, newest first.",
    responses=problems(401, 403, 404, 422),
)
async def list_audit_events(
    scope: CanRead, session: SessionDep, page: PageDep, filters: Annotated[AuditFilters, Query()]
) -> Page[AuditEvent]:
    """Search the organization's audit trail."""
    rows, total = await AuditEventRepository(session).search(scope.organization_id, filters, page)
    return Page(items=[to_schema(row) for row in rows], total=total, limit=page.limit, offset=page.offset)
