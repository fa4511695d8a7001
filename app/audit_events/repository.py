"""All SQL that reads the audit trail (writing is AuditTrail.record, append-only)."""

from sqlalchemy import select

from app.audit_events.schemas import AuditFilters
from app.db.filters import FilterSet, contains_lowercase
from app.db.repository import Repository
from app.http.pagination import PageRequest
from app.models import AuditEvent

# The filters and sort keys of the audit trail, from AuditFilters.
FILTERS = FilterSet(AuditFilters, AuditEvent)


class AuditEventRepository(Repository[AuditEvent]):
    """Audit events of one organization."""

    model = AuditEvent

    async def search(
        self, organization_id: int, filters: AuditFilters, page: PageRequest
    ) -> tuple[list[AuditEvent], int]:
        """Events matching the filters, newest first by default."""
        statement = select(AuditEvent).where(
            AuditEvent.organization_id == organization_id,
            *FILTERS.conditions(filters, action=contains_lowercase(AuditEvent.action, filters.action)),
        )
        return await self.page(
            statement,
            order_by=page.order_by(FILTERS.sortable, "-at", AuditEvent.id),
            limit=page.limit,
            offset=page.offset,
        )
