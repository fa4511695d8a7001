"""All SQL about locations."""

from typing import Any

from sqlalchemy import Row, func, select

from app.core.filters import conditions, contains
from app.core.pagination import PageRequest
from app.core.repository import Repository
from app.locations.schemas import LocationFilters
from app.models import Location, User

SORTABLE = {
    "code": Location.code,
    "name": Location.name,
    "short_name": Location.short_name,
    "delegate_number": Location.delegate_number,
    "created_at": Location.created_at,
    "updated_at": Location.updated_at,
}


class LocationRepository(Repository[Location]):
    """Locations of one organization, confined to a location scope when one is given."""

    model = Location

    async def by_code(
        self, organization_id: int, code: str, scope_location_id: int | None = None
    ) -> Location | None:
        """The location with this code, if it is within the scope."""
        statement = select(Location).where(Location.organization_id == organization_id, Location.code == code)
        if scope_location_id is not None:
            statement = statement.where(Location.id == scope_location_id)
        return await self.one_or_none(statement)

    async def search(
        self, organization_id: int, scope_location_id: int | None, filters: LocationFilters, page: PageRequest
    ) -> tuple[list[Row[Any]], int]:
        """Locations matching the filters, within the scope, as plain rows.

        A Core select of the columns: the hottest list of the service (linked systems poll it)
        skips building ORM objects it would only read.
        """
        statement = select(*Location.__table__.c).where(
            Location.organization_id == organization_id,
            *conditions(
                Location.id == scope_location_id if scope_location_id is not None else None,
                contains(Location.code, filters.code),
                contains(Location.name, filters.name),
                contains(Location.short_name, filters.short_name),
                contains(Location.delegate_number, filters.delegate_number),
            ),
        )
        return await self.page_rows(
            statement,
            order_by=page.order_by(SORTABLE, "code", Location.id),
            limit=page.limit,
            offset=page.offset,
        )

    async def user_count(self, location_id: int) -> int:
        """How many users are assigned to the location."""
        return int(
            await self.session.scalar(select(func.count()).where(User.location_id == location_id)) or 0
        )
