"""All SQL about locations."""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, func, insert, select

from app.core.filters import matches, needle
from app.core.pagination import PageRequest
from app.core.prepared import PreparedSelect
from app.core.repository import DEFERRED_JOIN_OFFSET, Repository
from app.locations.schemas import Location as LocationSchema
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
FILTERS = ("code", "name", "short_name", "delegate_number")
# What a list item shows, in the order of the Location schema's fields (see page_json).
LISTED = tuple(getattr(Location, name) for name in LocationSchema.model_fields)
_INSERT = insert(cast(Table, Location.__table__)).returning(*LISTED)


@dataclass(frozen=True, slots=True)
class LocationScope:
    """Which locations a caller sees: those of one organization, or only its own location there.

    Every read and write of locations takes one; there is no default that means "everything".
    """

    organization_id: int
    location_id: int | None


def visible(statement: Select[Any], scoped: bool) -> Select[Any]:
    """The one visibility rule of locations, over the bound values `organization_id` and
    `scope_location_id` (see `LocationScope.params`)."""
    statement = statement.where(Location.organization_id == bindparam("organization_id"))
    if scoped:
        statement = statement.where(Location.id == bindparam("scope_location_id"))
    return statement


def _params(scope: LocationScope) -> dict[str, Any]:
    return {"organization_id": scope.organization_id, "scope_location_id": scope.location_id}


class LocationRepository(Repository[Location]):
    """Locations of one organization, confined to what a caller sees (`LocationScope`)."""

    model = Location

    async def by_code(self, scope: LocationScope, code: str) -> Location | None:
        """The location with this code, if the scope sees it."""
        statement = visible(select(Location), scope.location_id is not None).where(Location.code == code)
        return (await self.session.execute(statement, _params(scope))).scalar_one_or_none()

    async def search(
        self, scope: LocationScope, filters: LocationFilters, page: PageRequest
    ) -> tuple[tuple[str, ...], Sequence[Sequence[Any]], int]:
        """Locations matching the filters, within the scope: (column names, rows, total).

        The hottest list of the service (linked systems poll it): a PreparedSelect per shape
        of the request (which filters, which sort, scoped or not, deep or not), run with values.
        """
        needles = {name: needle(getattr(filters, name)) for name in FILTERS}
        prepared, statement = _search_select(
            tuple(found.indexed if found else None for found in needles.values()),
            scoped=scope.location_id is not None,
            sort=page.sort_key(SORTABLE, "code"),
            deep=page.offset >= DEFERRED_JOIN_OFFSET,
        )
        params = _params(scope)
        params.update((name, found.pattern) for name, found in needles.items() if found is not None)
        rows, total = await self.page_prepared(
            prepared, statement, params, limit=page.limit, offset=page.offset
        )
        return prepared.columns, rows, total

    async def insert(self, values: dict[str, Any]) -> LocationSchema:
        """Insert a new location (version 1) and read it back, in one statement.

        A Core INSERT built once: nothing of the ORM's unit of work is needed to add one row.
        """
        row = (await self.session.execute(_INSERT, {**values, "version": 1})).one()
        return LocationSchema.model_validate(row._mapping)

    async def user_count(self, location_id: int) -> int:
        """How many users are assigned to the location."""
        return int(
            await self.session.scalar(select(func.count()).where(User.location_id == location_id)) or 0
        )


@lru_cache(maxsize=512)
def _search_select(
    needle_forms: tuple[bool | None, ...], *, scoped: bool, sort: str, deep: bool
) -> tuple[PreparedSelect, Select[Any]]:
    """The location search of one shape: each filter absent (None) or its needle's form."""
    statement = visible(select(*LISTED), scoped)
    for name, indexed in zip(FILTERS, needle_forms, strict=True):
        if indexed is not None:
            statement = statement.where(matches(getattr(Location, name), bindparam(name), indexed))
    order_by = PageRequest(0, 0, sort).order_by(SORTABLE, "code", Location.id)
    return PreparedSelect(LocationRepository.paged(statement, order_by=order_by, deep=deep)), statement
