"""Reading the audit trail (writing is AuditTrail.record in service.py, append-only)."""

from typing import Annotated

from fastapi import Depends

from app.audit_events.repository import AuditEventRepository
from app.audit_events.schemas import AuditEvent, AuditFilters
from app.auth.dependencies import OrganizationScope
from app.http.pagination import Page, PageRequest
from app.journal.unit_of_work import Service, provide


class AuditReader(Service):
    """Searches one organization's audit trail."""

    async def search(
        self, scope: OrganizationScope, filters: AuditFilters, page: PageRequest
    ) -> Page[AuditEvent]:
        """監査ログ: the organization's events matching the filters."""
        rows, total = await AuditEventRepository(self.session).search(scope.organization_id, filters, page)
        return Page(
            items=[AuditEvent.model_validate(row) for row in rows],
            total=total,
            limit=page.limit,
            offset=page.offset,
        )


AuditReaderDep = Annotated[AuditReader, Depends(provide(AuditReader))]
