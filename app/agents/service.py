"""The agent directory and designated agents (代理人, 依頼先代理人): SPEC §2.7, §4."""

from typing import Annotated, Any

from fastapi import Depends
from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError

from app.agents.procedures import (
    KIND_PROCEDURES,
    REGISTRATION_NUMBER_REQUIRED,
    AgentKind,
    from_stored,
    not_allowed,
    stored,
)
from app.agents.repository import (
    AGENT_COLUMNS,
    DESIGNATION_COLUMNS,
    AgentRepository,
    DesignationRepository,
    DesignationScope,
)
from app.agents.schemas import (
    Agent,
    AgentCreate,
    AgentDesignation,
    AgentDesignationCreate,
    AgentDesignationFilters,
    AgentDesignationUpdate,
    AgentFilters,
    AgentSummary,
    AgentUpdate,
)
from app.auth.dependencies import OrganizationScope
from app.auth.permissions import designation_location, may_manage_designation
from app.auth.principals import Principal
from app.http.errors import Conflict, FieldError, Forbidden, NotFound, Unprocessable
from app.http.etag import check_version
from app.http.ids import format_public_id, parse_public_id
from app.http.pagination import PageRequest
from app.http.resource import NESTED, StoredResource, rows_page_json, validated
from app.journal.audited import (
    ResourceRef,
    StoredRow,
    changed_fields,
    delete_row_audited,
    public_form,
    record_created,
    update_row_audited,
)
from app.journal.context import RequestContext, provide
from app.locations.types import is_location_code

AGENT = "agent"
DESIGNATION = "agent_designation"


def procedure_not_allowed(refused: list[str], allowed: list[str]) -> Unprocessable:
    """422 procedure_not_allowed, naming the procedures refused and those allowed."""
    return Unprocessable(
        "procedure_not_allowed",
        context={"procedures": ", ".join(refused), "allowed": ", ".join(allowed)},
        errors=[
            FieldError(
                "procedures",
                "procedure_not_allowed",
                {"procedures": ", ".join(refused), "allowed": ", ".join(allowed)},
                extra={"procedures": refused, "allowed": allowed},
            )
        ],
    )


def _check_agent(kind: AgentKind, procedures: list[str], registration_number: str | None) -> None:
    """What an agent of this kind may file (422 procedure_not_allowed) and whether it needs a number."""
    allowed = [procedure.value for procedure in KIND_PROCEDURES[kind]]
    refused = not_allowed(procedures, allowed)
    if refused:
        raise procedure_not_allowed([procedure.value for procedure in refused], allowed)
    if kind in REGISTRATION_NUMBER_REQUIRED and registration_number is None:
        raise Unprocessable(errors=[FieldError("registration_number", "registration_number_required")])


def _already_registered(kind: str, registration_number: str | None) -> Conflict:
    return Conflict(
        "agent_already_registered",
        context={"kind": kind, "registration_number": registration_number},
        members={"kind": kind, "registration_number": registration_number},
    )


class AgentService:
    """The association's agent directory: operators keep it, every principal reads it."""

    def __init__(self, context: RequestContext) -> None:
        self.context = context

    @property
    def agents(self) -> AgentRepository:
        """The repository of this request's session."""
        return AgentRepository(self.context.session)

    async def search(self, filters: AgentFilters, page: PageRequest) -> bytes:
        """代理人検索, as the JSON of `Page[Agent]` (rows straight to JSON, as the single read)."""
        return rows_page_json(Agent, *await self.agents.search(filters, page), page)

    async def _stored(self, agent_id: str) -> StoredRow:
        """The row of an agent (the fast path); 404 when there is none with this id."""
        id_ = parse_public_id(agent_id)
        row = await self.agents.shown(id_) if id_ is not None else None
        if row is None:
            raise NotFound()
        return StoredRow(Agent, AGENT_COLUMNS, row)

    async def get(self, agent_id: str) -> StoredResource:
        """One agent; 404 when there is none with this id."""
        return (await self._stored(agent_id)).resource

    async def create(self, principal: Principal, body: AgentCreate) -> StoredResource:
        """代理人の追加: procedures default to every one its kind may file."""
        procedures = [p.value for p in body.procedures or KIND_PROCEDURES[body.kind]]
        _check_agent(body.kind, procedures, body.registration_number)
        if body.registration_number is not None and await self.agents.by_number(
            body.kind, body.registration_number
        ):
            raise _already_registered(body.kind, body.registration_number)
        now = self.context.clock.now()
        try:
            row = await self.agents.insert(
                {
                    **body.model_dump(mode="json", exclude={"procedures"}),
                    "procedures": stored(procedures),
                    "created_at": now,
                    "updated_at": now,
                }
            )
        except IntegrityError:
            # The unique (kind, registration number) constraint decides a race.
            raise _already_registered(body.kind, body.registration_number) from None
        inserted = StoredRow(Agent, AGENT_COLUMNS, row)
        agent = inserted.resource
        ref = ResourceRef(AGENT, format_public_id(inserted["id"]), None)
        await record_created(self.context.audit, principal.actor, "agent.create", ref, agent)
        return agent

    async def update(
        self, principal: Principal, agent_id: str, body: AgentUpdate, expected: set[int] | None
    ) -> StoredResource:
        """代理人の変更 and 利用停止: every organization that designates the agent sees its designations
        change in its feed (`agent_designation.updated`), in this transaction."""
        row = await self._stored(agent_id)
        id_, version = row["id"], row["version"]
        check_version(expected, version)
        values = body.model_dump(exclude_unset=True)
        kind = AgentKind(row["kind"])
        procedures = [p.value for p in values.get("procedures") or from_stored(row["procedures"])]
        number = values.get("registration_number", row["registration_number"])
        _check_agent(kind, procedures, number)
        if "procedures" in values:
            in_use = sorted(set(not_allowed(await self.agents.procedures_in_use(id_), procedures)))
            if in_use:
                codes = ", ".join(in_use)
                raise Conflict("agent_procedures_in_use", context={"procedures": codes})
            values["procedures"] = stored(procedures)
        if number is not None and number != row["registration_number"]:
            holder = await self.agents.by_number(kind, number)
            if holder is not None and holder != id_:
                raise _already_registered(kind, number)
        affected = [
            StoredRow(AgentDesignation, DESIGNATION_COLUMNS, designation)
            for designation in await DesignationRepository(self.context.session).of_agent(id_)
        ]
        try:
            agent = await update_row_audited(
                self.agents,
                row,
                values,
                expected_versions=expected,
                audit=self.context.audit,
                actor=principal.actor,
                action="agent.update",
                ref=ResourceRef(AGENT, format_public_id(id_), None),
            )
        except IntegrityError:
            raise _already_registered(kind, number) from None
        if agent.version != version and affected:
            await self._fan_out(principal, id_, agent, affected)
        return agent

    async def _fan_out(
        self, principal: Principal, agent_id: int, agent: StoredResource, affected: list[StoredRow]
    ) -> None:
        """Each designation of the agent shows the agent as it is now: a new version, an audit event
        and a feed entry in its organization (SPEC §5.5), one batch for all."""
        now = self.context.clock.now()
        await DesignationRepository(self.context.session).touch_of_agent(agent_id, now)
        shown = agent.public_form()
        summary = {f"agent{NESTED}{name}": shown[name] for name in AgentSummary.model_fields}
        async with self.context.audit.batched():
            for designation in affected:
                before = designation.resource
                after = designation.changed(
                    {**summary, "updated_at": now, "version": before.version + 1}
                ).resource
                await self.context.audit.record_change(
                    principal.actor,
                    "agent_designation.update",
                    DESIGNATION,
                    format_public_id(designation["id"]),
                    designation["organization_id"],
                    changed_fields(public_form(before), public_form(after)),
                    public_form(after),
                )

    async def delete(self, principal: Principal, agent_id: str, expected: set[int] | None) -> None:
        """代理人の削除; refused while designated (409 agent_in_use: suspend it instead)."""
        row = await self._stored(agent_id)
        count = await self.agents.designation_count(row["id"])
        if count:
            raise Conflict("agent_in_use", context={"count": count}, members={"count": count})
        await delete_row_audited(
            self.agents,
            row,
            expected_versions=expected,
            audit=self.context.audit,
            actor=principal.actor,
            action="agent.delete",
            ref=ResourceRef(AGENT, format_public_id(row["id"]), None),
        )


def designation_scope(scope: OrganizationScope) -> DesignationScope:
    """The designations the caller sees: its location's and the all-locations ones, or all."""
    return DesignationScope(scope.organization_id, designation_location(scope.principal))


class AgentDesignationService:
    """依頼先代理人管理: which agents an organization sends filings to, and the defaults."""

    def __init__(self, context: RequestContext) -> None:
        self.context = context

    @property
    def designations(self) -> DesignationRepository:
        """The repository of this request's session."""
        return DesignationRepository(self.context.session)

    async def search(
        self, scope: OrganizationScope, filters: AgentDesignationFilters, page: PageRequest
    ) -> bytes:
        """依頼先代理人検索, within the caller's scope, as the JSON of `Page[AgentDesignation]`
        (rows straight to JSON, as the single read)."""
        found = await self.designations.search(designation_scope(scope), filters, page)
        return rows_page_json(AgentDesignation, *found, page)

    async def get_within_organization(
        self, organization_id: int, designation_id: str, *, lock: bool = False
    ) -> AgentDesignation | None:
        """A designation of the organization by its public id, whoever asks; None when there is
        none (for other domains' services, e.g. templates that name one). `lock`: it cannot change
        or go until this transaction ends (a template that names it is counted by update/delete)."""
        id_ = parse_public_id(designation_id)
        if id_ is None:
            return None
        row = await self.designations.shown(
            DesignationScope(organization_id, None), id_, lock="share" if lock else None
        )
        if row is None:
            return None
        found = validated(AgentDesignation, DESIGNATION_COLUMNS, row)
        assert isinstance(found, AgentDesignation)
        return found

    async def _stored(
        self, scope: OrganizationScope, designation_id: str, *, lock: bool = False
    ) -> StoredRow:
        """The row of a designation the caller sees (the fast path; `lock`: to change or delete
        it); 404 otherwise."""
        id_ = parse_public_id(designation_id)
        row = None
        if id_ is not None:
            row = await self.designations.shown(
                designation_scope(scope), id_, lock="update" if lock else None
            )
        if row is None:
            raise NotFound()
        return StoredRow(AgentDesignation, DESIGNATION_COLUMNS, row)

    async def get(self, scope: OrganizationScope, designation_id: str) -> StoredResource:
        """One designation within the caller's scope; 404 otherwise."""
        return (await self._stored(scope, designation_id)).resource

    async def resolve(
        self, scope: OrganizationScope, procedure: str, location_code: str | None
    ) -> StoredResource:
        """The designation a filing of this procedure from this location goes to (SPEC §2.7)."""
        location = await self._location(scope, location_code)
        row = await self.designations.resolve(
            designation_scope(scope), procedure, location.id if location else None
        )
        if row is None:
            raise NotFound("no_agent_designated")
        return StoredResource.from_row(AgentDesignation, DESIGNATION_COLUMNS, row)

    async def _location(self, scope: OrganizationScope, code: str | None) -> Row[Any] | None:
        """The location named in a request; 422 when the caller's scope has none such (a location
        outside it answers as one that does not exist)."""
        if code is None:
            return None
        location = (
            await self.designations.location(scope.organization_id, scope.principal.location_id, code)
            if is_location_code(code)
            else None
        )
        if location is None:
            raise Unprocessable(errors=[FieldError("location_code", "unknown_location")])
        return location

    async def _agent(self, agent_id: str) -> StoredRow:
        """The directory's agent named in a body: 422 naming `agent_id` when unknown or suspended."""
        id_ = parse_public_id(agent_id)
        row = await AgentRepository(self.context.session).shown(id_) if id_ is not None else None
        if row is None:
            raise Unprocessable(errors=[FieldError("agent_id", "unknown_agent")])
        agent = StoredRow(Agent, AGENT_COLUMNS, row)
        if agent["status"] != "active":
            raise Unprocessable("agent_suspended", errors=[FieldError("agent_id", "agent_suspended")])
        return agent

    def _check_manages(self, scope: OrganizationScope, location_id: int | None) -> None:
        if not may_manage_designation(scope.principal, location_id):
            raise Forbidden()

    async def _check_unique_agent(
        self, scope: OrganizationScope, agent_id: int, location_id: int | None, other_than: int | None = None
    ) -> None:
        """409 agent_already_designated when the agent is designated at that location already."""
        holder = await self.designations.same_agent_at(scope.organization_id, agent_id, location_id)
        if holder is not None and holder != other_than:
            raise _already_designated(holder)

    async def _set_defaults(
        self, designation_id: int, organization_id: int, location_id: int | None, procedures: list[str]
    ) -> None:
        """Write the defaults the designation holds (these procedures at its location; none: not a
        default); 409 default_already_set naming the holder."""
        try:
            await self.designations.set_defaults(designation_id, organization_id, location_id, procedures)
        except IntegrityError:
            holder = await self.designations.default_holder(
                organization_id, location_id, procedures, other_than=designation_id
            )
            if holder is None:  # the holder's transaction rolled back since: a retry may succeed
                raise Conflict("conflict") from None
            raise Conflict(
                "default_already_set",
                context={"designation_id": format_public_id(holder[0]), "procedure": holder[1]},
                members={"designation_id": format_public_id(holder[0]), "procedure": holder[1]},
            ) from None

    async def create(self, scope: OrganizationScope, body: AgentDesignationCreate) -> StoredResource:
        """依頼先代理人の追加."""
        location = await self._location(scope, body.location_code)
        location_id = location.id if location else None
        self._check_manages(scope, location_id)
        agent = await self._agent(body.agent_id)
        allowed = from_stored(agent["procedures"])
        procedures = [p.value for p in body.procedures or allowed]
        refused = not_allowed(procedures, allowed)
        if refused:
            raise procedure_not_allowed([p.value for p in refused], [p.value for p in allowed])
        await self._check_unique_agent(scope, agent["id"], location_id)
        now = self.context.clock.now()
        try:
            async with self.designations.guarded():
                id_ = await self.designations.insert(
                    {
                        "organization_id": scope.organization_id,
                        "agent_id": agent["id"],
                        "location_id": location_id,
                        "procedures": stored(procedures),
                        "is_default": body.is_default,
                        "note": body.note,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
        except IntegrityError:
            # A concurrent designation of the same agent at the same location committed first.
            holder = await self.designations.same_agent_at(scope.organization_id, agent["id"], location_id)
            raise _already_designated(holder) from None
        await self._set_defaults(
            id_, scope.organization_id, location_id, procedures if body.is_default else []
        )
        # Read back in this transaction: the new row with its agent and location as a GET shows it.
        row = await self.designations.shown(DesignationScope(scope.organization_id, None), id_)
        assert row is not None, "inserted in this transaction"
        designation = StoredResource.from_row(AgentDesignation, DESIGNATION_COLUMNS, row)
        ref = ResourceRef(DESIGNATION, format_public_id(id_), scope.organization_id)
        await record_created(
            self.context.audit, scope.principal.actor, "agent_designation.create", ref, designation
        )
        return designation

    async def update(
        self,
        scope: OrganizationScope,
        designation_id: str,
        body: AgentDesignationUpdate,
        expected: set[int] | None,
    ) -> StoredResource:
        """依頼先代理人の変更: location, procedures, default, note; not so that templates that name it
        no longer fit (409 designation_in_use)."""
        row = await self._stored(scope, designation_id, lock=True)
        id_, location_id = row["id"], row["location_id"]
        self._check_manages(scope, location_id)
        check_version(expected, row["version"])
        given = body.model_dump(exclude_unset=True)
        values: dict[str, Any] = {}
        joined: dict[str, Any] = {}
        if "location_code" in given:
            location = await self._location(scope, given["location_code"])
            moved_to = location.id if location else None
            self._check_manages(scope, moved_to)
            if moved_to != location_id:
                await self._check_unique_agent(scope, row["agent_id"], moved_to, other_than=id_)
                values["location_id"] = location_id = moved_to
                joined["location_code"] = location.code if location else None
        procedures = [p.value for p in given.get("procedures") or from_stored(row["procedures"])]
        if "procedures" in given:
            allowed = from_stored(row["agent_procedures"])
            refused = not_allowed(procedures, allowed)
            if refused:
                raise procedure_not_allowed([p.value for p in refused], [p.value for p in allowed])
            values["procedures"] = stored(procedures)
        if "location_id" in values or "procedures" in values:
            await self._check_templates(id_, procedures, location_id)
        if given.get("is_default") is not None:
            values["is_default"] = given["is_default"]
        if "note" in given:
            values["note"] = given["note"]
        if values:
            # Whatever a change gives is written, as it always was: a new version and its event
            # even when every value given was already so.
            values["updated_at"] = self.context.clock.now()
        try:
            async with self.designations.guarded():
                designation = await update_row_audited(
                    self.designations,
                    row,
                    values,
                    expected_versions=expected,
                    audit=self.context.audit,
                    actor=scope.principal.actor,
                    action="agent_designation.update",
                    ref=ResourceRef(DESIGNATION, format_public_id(id_), scope.organization_id),
                    joined=joined,
                )
        except IntegrityError:
            holder = await self.designations.same_agent_at(
                scope.organization_id, row["agent_id"], location_id
            )
            raise _already_designated(holder) from None
        if designation.version != row["version"]:
            is_default = values.get("is_default", row["is_default"])
            await self._set_defaults(
                id_, scope.organization_id, location_id, procedures if is_default else []
            )
        return designation

    async def delete(self, scope: OrganizationScope, designation_id: str, expected: set[int] | None) -> None:
        """依頼先代理人の削除 (its defaults go with it); not while templates name it (409)."""
        row = await self._stored(scope, designation_id, lock=True)
        self._check_manages(scope, row["location_id"])
        await self._check_templates(row["id"])
        await delete_row_audited(
            self.designations,
            row,
            expected_versions=expected,
            audit=self.context.audit,
            actor=scope.principal.actor,
            action="agent_designation.delete",
            ref=ResourceRef(DESIGNATION, format_public_id(row["id"]), scope.organization_id),
        )

    async def _check_templates(
        self, designation_id: int, procedures: list[str] | None = None, location_id: int | None = None
    ) -> None:
        """409 designation_in_use, naming how many application templates name the designation and
        would not fit it any more (with no procedures given: deleting it, all of them). The row is
        locked first (`_row`), so a template naming it meanwhile waits, or is counted."""
        count = await self.designations.templates_misfit(designation_id, procedures, location_id)
        if count:
            raise Conflict("designation_in_use", context={"count": count}, members={"count": count})


def _already_designated(holder: int | None) -> Conflict:
    shown = format_public_id(holder) if holder is not None else None
    return Conflict(
        "agent_already_designated", context={"designation_id": shown}, members={"designation_id": shown}
    )


AgentServiceDep = Annotated[AgentService, Depends(provide(AgentService))]
AgentDesignationServiceDep = Annotated[AgentDesignationService, Depends(provide(AgentDesignationService))]
