"""Application templates (申請テンプレート): SPEC §2.8, §4."""

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends
from sqlalchemy.exc import IntegrityError

from app.agents.procedures import Procedure
from app.agents.schemas import AgentDesignation
from app.agents.service import AgentDesignationService
from app.application_templates.repository import SHOWN_COLUMNS, ApplicationTemplateRepository, TemplateScope
from app.application_templates.schemas import (
    NOT_FOR_CONTINUOUS_INSPECTION,
    ApplicationTemplate,
    ApplicationTemplateCopy,
    ApplicationTemplateCreate,
    ApplicationTemplateFilters,
    ApplicationTemplateUpdate,
)
from app.auth.dependencies import OrganizationScope
from app.auth.permissions import in_scope
from app.http.errors import Conflict, FieldError, Forbidden, NotFound, Unprocessable
from app.http.ids import format_public_id, parse_public_id
from app.http.pagination import PageRequest
from app.http.resource import StoredResource, rows_page_json
from app.journal.audited import ResourceRef, StoredRow, delete_row_audited, record_created, update_row_audited
from app.journal.context import RequestContext, provide
from app.locations.service import LocationService
from app.models import Location as LocationRow

RESOURCE = "application_template"
# The database's guard of unique names (migration 0012), as each database names it in its error.
_NAME_CONSTRAINT = ("uq_application_templates_organization_id_name", "application_templates.name")
# What a copy takes over besides the procedure, location and designation.
_COPIED = {"use", "owner", "user", "user_same_as_owner", "base_location", "notes"}


@dataclass(frozen=True, slots=True)
class _State:
    """A template as it is after a create, change or copy, for the rules that span fields."""

    procedure: str
    location_id: int | None
    location_code: str | None
    agent_designation_id: int | None
    values: dict[str, Any]  # name, use, parties, base location, notes (as stored)


def template_scope(scope: OrganizationScope) -> TemplateScope:
    """The templates the caller sees: its location's and the all-locations ones, or all of them."""
    return TemplateScope(scope.organization_id, scope.principal.location_id)


def rule_errors(state: _State) -> list[FieldError]:
    """The rules between fields: what 継続検査 does not take (a field given: not null, not false),
    and no user beside `user_same_as_owner`."""
    values = state.values
    errors = []
    if state.procedure == Procedure.CONTINUOUS_INSPECTION:
        errors = [
            FieldError(name, "field_not_applicable")
            for name in NOT_FOR_CONTINUOUS_INSPECTION
            if values.get(name) not in (None, False)
        ]
    if values.get("user_same_as_owner") and values.get("user") is not None:
        errors.append(FieldError("user", "user_given_with_same_as_owner"))
    return errors


def fits(designation: AgentDesignation, procedure: str, location_code: str | None) -> bool:
    """Whether a template of this procedure and location (None: all locations) may name the
    designation (§2.8): it files the procedure, and is for all locations or for the template's."""
    return procedure in designation.procedures and designation.location_code in (None, location_code)


class ApplicationTemplateService:
    """Lists, reads and changes templates; a caller with a location sees its own and the
    all-locations ones, and writes (location admins) only its own location's."""

    def __init__(self, context: RequestContext) -> None:
        self.context = context

    @property
    def templates(self) -> ApplicationTemplateRepository:
        """The repository of this request's session."""
        return ApplicationTemplateRepository(self.context.session)

    async def search(
        self, scope: OrganizationScope, filters: ApplicationTemplateFilters, page: PageRequest
    ) -> bytes:
        """申請テンプレート検索, as the JSON of `Page[ApplicationTemplate]` (rows straight to JSON,
        as the single read)."""
        found = await self.templates.search(template_scope(scope), filters, page)
        return rows_page_json(ApplicationTemplate, *found, page)

    async def get(self, scope: OrganizationScope, id_: str) -> StoredResource:
        """A template the caller sees; 404 otherwise."""
        return (await self._stored(scope, id_)).resource

    async def create(self, scope: OrganizationScope, body: ApplicationTemplateCreate) -> StoredResource:
        """申請テンプレートの登録."""
        location = await self._location(scope, body.location_code)
        values = body.model_dump(mode="json", exclude={"procedure", "location_code", "agent_designation_id"})
        state = _State(
            body.procedure,
            location.id if location else None,
            location.code if location else None,
            _designation_id(body.agent_designation_id),
            values,
        )
        await self._check(scope, state, designation_changed=True)
        return await self._insert(scope, state)

    async def copy(self, scope: OrganizationScope, id_: str, body: ApplicationTemplateCopy) -> StoredResource:
        """転用作成: the same fields under a new name."""
        source = await self._writable(scope, id_)
        shown = source.resource.public_form()
        copied = {name: value for name, value in shown.items() if name in _COPIED}
        state = _State(
            source["procedure"],
            source["location_id"],
            source["location_code"],
            source["agent_designation_id"],
            {**copied, "name": body.name},
        )
        await self._check(scope, state, designation_changed=False)
        return await self._insert(scope, state)

    async def update(
        self, scope: OrganizationScope, id_: str, body: ApplicationTemplateUpdate, expected: set[int] | None
    ) -> StoredResource:
        """申請テンプレートの変更: absent fields stay; the rules are checked on the result."""
        row = await self._writable(scope, id_)
        given = body.model_dump(mode="json", exclude_unset=True)
        location_id, location_code = row["location_id"], row["location_code"]
        if "location_code" in given:
            location = await self._location(scope, given.pop("location_code"))
            location_id, location_code = (location.id, location.code) if location else (None, None)
        designation_id = row["agent_designation_id"]
        if "agent_designation_id" in given:
            designation_id = _designation_id(given.pop("agent_designation_id"))
        procedure = given.pop("procedure", row["procedure"])
        shown = row.resource.public_form()
        current = {name: value for name, value in shown.items() if name in _COPIED or name == "name"}
        state = _State(procedure, location_id, location_code, designation_id, {**current, **given})
        moved = location_id != row["location_id"] or procedure != row["procedure"]
        await self._check(
            scope,
            state,
            designation_changed=moved or designation_id != row["agent_designation_id"],
            renamed=row,
        )
        values = {
            **given,
            "procedure": procedure,
            "location_id": location_id,
            "agent_designation_id": designation_id,
        }
        try:
            return await update_row_audited(
                self.templates,
                row,
                values,
                expected_versions=expected,
                audit=self.context.audit,
                actor=scope.principal.actor,
                action="application_template.update",
                ref=self._ref(scope, row["id"]),
                joined={"location_code": location_code},
            )
        except IntegrityError as exc:
            raise _name_taken(exc, state.values["name"]) from None

    async def delete(self, scope: OrganizationScope, id_: str, expected: set[int] | None) -> None:
        """申請テンプレートの削除."""
        row = await self._writable(scope, id_)
        await delete_row_audited(
            self.templates,
            row,
            expected_versions=expected,
            audit=self.context.audit,
            actor=scope.principal.actor,
            action="application_template.delete",
            ref=self._ref(scope, row["id"]),
        )

    # -- the rules -------------------------------------------------------------------------------

    async def _stored(self, scope: OrganizationScope, id_: str) -> StoredRow:
        """The row of a template the caller sees (the fast path); 404 otherwise."""
        number = parse_public_id(id_)
        row = await self.templates.shown(template_scope(scope), number) if number is not None else None
        if row is None:
            raise NotFound()
        return StoredRow(ApplicationTemplate, SHOWN_COLUMNS, row)

    async def _writable(self, scope: OrganizationScope, id_: str) -> StoredRow:
        """A template the caller sees and may change: 403 for a location admin and another
        location's (or the all-locations) template."""
        row = await self._stored(scope, id_)
        if not in_scope(scope.principal, row["location_id"]):
            raise Forbidden()
        return row

    async def _location(self, scope: OrganizationScope, code: str | None) -> LocationRow | None:
        """The location a body names, within the caller's scope (another answers as unknown, 422);
        all locations (None) only for a caller without a location of its own (403)."""
        if code is None:
            if not in_scope(scope.principal, None):
                raise Forbidden()
            return None
        location = await LocationService(self.context).find(scope, code)
        if location is None:
            raise Unprocessable(errors=[FieldError("location_code", "unknown_location")])
        return location

    async def _check(
        self,
        scope: OrganizationScope,
        state: _State,
        *,
        designation_changed: bool,
        renamed: StoredRow | None = None,
    ) -> None:
        """The rules of §2.8 between fields, the designation's fit (422), and the name (409)."""
        errors = rule_errors(state)
        if state.agent_designation_id is not None and designation_changed:
            errors.extend(await self._designation_errors(scope, state))
        if errors:
            raise Unprocessable(errors=errors)
        name = state.values["name"]
        if renamed is None or name != renamed["name"]:
            other = renamed["id"] if renamed is not None else None
            if await self.templates.name_taken(scope.organization_id, name, other_than=other):
                raise Conflict("template_name_taken", context={"name": name})

    async def _designation_errors(self, scope: OrganizationScope, state: _State) -> list[FieldError]:
        """Unknown (422 naming the field), or not fitting the procedure and location.

        The designation is read under a share lock (PostgreSQL) held until this transaction ends:
        a change or deletion of it waits, then counts this template among those that use it.
        """
        assert state.agent_designation_id is not None
        designation = await AgentDesignationService(self.context).get_within_organization(
            scope.organization_id, format_public_id(state.agent_designation_id), lock=True
        )
        # Another location's is unknown to a caller of a location, as it is in its lists.
        own = scope.principal.location_code
        if designation is None or (own is not None and designation.location_code not in (None, own)):
            return [FieldError("agent_designation_id", "unknown_agent_designation")]
        if not fits(designation, state.procedure, state.location_code):
            return [
                FieldError(
                    "agent_designation_id", "designation_not_applicable", {"procedure": state.procedure}
                )
            ]
        return []

    async def _insert(self, scope: OrganizationScope, state: _State) -> StoredResource:
        """Insert a checked template and audit it; the name's constraint decides a race (409)."""
        now = self.context.clock.now()
        try:
            row = await self.templates.insert(
                {
                    **state.values,
                    "procedure": state.procedure,
                    "organization_id": scope.organization_id,
                    "location_id": state.location_id,
                    "agent_designation_id": state.agent_designation_id,
                    "created_at": now,
                    "created_by": scope.principal.actor.id or scope.principal.actor.kind,
                    "updated_at": now,
                },
                state.location_code,
            )
        except IntegrityError as exc:
            raise _name_taken(exc, state.values["name"]) from None
        inserted = StoredRow(ApplicationTemplate, SHOWN_COLUMNS, row)
        template = inserted.resource
        ref = self._ref(scope, inserted["id"])
        await record_created(
            self.context.audit, scope.principal.actor, "application_template.create", ref, template
        )
        return template

    @staticmethod
    def _ref(scope: OrganizationScope, id_: int) -> ResourceRef:
        return ResourceRef(RESOURCE, format_public_id(id_), scope.organization_id)


def _designation_id(value: str | None) -> int | None:
    """The row id of a 9-digit designation id (the schema checked its form)."""
    return None if value is None else int(value)


def _name_taken(exc: IntegrityError, name: str) -> Exception:
    """409 template_name_taken when the name's constraint refused the write; the error as it was
    otherwise (a location deleted at the same time: the generic 409)."""
    if any(marker in str(exc.orig) for marker in _NAME_CONSTRAINT):
        return Conflict("template_name_taken", context={"name": name})
    return exc


ApplicationTemplateServiceDep = Annotated[
    ApplicationTemplateService, Depends(provide(ApplicationTemplateService))
]
