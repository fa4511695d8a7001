"""Reading the audit trail (writing is AuditTrail.record in service.py, append-only)."""

from typing import Annotated

from fastapi import Depends

from app.audit.unit_of_work import Service, provide
from app.audit_events.repository import AuditEventRepository
from app.audit_events.schemas import AuditActor, AuditEvent, AuditFilters, AuditResource
from app.auth.dependencies import OrganizationScope
from app.core.pagination import Page, PageRequest
from app.models import AuditEvent as AuditEventRow


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


class AuditReader(Service):
    """Searches one organization's audit trail."""

    async def search(
        self, scope: OrganizationScope, filters: AuditFilters, page: PageRequest
    ) -> Page[AuditEvent]:
        """監査ログ: the organization's events matching the filters."""
        rows, total = await AuditEventRepository(self.session).search(scope.organization_id, filters, page)
        return Page(items=[to_schema(row) for row in rows], total=total, limit=page.limit, offset=page.offset)


AuditReaderDep = Annotated[AuditReader, Depends(provide(AuditReader))]
