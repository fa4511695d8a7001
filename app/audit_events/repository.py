"""All SQL that reads the audit trail (writing is AuditTrail.record, append-only)."""

from sqlalchemy import select

from app.audit_events.schemas import AuditFilters
from app.core.filters import conditions, contains, contains_lowercase
from app.core.pagination import PageRequest
from app.core.repository import Repository
from app.models import AuditEvent

SORTABLE = {"at": AuditEvent.at, "action": AuditEvent.action}


class AuditEventRepository(Repository[AuditEvent]):
    """Audit events of one organization."""

    model = AuditEvent

    async def search(
        self, organization_id: int, filters: AuditFilters, page: PageRequest
    ) -> tuple[list[AuditEvent], int]:
        """Events matching the filters, newest first by default."""
        statement = select(AuditEvent).where(
            AuditEvent.organization_id == organization_id,
            *conditions(
                contains_lowercase(AuditEvent.action, filters.action),
                contains(AuditEvent.actor_id, filters.actor),
                AuditEvent.resource_type == filters.resource_type if filters.resource_type else None,
                AuditEvent.at >= filters.since if filters.since else None,
                AuditEvent.at < filters.until if filters.until else None,
            ),
        )
        return await self.page(
            statement,
            order_by=page.order_by(SORTABLE, "-at", AuditEvent.id),
            limit=page.limit,
            offset=page.offset,
        )
