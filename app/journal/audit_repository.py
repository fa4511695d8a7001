"""All SQL that reads the audit trail (writing is AuditTrail.record, append-only)."""

from collections.abc import Hashable
from functools import lru_cache

from sqlalchemy import bindparam, select

from app.db.filters import FilterSet
from app.db.repository import DEFERRED_JOIN_OFFSET, ListSelect, Repository
from app.http.pagination import PageRequest, ordering
from app.journal.audit_schemas import AuditFilters
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
        listed = _search_select(
            FILTERS.shape(filters),
            sort=page.sort_key(FILTERS.sortable, "-at"),
            deep=page.offset >= DEFERRED_JOIN_OFFSET,
        )
        params = {**FILTERS.parameters(filters), "organization_id": organization_id}
        rows, total = await self.page(listed, params, limit=page.limit, offset=page.offset)
        return [row[0] for row in rows], total


@lru_cache(maxsize=256)
def _search_select(shape: tuple[Hashable, ...], *, sort: str, deep: bool) -> ListSelect:
    """The audit search of one shape of filters (see FilterSet.shape)."""
    statement = select(AuditEvent).where(
        AuditEvent.organization_id == bindparam("organization_id"), *FILTERS.bound_conditions(shape)
    )
    order_by = ordering(FILTERS.sortable, sort, AuditEvent.id)
    return AuditEventRepository.listed(statement, order_by=order_by, deep=deep)
