"""All SQL about organizations."""

from collections.abc import Hashable
from functools import lru_cache

from sqlalchemy import bindparam, select

from app.db.filters import FilterSet
from app.db.repository import DEFERRED_JOIN_OFFSET, ListSelect, Repository
from app.http.pagination import PageRequest, ordering
from app.models import Organization
from app.organizations.schemas import OrganizationFilters

# The filters and sort keys of the organization list, from OrganizationFilters.
FILTERS = FilterSet(OrganizationFilters, Organization)


class OrganizationRepository(Repository[Organization]):
    """Organizations."""

    model = Organization

    async def search(
        self, *, only_id: int | None, exact_id: int | None, filters: OrganizationFilters, page: PageRequest
    ) -> tuple[list[Organization], int]:
        """Organizations matching the filters; `only_id` confines the search to one organization.

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
        return [row[0] for row in rows], total


@lru_cache(maxsize=256)
def _search_select(shape: tuple[Hashable, ...], *, only: bool, sort: str, deep: bool) -> ListSelect:
    """The organization search of one shape of filters (see FilterSet.shape)."""
    statement = select(Organization).where(*FILTERS.bound_conditions(shape))
    if only:
        statement = statement.where(Organization.id == bindparam("only_id"))
    order_by = ordering(FILTERS.sortable, sort, Organization.id)
    return OrganizationRepository.listed(statement, order_by=order_by, deep=deep)
