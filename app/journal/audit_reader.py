"""Reading the audit trail (writing is AuditTrail.record in audit_trail.py, append-only).

The caller's organization comes from its router (app/audit_events/router.py), which checked the
permission: nothing here knows who is asking."""

from typing import Annotated

from fastapi import Depends

from app.http.pagination import Page, PageRequest
from app.journal.audit_repository import AuditEventRepository
from app.journal.audit_schemas import AuditEvent, AuditFilters
from app.journal.context import RequestContext, provide


class AuditReader:
    """Searches one organization's audit trail."""

    def __init__(self, context: RequestContext) -> None:
        self.context = context

    async def search(
        self, organization_id: int, filters: AuditFilters, page: PageRequest
    ) -> Page[AuditEvent]:
        """監査ログ: the organization's events matching the filters."""
        rows, total = await AuditEventRepository(self.context.session).search(organization_id, filters, page)
        return Page(
            items=[AuditEvent.model_validate(row) for row in rows],
            total=total,
            limit=page.limit,
            offset=page.offset,
        )


AuditReaderDep = Annotated[AuditReader, Depends(provide(AuditReader))]
