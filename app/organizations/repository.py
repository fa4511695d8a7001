"""All SQL about organizations."""

from sqlalchemy import or_, select

from app.core.filters import conditions, contains
from app.core.pagination import PageRequest
from app.core.repository import Repository
from app.core.text import normalize
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
        name_match = contains(Organization.name, name)
        statement = select(Organization).where(
            *conditions(
                Organization.id == only_id if only_id is not None else None,
                Organization.id == exact_id if exact_id is not None else None,
                or_(name_match, Organization.short_name.icontains(normalize(name), autoescape=True))
                if name_match is not None and name is not None
                else None,
            )
        )
        return await self.page(
            statement,
            order_by=page.order_by(SORTABLE, "id", Organization.id),
            limit=page.limit,
            offset=page.offset,
        )

    async def lock(self, organization_id: int) -> None:
        """Serialize changes that depend on the organization's whole state (its admins)."""
        await self.session.execute(
            select(Organization.id).where(Organization.id == organization_id).with_for_update()
        )
