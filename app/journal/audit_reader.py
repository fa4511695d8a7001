"""Reading the audit trail (writing is AuditTrail.record in audit_trail.py, append-only).

The caller's organization comes from its router (app/audit_events/router.py), which checked the
permission: nothing here knows who is asking."""

from typing import Annotated

from fastapi import Depends

from app.http.pagination import PageRequest
from app.http.resource import rows_page_json
from app.journal.audit_repository import AuditEventRepository
from app.journal.audit_schemas import AuditEvent, AuditFilters
from app.journal.context import RequestContext, provide


class AuditReader:
    """Searches one organization's audit trail."""

    def __init__(self, context: RequestContext) -> None:
        self.context = context

    async def search(self, organization_id: int, filters: AuditFilters, page: PageRequest) -> bytes:
        """監査ログ: the organization's events matching the filters, as the JSON of
        `Page[AuditEvent]` (rows straight to JSON)."""
        found = await AuditEventRepository(self.context.session).search(organization_id, filters, page)
        return rows_page_json(AuditEvent, *found, page)


AuditReaderDep = Annotated[AuditReader, Depends(provide(AuditReader))]
