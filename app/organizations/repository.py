"""All SQL about organizations."""

from collections.abc import Hashable, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, select

from app.db.filters import FilterSet
from app.db.repository import DEFERRED_JOIN_OFFSET, ListSelect, Repository
from app.http.pagination import PageRequest, ordering
from app.models import Organization
from app.organizations.schemas import Organization as OrganizationSchema
from app.organizations.schemas import OrganizationFilters

# The filters and sort keys of the organization list, from OrganizationFilters.
FILTERS = FilterSet(OrganizationFilters, Organization)
# An organization's public fields, in the order of the Organization schema's: what the list
# selects, and the leading columns of its row on the fast path (StoredRow).
SHOWN = tuple(getattr(Organization, name) for name in OrganizationSchema.model_fields)
SHOWN_COLUMNS = tuple(OrganizationSchema.model_fields)


class OrganizationRepository(Repository[Organization]):
    """Organizations."""

    model = Organization

    async def search(
        self, *, only_id: int | None, exact_id: int | None, filters: OrganizationFilters, page: PageRequest
    ) -> tuple[tuple[str, ...], Sequence[Sequence[Any]], int]:
        """Organizations matching the filters, as they show (`SHOWN_COLUMNS`): (column names,
        rows, total). `only_id` confines the search to one organization.

        `exact_id` is the `id` filter as a row id (the public id is 9 digits).
        """
        listed = _search_select(
            FILTERS.shape(filters, id=exact_id),
            only=only_id is not None,
            sort=page.sort_key(FILTERS.sortable, "id"),
            deep=page.offset >= DEFERRED_JOIN_OFFSET,
        )
        params = {**FILTERS.parameters(filters, id=exact_id), "only_id": only_id}
        rows, total = await self.page(listed, params, limit=page.limit, offset=page.offset)
        return listed.columns, rows, total


@lru_cache(maxsize=256)
def _search_select(shape: tuple[Hashable, ...], *, only: bool, sort: str, deep: bool) -> ListSelect:
    """The organization search of one shape of filters (see FilterSet.shape)."""
    statement = select(*SHOWN).where(*FILTERS.bound_conditions(shape))
    if only:
        statement = statement.where(Organization.id == bindparam("only_id"))
    order_by = ordering(FILTERS.sortable, sort, Organization.id)
    return OrganizationRepository.listed(statement, order_by=order_by, deep=deep)
