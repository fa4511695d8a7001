"""All SQL about agents, designations and their defaults."""

import unicodedata
from collections.abc import Hashable, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    bindparam,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)

from app.agents.schemas import Agent as AgentSchema
from app.agents.schemas import AgentDesignation as DesignationSchema
from app.agents.schemas import AgentDesignationFilters, AgentFilters, AgentSummary
from app.db.filters import NULL, FilterSet
from app.db.prepared import PreparedSelect
from app.db.repository import DEFERRED_JOIN_OFFSET, ListSelect, Repository
from app.http.pagination import PageRequest, ordering
from app.http.resource import NESTED
from app.models import Agent, AgentDesignation, AgentDesignationDefault, ApplicationTemplate, Location

AGENT_FILTERS = FilterSet(AgentFilters, Agent)
DESIGNATION_FILTERS = FilterSet(
    AgentDesignationFilters,
    AgentDesignation,
    columns={
        "location_code": Location.code,
        "kind": Agent.kind,
        "name": Agent.name_search,
        "short_name": Agent.short_name_search,
    },
)


# One agent on the fast path: the Agent schema's fields, all columns of its own.
AGENT_SHOWN = tuple(getattr(Agent, name) for name in AgentSchema.model_fields)
AGENT_COLUMNS = tuple(AgentSchema.model_fields)
# One designation on the fast path: the AgentDesignation schema's fields (its agent's as
# `agent__member`, its location's code), then what its writes need: the agent's procedures (what
# it may be given), its location's id and its organization.
_JOINED: dict[str, Any] = {
    "agent": tuple(getattr(Agent, name).label(f"agent{NESTED}{name}") for name in AgentSummary.model_fields),
    "location_code": (Location.code.label("location_code"),),
}
DESIGNATION_SHOWN = (
    *(
        column
        for name in DesignationSchema.model_fields
        for column in (_JOINED[name] if name in _JOINED else (getattr(AgentDesignation, name),))
    ),
    Agent.procedures.label("agent_procedures"),
    AgentDesignation.location_id,
    AgentDesignation.organization_id,
)
DESIGNATION_COLUMNS = tuple(column.key for column in DESIGNATION_SHOWN)


def files(procedures: Any) -> ColumnElement[bool]:
    """A stored procedure list (codes separated by single spaces) holds the procedure of the bound
    value `filed_procedure` (`filed`)."""
    padded: ColumnElement[str] = literal(" ") + procedures + literal(" ")
    return padded.like(bindparam("filed_procedure"))


def filed(procedure: str | None) -> dict[str, str]:
    """The bound value of `files` for a procedure filter (none when there is no filter)."""
    return {} if procedure is None else {"filed_procedure": f"% {procedure} %"}


class AgentRepository(Repository[Agent]):
    """The agent directory."""

    model = Agent

    async def search(
        self, filters: AgentFilters, page: PageRequest
    ) -> tuple[tuple[str, ...], Sequence[Sequence[Any]], int]:
        """Agents matching the filters, as the single read selects them (`AGENT_COLUMNS`):
        (column names, rows, total)."""
        # `procedure` is matched within the stored list (`files`), not by the filter set.
        listed = _agents_select(
            AGENT_FILTERS.shape(filters, procedure=None),
            filed=filters.procedure is not None,
            sort=page.sort_key(AGENT_FILTERS.sortable, "id"),
            deep=page.offset >= DEFERRED_JOIN_OFFSET,
        )
        params = {**AGENT_FILTERS.parameters(filters, procedure=None), **filed(filters.procedure)}
        rows, total = await self.page(listed, params, limit=page.limit, offset=page.offset)
        return listed.columns, rows, total

    async def shown(self, agent_id: int) -> Sequence[Any] | None:
        """The agent with this id: its `AGENT_COLUMNS` (a bound select built once, app/db/prepared.py)."""
        return await _agent_select().first(self.session, {"agent_id": agent_id})

    async def insert(self, values: dict[str, Any]) -> Sequence[Any]:
        """Insert a new agent (version 1) and read its `AGENT_COLUMNS` back, in one statement."""
        return await self.insert_returning({**values, "version": 1}, AGENT_SHOWN)

    async def by_number(self, kind: str, registration_number: str) -> int | None:
        """The id of the agent of this kind with this registration number."""
        found: int | None = await self.session.scalar(
            select(Agent.id).where(Agent.kind == kind, Agent.registration_number == registration_number)
        )
        return found

    async def designation_count(self, agent_id: int) -> int:
        """How many designations name the agent."""
        found = await _designation_count_select().first(self.session, {"agent_id": agent_id})
        return 0 if found is None else int(found[0])

    async def procedures_in_use(self, agent_id: int) -> set[str]:
        """The procedures that the agent's designations name."""
        stored = await self.session.scalars(
            select(AgentDesignation.procedures).where(AgentDesignation.agent_id == agent_id).distinct()
        )
        return {code for value in stored for code in value.split()}


@dataclass(frozen=True, slots=True)
class DesignationScope:
    """Which designations of one organization a caller sees: all, or one location's and the
    all-locations ones (`location_id`). Every read of designations takes one."""

    organization_id: int
    location_id: int | None


class DesignationRepository(Repository[AgentDesignation]):
    """Designations of one organization, with their agents and locations."""

    model = AgentDesignation

    def guarded(self) -> AbstractAsyncContextManager[Any]:
        """Around a write that a unique index may refuse: on PostgreSQL a savepoint, since a failed
        statement aborts the whole transaction and the holder could not be named after it. SQLite
        fails the statement alone and keeps the transaction; a SAVEPOINT there, before pysqlite has
        begun a transaction, would begin one that RELEASE commits."""
        if self.session.bind.dialect.name == "postgresql":
            return self.session.begin_nested()
        return nullcontext()

    async def shown(
        self, scope: DesignationScope, designation_id: int, *, lock: str | None = None
    ) -> Sequence[Any] | None:
        """A visible designation by id: its `DESIGNATION_COLUMNS` (a bound select built once per
        shape). `lock` as in `one`, read in the request's transaction."""
        statement = _designation_select(scope.location_id is not None, lock)
        params = {**_scope_params(scope), "designation_id": designation_id}
        if lock is None:
            return await statement.first(self.session, params)
        rows = await statement.in_transaction(self.session, params)
        return rows[0] if rows else None

    async def templates_misfit(
        self, designation_id: int, procedures: Sequence[str] | None = None, location_id: int | None = None
    ) -> int:
        """How many application templates name the designation and would no longer fit it with these
        procedures and this location (§2.8); no procedures given: every template that names it.

        Templates are a domain above this one; their table is read here from app/models, as
        locations count their users: one statement where the rule is enforced, no callback.
        """
        template = ApplicationTemplate
        statement = select(func.count()).where(template.agent_designation_id == designation_id)
        if procedures is not None:
            misfits: list[ColumnElement[bool]] = [template.procedure.not_in(list(procedures))]
            if location_id is not None:
                misfits.append(or_(template.location_id.is_(None), template.location_id != location_id))
            statement = statement.where(or_(*misfits))
        return int(await self.session.scalar(statement) or 0)

    async def search(
        self, scope: DesignationScope, filters: AgentDesignationFilters, page: PageRequest
    ) -> tuple[tuple[str, ...], Sequence[Sequence[Any]], int]:
        """Visible designations matching the filters, as the single read selects them
        (`DESIGNATION_COLUMNS`): (column names, rows, total)."""
        # `procedure` is matched within the stored list (`files`), not by the filter set; the
        # location code is the joined location's, exactly (its width aside), and empty is NULL:
        # the all-locations designations, which join no location.
        code = filters.location_code
        values = {
            "procedure": None,
            "location_code": None
            if code is None
            else NULL
            if not code
            else unicodedata.normalize("NFKC", code),
        }
        listed = _designations_select(
            DESIGNATION_FILTERS.shape(filters, **values),
            scoped=scope.location_id is not None,
            filed=filters.procedure is not None,
            sort=page.sort_key(DESIGNATION_FILTERS.sortable, "created_at"),
            deep=page.offset >= DEFERRED_JOIN_OFFSET,
        )
        params = {
            **_scope_params(scope),
            **DESIGNATION_FILTERS.parameters(filters, **values),
            **filed(filters.procedure),
        }
        rows, total = await self.page(listed, params, limit=page.limit, offset=page.offset)
        return listed.columns, rows, total

    async def location_id(self, organization_id: int, code: str) -> int | None:
        """The id of the organization's location with this code."""
        found: int | None = await self.session.scalar(
            select(Location.id).where(Location.organization_id == organization_id, Location.code == code)
        )
        return found

    async def location(self, organization_id: int, location_id: int | None, code: str) -> Row[Any] | None:
        """The id and code of the organization's location with this code; with `location_id`, only
        if it is that one (a caller assigned to a location names no other)."""
        statement = select(Location.id, Location.code).where(
            Location.organization_id == organization_id, Location.code == code
        )
        if location_id is not None:
            statement = statement.where(Location.id == location_id)
        return (await self.session.execute(statement)).first()

    async def resolve(
        self, scope: DesignationScope, procedure: str, location_id: int | None
    ) -> Sequence[Any] | None:
        """The default for the procedure at the location, else the all-locations default; designations
        of suspended agents are skipped as if absent (SPEC §2.7). Its `DESIGNATION_COLUMNS`."""
        statement = _resolve_select(scope.location_id is not None, location_id is not None)
        return await statement.first(
            self.session, {**_scope_params(scope), "procedure": procedure, "location_id": location_id}
        )

    async def of_agent(self, agent_id: int) -> Sequence[Sequence[Any]]:
        """Every designation of the agent, in every organization (its `DESIGNATION_COLUMNS`), in
        (organization, id) order: the order in which their feed entries take counter locks. Read in
        the request's transaction."""
        return await _of_agent_select().in_transaction(self.session, {"agent_id": agent_id})

    async def insert(self, values: dict[str, Any]) -> int:
        """Insert a new designation (version 1): its id."""
        return int((await self.insert_returning({**values, "version": 1}, [AgentDesignation.id]))[0])

    async def touch_of_agent(self, agent_id: int, now: Any) -> None:
        """Bump the version and time of every designation of the agent (their answers show it)."""
        await self.session.execute(
            update(AgentDesignation)
            .where(AgentDesignation.agent_id == agent_id)
            .values(version=AgentDesignation.version + 1, updated_at=now)
            .execution_options(synchronize_session=False)
        )

    async def same_agent_at(self, organization_id: int, agent_id: int, location_id: int | None) -> int | None:
        """The id of the designation of this agent at this location (or all locations)."""
        params = {"organization_id": organization_id, "agent_id": agent_id, "location_id": location_id}
        found = await _same_agent_select(location_id is not None).first(self.session, params)
        return None if found is None else int(found[0])

    async def set_defaults(
        self, designation_id: int, organization_id: int, location_id: int | None, procedures: Sequence[str]
    ) -> None:
        """Make the designation (of this organization, at this location) the default of these
        procedures there, and of no other.

        A slot another designation holds fails the unique index and raises IntegrityError; the
        transaction stays usable to name the holder (`guarded`).
        """
        async with self.guarded():
            await self.session.execute(
                delete(AgentDesignationDefault).where(
                    AgentDesignationDefault.designation_id == designation_id
                )
            )
            if procedures:
                await self.session.execute(
                    insert(AgentDesignationDefault),
                    [
                        {
                            "designation_id": designation_id,
                            "procedure": procedure,
                            "organization_id": organization_id,
                            "location_id": location_id,
                        }
                        for procedure in procedures
                    ],
                )

    async def default_holder(
        self, organization_id: int, location_id: int | None, procedures: Sequence[str], other_than: int
    ) -> tuple[int, str] | None:
        """(designation id, procedure) of a default that another designation holds in these slots."""
        at = (
            AgentDesignationDefault.location_id.is_(None)
            if location_id is None
            else AgentDesignationDefault.location_id == location_id
        )
        row = (
            await self.session.execute(
                select(AgentDesignationDefault.designation_id, AgentDesignationDefault.procedure)
                .where(
                    AgentDesignationDefault.organization_id == organization_id,
                    at,
                    AgentDesignationDefault.procedure.in_(list(procedures)),
                    AgentDesignationDefault.designation_id != other_than,
                )
                .order_by(AgentDesignationDefault.procedure)
                .limit(1)
            )
        ).first()
        return None if row is None else (row[0], row[1])


@lru_cache(maxsize=1)
def _agent_select() -> PreparedSelect:
    """One agent by id."""
    return PreparedSelect(select(*AGENT_SHOWN).where(Agent.id == bindparam("agent_id")))


@lru_cache(maxsize=256)
def _agents_select(shape: tuple[Hashable, ...], *, filed: bool, sort: str, deep: bool) -> ListSelect:
    """The agent search of one shape of filters (see FilterSet.shape), with a procedure or not."""
    statement = select(*AGENT_SHOWN).where(*AGENT_FILTERS.bound_conditions(shape))
    if filed:
        statement = statement.where(files(Agent.procedures))
    order_by = ordering(AGENT_FILTERS.sortable, sort, Agent.id)
    return AgentRepository.listed(statement, order_by=order_by, deep=deep)


def _scope_params(scope: DesignationScope) -> dict[str, Any]:
    return {"organization_id": scope.organization_id, "scope_location_id": scope.location_id}


def _shown(scoped: bool) -> Select[Any]:
    """The one visibility rule of designations: the `DESIGNATION_SHOWN` of those a scope sees,
    over the bound values of `_scope_params`."""
    statement = (
        select(*DESIGNATION_SHOWN)
        .join(Agent, Agent.id == AgentDesignation.agent_id)
        .outerjoin(Location, Location.id == AgentDesignation.location_id)
        .where(AgentDesignation.organization_id == bindparam("organization_id"))
    )
    if scoped:
        statement = statement.where(
            or_(
                AgentDesignation.location_id == bindparam("scope_location_id"),
                AgentDesignation.location_id.is_(None),
            )
        )
    return statement


@lru_cache(maxsize=512)
def _designations_select(
    shape: tuple[Hashable, ...], *, scoped: bool, filed: bool, sort: str, deep: bool
) -> ListSelect:
    """The designation search of one shape of filters (see FilterSet.shape), within a scope."""
    statement = _shown(scoped).where(*DESIGNATION_FILTERS.bound_conditions(shape))
    if filed:
        statement = statement.where(files(AgentDesignation.procedures))
    order_by = ordering(DESIGNATION_FILTERS.sortable, sort, AgentDesignation.id)
    return DesignationRepository.listed(statement, order_by=order_by, deep=deep)


@lru_cache(maxsize=8)
def _designation_select(scoped: bool, lock: str | None) -> PreparedSelect:
    """One designation by id, within a scope, locked or not."""
    statement = _shown(scoped).where(AgentDesignation.id == bindparam("designation_id"))
    if lock is not None:
        statement = statement.with_for_update(read=lock == "share", of=AgentDesignation)
    return PreparedSelect(statement)


@lru_cache(maxsize=4)
def _resolve_select(scoped: bool, at_location: bool) -> PreparedSelect:
    """The designation that resolves a procedure (at a location, or for all locations)."""
    at: list[ColumnElement[bool]] = [AgentDesignationDefault.location_id.is_(None)]
    if at_location:
        at.append(AgentDesignationDefault.location_id == bindparam("location_id"))
    statement = (
        _shown(scoped)
        .join(AgentDesignationDefault, AgentDesignationDefault.designation_id == AgentDesignation.id)
        .where(
            AgentDesignationDefault.procedure == bindparam("procedure"), or_(*at), Agent.status == "active"
        )
        .order_by(AgentDesignation.location_id.is_(None), AgentDesignation.id)
        .limit(1)
    )
    return PreparedSelect(statement)


@lru_cache(maxsize=1)
def _of_agent_select() -> PreparedSelect:
    """Every designation of an agent, in every organization."""
    statement = (
        select(*DESIGNATION_SHOWN)
        .join(Agent, Agent.id == AgentDesignation.agent_id)
        .outerjoin(Location, Location.id == AgentDesignation.location_id)
        .where(AgentDesignation.agent_id == bindparam("agent_id"))
        .order_by(AgentDesignation.organization_id, AgentDesignation.id)
    )
    return PreparedSelect(statement)


@lru_cache(maxsize=2)
def _same_agent_select(at_location: bool) -> PreparedSelect:
    """The designation of an agent at a location (or all locations) of an organization."""
    at = (
        AgentDesignation.location_id == bindparam("location_id")
        if at_location
        else AgentDesignation.location_id.is_(None)
    )
    return PreparedSelect(
        select(AgentDesignation.id).where(
            AgentDesignation.organization_id == bindparam("organization_id"),
            AgentDesignation.agent_id == bindparam("agent_id"),
            at,
        )
    )


@lru_cache(maxsize=1)
def _designation_count_select() -> PreparedSelect:
    """How many designations name an agent."""
    return PreparedSelect(
        select(func.count())
        .select_from(AgentDesignation)
        .where(AgentDesignation.agent_id == bindparam("agent_id"))
    )
