"""All SQL about organizations."""

from sqlalchemy import select

from app.core.filters import conditions, contains_any
from app.core.pagination import PageRequest
from app.core.repository import Repository
from app.models import Organization

SORTABLE = {
    "id": Organization.id,
    "name": Organization.name,
    "short_name": Organization.short_name,
    "created_at": Organization.created_at,
}


class OrganizationRepository(Repository[Organization]):
    """Organizations."""

    model = Organization

    async def search(
        self, *, only_id: int | None, exact_id: int | None, name: str | None, page: PageRequest
    ) -> tuple[list[Organization], int]:
        """Organizations matching the filters; `only_id` confines the search to one organization."""
        statement = select(Organization).where(
            *conditions(
                Organization.id == only_id if only_id is not None else None,
                Organization.id == exact_id if exact_id is not None else None,
                contains_any([Organization.name, Organization.short_name], name),
            )
        )
        return await self.page(
            statement,
            order_by=page.order_by(SORTABLE, "id", Organization.id),
            limit=page.limit,
            offset=page.offset,
        )
