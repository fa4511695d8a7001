"""All SQL that reads the audit trail (writing is AuditTrail.record, append-only)."""

from collections.abc import Hashable, Sequence
from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from sqlalchemy import bindparam, select

from app.db.filters import FilterSet
from app.db.repository import DEFERRED_JOIN_OFFSET, ListSelect, Repository
from app.http.pagination import PageRequest, ordering
from app.http.resource import NESTED
from app.journal.audit_schemas import AuditEvent as EventSchema
from app.journal.audit_schemas import AuditFilters
from app.models import AuditEvent

# The filters and sort keys of the audit trail, from AuditFilters.
FILTERS = FilterSet(AuditFilters, AuditEvent)


def _shown(name: str) -> tuple[Any, ...]:
    """The columns of one field of the AuditEvent schema: its own, or for a nested one (`actor`,
    `resource`) its members' (`actor_kind`, ...) labelled `field__member` (app/http/resource.py)."""
    nested = EventSchema.model_fields[name].annotation
    if isinstance(nested, type) and issubclass(nested, BaseModel):
        return tuple(
            getattr(AuditEvent, f"{name}_{member}").label(f"{name}{NESTED}{member}")
            for member in nested.model_fields
        )
    return (getattr(AuditEvent, name),)


# What an event shows: the AuditEvent schema's fields, in their order.
SHOWN = tuple(column for name in EventSchema.model_fields for column in _shown(name))


class AuditEventRepository(Repository[AuditEvent]):
    """Audit events of one organization."""

    model = AuditEvent

    async def search(
        self, organization_id: int, filters: AuditFilters, page: PageRequest
    ) -> tuple[tuple[str, ...], Sequence[Sequence[Any]], int]:
        """Events matching the filters, newest first by default, as they show (`SHOWN`):
        (column names, rows, total)."""
        listed = _search_select(
            FILTERS.shape(filters),
            sort=page.sort_key(FILTERS.sortable, "-at"),
            deep=page.offset >= DEFERRED_JOIN_OFFSET,
        )
        params = {**FILTERS.parameters(filters), "organization_id": organization_id}
        rows, total = await self.page(listed, params, limit=page.limit, offset=page.offset)
        return listed.columns, rows, total


@lru_cache(maxsize=256)
def _search_select(shape: tuple[Hashable, ...], *, sort: str, deep: bool) -> ListSelect:
    """The audit search of one shape of filters (see FilterSet.shape)."""
    statement = select(*SHOWN).where(
        AuditEvent.organization_id == bindparam("organization_id"), *FILTERS.bound_conditions(shape)
    )
    order_by = ordering(FILTERS.sortable, sort, AuditEvent.id)
    return AuditEventRepository.listed(statement, order_by=order_by, deep=deep)
