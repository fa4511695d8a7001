"""All SQL about locations."""

from collections.abc import Collection, Hashable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Row, Select, Table, bindparam, func, select

from app.db.bulk import insert_rows, update_rows
from app.db.filters import FilterSet
from app.db.prepared import PreparedSelect
from app.db.repository import DEFERRED_JOIN_OFFSET, ListSelect, Repository
from app.http.pagination import PageRequest, ordering
from app.journal.feed import change_stamp
from app.locations.schemas import Location as LocationSchema
from app.locations.schemas import LocationFilters
from app.models import AgentDesignation, ApplicationTemplate, Location, User

# The filters and sort keys of the list, from LocationFilters.
FILTERS = FilterSet(LocationFilters, Location)
# What a list item shows, in the order of the Location schema's fields (see page_json).
LISTED = tuple(getattr(Location, name) for name in LocationSchema.model_fields)
# One location on the fast path: what it shows, then its id (for a change or a deletion).
ONE = (*LISTED, Location.id)
ONE_COLUMNS = tuple(column.key for column in ONE)
_TABLE = cast(Table, Location.__table__)
# Ids per IN list: far below any driver's limit of bound values.
IDS_PER_QUERY = 1000


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

    async def one(self, scope: LocationScope, code: str) -> Sequence[Any] | None:
        """The location with this code, if the scope sees it: its `ONE_COLUMNS`. A bound select
        built once, run as the list runs (app/db/prepared.py)."""
        return await _one_select(scope.location_id is not None).first(
            self.session, {**_params(scope), "code": code}
        )

    async def search(
        self, scope: LocationScope, filters: LocationFilters, page: PageRequest
    ) -> tuple[tuple[str, ...], Sequence[Sequence[Any]], int]:
        """Locations matching the filters, within the scope: (column names, rows, total).

        The hottest list of the service (linked systems poll it): a list select per shape of
        the request (which filters, which sort, scoped or not, deep or not), run with values.
        """
        forms, params = _filtered(scope, filters)
        listed, _ = _search_select(
            forms,
            scoped=scope.location_id is not None,
            sort=page.sort_key(FILTERS.sortable, "code"),
            deep=page.offset >= DEFERRED_JOIN_OFFSET,
        )
        rows, total = await self.page(listed, params, limit=page.limit, offset=page.offset)
        return listed.columns, rows, total

    async def user_count(self, location_id: int) -> int:
        """How many users are assigned to the location."""
        return int(
            await self.session.scalar(select(func.count()).where(User.location_id == location_id)) or 0
        )

    async def template_count(self, location_id: int) -> int:
        """How many application templates belong to the location."""
        return int(
            await self.session.scalar(
                select(func.count()).where(ApplicationTemplate.location_id == location_id)
            )
            or 0
        )

    async def designation_count(self, location_id: int) -> int:
        """How many designated agents (依頼先代理人) are for the location."""
        return int(
            await self.session.scalar(select(func.count()).where(AgentDesignation.location_id == location_id))
            or 0
        )

    # Bulk reads and writes of CSV downloads and uploads (app/locations/sheet.py).

    def export_select(
        self, scope: LocationScope, filters: LocationFilters, names: Sequence[str]
    ) -> tuple[Select[Any], dict[str, Any]]:
        """The list's select (same filters, same scope) of every matching location's columns of
        these names (a sheet's), in code order, with its bound values: for a download to stream."""
        forms, params = _filtered(scope, filters)
        _, statement = _search_select(forms, scoped=scope.location_id is not None, sort="code", deep=False)
        exported = statement.with_only_columns(*(getattr(Location, name) for name in names)).order_by(
            Location.code, Location.id
        )
        return exported, params

    async def by_codes(
        self, scope: LocationScope, codes: Collection[str], *, lock: bool
    ) -> dict[str, Row[Any]]:
        """The locations with these codes that the scope sees, by code: id and public columns.
        `lock`: FOR UPDATE, so that nobody changes them before this transaction ends.

        In two steps, each by a b-tree: the scope's codes and ids, then the wanted rows by id. A
        list of codes in one statement is planned on the code's trigram index, which PostgreSQL
        rates cheap and which takes seconds for 1,000 codes right after a bulk insert (its pending
        list is scanned once per code).
        """
        wanted = set(codes)
        if not wanted:
            return {}
        known = await self.session.execute(
            visible(select(Location.id, Location.code), scope.location_id is not None), _params(scope)
        )
        ids = sorted(id_ for id_, code in known if code in wanted)
        found: dict[str, Row[Any]] = {}
        for start in range(0, len(ids), IDS_PER_QUERY):
            statement = select(Location.id, *LISTED).where(
                Location.id.in_(ids[start : start + IDS_PER_QUERY])
            )
            if lock:
                # Locked in id order, as every upload locks them: two uploads of the same rows
                # queue up instead of deadlocking.
                statement = statement.order_by(Location.id).with_for_update()
            for row in await self.session.execute(statement):
                found[row.code] = row
        return found

    async def insert_many(self, values: Sequence[dict[str, Any]]) -> None:
        """Insert new locations (version 1) in one go."""
        await insert_rows(self.session, _TABLE, [{**row, "version": 1} for row in values])

    async def update_many(self, values: Sequence[dict[str, Any]]) -> None:
        """Set name, short name, commission number and updated_at of locations by id, bumping their
        versions: one statement for all. The rows must be locked by this transaction (by_codes)."""
        await update_rows(self.session, _TABLE, values, increments=("version",))


def _filtered(scope: LocationScope, filters: LocationFilters) -> tuple[tuple[Hashable, ...], dict[str, Any]]:
    """The shape of a filtered select (see FilterSet.shape) and its bound values."""
    return FILTERS.shape(filters), {**_params(scope), **FILTERS.parameters(filters)}


@lru_cache(maxsize=512)
def _search_select(
    shape: tuple[Hashable, ...], *, scoped: bool, sort: str, deep: bool
) -> tuple[ListSelect, Select[Any]]:
    """The location search of one shape of filters (see FilterSet.shape), stamped by the
    organization's change counter: every change of a location moves it (see `change_stamp`)."""
    statement = visible(select(*LISTED), scoped).where(*FILTERS.bound_conditions(shape))
    order_by = ordering(FILTERS.sortable, sort, Location.id)
    listed = LocationRepository.listed(statement, order_by=order_by, deep=deep, stamp=change_stamp())
    return listed, statement


@lru_cache(maxsize=2)
def _one_select(scoped: bool) -> PreparedSelect:
    """One location by code, within a scope."""
    return PreparedSelect(visible(select(*ONE), scoped).where(Location.code == bindparam("code")))
