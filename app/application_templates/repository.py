"""All SQL about application templates."""

import unicodedata
from dataclasses import dataclass

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import contains_eager

from app.application_templates.schemas import ApplicationTemplateFilters
from app.db.filters import NOTHING, NULL, FilterSet
from app.db.repository import DEFERRED_JOIN_OFFSET, Repository
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


@dataclass(frozen=True, slots=True)
class TemplateScope:
    """Which templates a caller sees: those of one organization; with a location, only that
    location's and the all-locations ones (SPEC §4). Every read and write takes one."""

    organization_id: int
    location_id: int | None


class ApplicationTemplateRepository(Repository[ApplicationTemplate]):
    """Templates of one organization, confined to what a caller sees (`TemplateScope`)."""

    model = ApplicationTemplate

    def _visible(self, scope: TemplateScope) -> Select[tuple[ApplicationTemplate]]:
        """The one visibility rule of templates, each with its location loaded."""
        statement = (
            select(ApplicationTemplate)
            .outerjoin(Location, Location.id == ApplicationTemplate.location_id)
            .options(contains_eager(ApplicationTemplate.location))
            .where(ApplicationTemplate.organization_id == scope.organization_id)
        )
        if scope.location_id is not None:
            statement = statement.where(
                or_(
                    ApplicationTemplate.location_id.is_(None),
                    ApplicationTemplate.location_id == scope.location_id,
                )
            )
        return statement

    async def by_id(self, scope: TemplateScope, id_: int) -> ApplicationTemplate | None:
        """The template with this id, if the scope sees it."""
        return await self.one_or_none(self._visible(scope).where(ApplicationTemplate.id == id_))

    async def reload(self, template: ApplicationTemplate) -> ApplicationTemplate:
        """A template read again after a write, with its (possibly new) location loaded."""
        statement = (
            select(ApplicationTemplate)
            .outerjoin(Location, Location.id == ApplicationTemplate.location_id)
            .options(contains_eager(ApplicationTemplate.location))
            .where(ApplicationTemplate.id == template.id)
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(statement)).scalar_one()

    async def search(
        self, scope: TemplateScope, filters: ApplicationTemplateFilters, page: PageRequest
    ) -> tuple[list[ApplicationTemplate], int]:
        """Visible templates matching the filters, with their locations."""
        values = {
            "location_code": await self._at_location(scope.organization_id, filters.location_code),
            "agent_designation_id": _designation(filters.agent_designation_id),
        }
        statement = self._visible(scope).where(*FILTERS.bound_conditions(FILTERS.shape(filters, **values)))
        order_by = ordering(FILTERS.sortable, page.sort_key(FILTERS.sortable, "name"), ApplicationTemplate.id)
        listed = self.listed(statement, order_by=order_by, deep=page.offset >= DEFERRED_JOIN_OFFSET)
        params = FILTERS.parameters(filters, **values)
        rows, total = await self.page(listed, params, limit=page.limit, offset=page.offset)
        return [row[0] for row in rows], total

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
        statement = select(ApplicationTemplate.id).where(
            ApplicationTemplate.organization_id == organization_id, ApplicationTemplate.name == name
        )
        if other_than is not None:
            statement = statement.where(ApplicationTemplate.id != other_than)
        return (await self.session.scalar(statement.limit(1))) is not None


def _designation(value: str | None) -> object:
    """What the `agent_designation_id` filter compares with: the row id of a 9-digit id, NOTHING
    for anything else (it names no designation), None: no filter."""
    if value is None:
        return None
    id_ = parse_public_id(value.strip())
    return NOTHING if id_ is None else id_
