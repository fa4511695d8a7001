"""All SQL about organizations."""

from sqlalchemy import select

from app.db.filters import FilterSet, conditions
from app.db.repository import Repository
from app.http.pagination import PageRequest
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
        statement = select(Organization).where(
            *conditions(Organization.id == only_id if only_id is not None else None),
            *FILTERS.conditions(filters, id=Organization.id == exact_id if exact_id is not None else None),
        )
        return await self.page(
            statement,
            order_by=page.order_by(FILTERS.sortable, "id", Organization.id),
            limit=page.limit,
            offset=page.offset,
        )
