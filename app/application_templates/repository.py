"""All SQL about application templates."""

import unicodedata
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, bindparam, or_, select

from app.application_templates.schemas import ApplicationTemplate as TemplateSchema
from app.application_templates.schemas import ApplicationTemplateFilters
from app.db.filters import NOTHING, NULL, FilterSet
from app.db.prepared import PreparedSelect
from app.db.repository import DEFERRED_JOIN_OFFSET, ListSelect, Repository
from app.http.ids import parse_public_id
from app.http.pagination import PageRequest, ordering
from app.models import ApplicationTemplate, Location

# The filters and sort keys of the template list; the location code is the joined one.
FILTERS = FilterSet(
    ApplicationTemplateFilters,
    ApplicationTemplate,
    columns={"location_code": ApplicationTemplate.location_id},
    sort_by={"location_code": Location.code},
)

# One template on the fast path: the ApplicationTemplate schema's fields (its location's code
# joined), then what its writes need: its location's id.
_JOINED = {"location_code": Location.code.label("location_code")}
SHOWN = (
    *(
        _JOINED[name] if name in _JOINED else getattr(ApplicationTemplate, name)
        for name in TemplateSchema.model_fields
    ),
    ApplicationTemplate.location_id,
)
SHOWN_COLUMNS = tuple(column.key for column in SHOWN)
# What an insert returns: the shown columns of the template's own table.
_OWN = tuple(column for column in SHOWN if column.key not in _JOINED)


@dataclass(frozen=True, slots=True)
class TemplateScope:
    """Which templates a caller sees: those of one organization; with a location, only that
    location's and the all-locations ones (SPEC §4). Every read and write takes one."""

    organization_id: int
    location_id: int | None


class ApplicationTemplateRepository(Repository[ApplicationTemplate]):
    """Templates of one organization, confined to what a caller sees (`TemplateScope`)."""

    model = ApplicationTemplate

    async def shown(self, scope: TemplateScope, id_: int) -> Sequence[Any] | None:
        """The template with this id, if the scope sees it: its `SHOWN_COLUMNS` (a bound select
        built once per shape, app/db/prepared.py)."""
        params = {**_scope_params(scope), "id": id_}
        return await _one_select(scope.location_id is not None).first(self.session, params)

    async def insert(self, values: dict[str, Any], location_code: str | None) -> Sequence[Any]:
        """Insert a new template (version 1) at the location with this code: its `SHOWN_COLUMNS`,
        written and read back in one statement."""
        returned = await self.insert_returning({**values, "version": 1}, _OWN)
        found = {
            **dict(zip((column.key for column in _OWN), returned, strict=True)),
            "location_code": location_code,
        }
        return [found[name] for name in SHOWN_COLUMNS]

    async def search(
        self, scope: TemplateScope, filters: ApplicationTemplateFilters, page: PageRequest
    ) -> tuple[tuple[str, ...], Sequence[Sequence[Any]], int]:
        """Visible templates matching the filters, as the single read selects them
        (`SHOWN_COLUMNS`, their locations' codes joined): (column names, rows, total)."""
        values = {
            "location_code": await self._at_location(scope.organization_id, filters.location_code),
            "agent_designation_id": _designation(filters.agent_designation_id),
        }
        listed = _search_select(
            FILTERS.shape(filters, **values),
            scoped=scope.location_id is not None,
            sort=page.sort_key(FILTERS.sortable, "name"),
            deep=page.offset >= DEFERRED_JOIN_OFFSET,
        )
        params = {**_scope_params(scope), **FILTERS.parameters(filters, **values)}
        rows, total = await self.page(listed, params, limit=page.limit, offset=page.offset)
        return listed.columns, rows, total

    async def _at_location(self, organization_id: int, code: str | None) -> object:
        """What the `location_code` filter compares a template's location id with: the id of the
        location with exactly this code (ＴＫＹ００１ is TKY001), NULL for an empty code (the
        all-locations templates, 全拠点), NOTHING for an unknown code, None: no filter."""
        if code is None:
            return None
        if not code:
            return NULL
        location_id = await self.session.scalar(
            select(Location.id).where(
                Location.organization_id == organization_id,
                Location.code == unicodedata.normalize("NFKC", code),
            )
        )
        return NOTHING if location_id is None else location_id

    async def name_taken(self, organization_id: int, name: str, *, other_than: int | None = None) -> bool:
        """Whether another template of the organization has this name."""
        params = {"organization_id": organization_id, "name": name, "other_than": other_than}
        return await _name_select(other_than is not None).first(self.session, params) is not None


def _designation(value: str | None) -> object:
    """What the `agent_designation_id` filter compares with: the row id of a 9-digit id, NOTHING
    for anything else (it names no designation), None: no filter."""
    if value is None:
        return None
    id_ = parse_public_id(value.strip())
    return NOTHING if id_ is None else id_


def _scope_params(scope: TemplateScope) -> dict[str, Any]:
    return {"organization_id": scope.organization_id, "scope_location_id": scope.location_id}


def _visible(scoped: bool) -> Select[Any]:
    """The one visibility rule of templates: the `SHOWN` of those a scope sees (with their
    locations' codes), over the bound values of `_scope_params`."""
    statement = (
        select(*SHOWN)
        .outerjoin(Location, Location.id == ApplicationTemplate.location_id)
        .where(ApplicationTemplate.organization_id == bindparam("organization_id"))
    )
    if scoped:
        statement = statement.where(
            or_(
                ApplicationTemplate.location_id.is_(None),
                ApplicationTemplate.location_id == bindparam("scope_location_id"),
            )
        )
    return statement


@lru_cache(maxsize=2)
def _one_select(scoped: bool) -> PreparedSelect:
    """One template by id, within a scope."""
    return PreparedSelect(_visible(scoped).where(ApplicationTemplate.id == bindparam("id")))


@lru_cache(maxsize=512)
def _search_select(shape: tuple[Hashable, ...], *, scoped: bool, sort: str, deep: bool) -> ListSelect:
    """The template search of one shape of filters (see FilterSet.shape), within a scope."""
    statement = _visible(scoped).where(*FILTERS.bound_conditions(shape))
    order_by = ordering(FILTERS.sortable, sort, ApplicationTemplate.id)
    return ApplicationTemplateRepository.listed(statement, order_by=order_by, deep=deep)


@lru_cache(maxsize=2)
def _name_select(other: bool) -> PreparedSelect:
    """A template of an organization with a name (other than one)."""
    statement = select(ApplicationTemplate.id).where(
        ApplicationTemplate.organization_id == bindparam("organization_id"),
        ApplicationTemplate.name == bindparam("name"),
    )
    if other:
        statement = statement.where(ApplicationTemplate.id != bindparam("other_than"))
    return PreparedSelect(statement.limit(1))
