"""Location management (依頼人拠点): SPEC §2.2, §4."""

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends
from pydantic import ValidationError
from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError

from app.auth.dependencies import OrganizationScope
from app.auth.organization_ids import format_organization_id
from app.csv.download import Download, download
from app.csv.files import CsvEncoding, Table, refuse
from app.csv.schemas import ImportResult, PlannedRow, planned_rows
from app.csv.upload import Upload, cells, errors_of, off_loop, read_upload, unique
from app.http.errors import Conflict, FieldError, NotFound
from app.http.pagination import PageRequest
from app.http.resource import StoredResource, rows_page_json
from app.journal.audited import (
    ResourceRef,
    StoredRow,
    delete_row_audited,
    insert_row_audited,
    record_created,
    record_updated,
    update_row_audited,
)
from app.journal.context import RequestContext, provide
from app.locations import messages as _messages  # noqa: F401 (registers its codes)
from app.locations.repository import ONE_COLUMNS, LocationRepository, LocationScope
from app.locations.schemas import Location, LocationCreate, LocationFilters, LocationUpdate
from app.locations.sheet import LOCATIONS
from app.locations.types import is_location_code
from app.models import Location as LocationRow
from app.text.rules import normalize

RESOURCE = "location"
# What a change may set (CSV uploads set all of it per row).
EDITABLE = set(LocationUpdate.model_fields)


def location_scope(scope: OrganizationScope) -> LocationScope:
    """The locations the caller sees: its own location when it has one, else all of the organization."""
    return LocationScope(scope.organization_id, scope.principal.location_id)


class LocationService:
    """Lists, reads and changes locations; a caller assigned to a location sees only that one."""

    def __init__(self, context: RequestContext) -> None:
        self.context = context

    @property
    def locations(self) -> LocationRepository:
        """The repository of this request's session."""
        return LocationRepository(self.context.session)

    async def search(self, scope: OrganizationScope, filters: LocationFilters, page: PageRequest) -> bytes:
        """依頼人拠点検索, as the JSON of `Page[Location]` (the hot path: rows straight to JSON)."""
        columns, rows, total = await self.locations.search(location_scope(scope), filters, page)
        return rows_page_json(Location, columns, rows, total, page)

    async def _stored(self, scope: OrganizationScope, code: str) -> StoredRow:
        """The row of a location within the caller's scope (the fast path); 404 otherwise."""
        row = await self.locations.one(location_scope(scope), code) if is_location_code(code) else None
        if row is None:
            raise NotFound()
        return StoredRow(Location, ONE_COLUMNS, row)

    async def get(self, scope: OrganizationScope, code: str) -> StoredResource:
        """One location within the caller's scope; 404 otherwise."""
        return (await self._stored(scope, code)).resource

    async def create(self, scope: OrganizationScope, body: LocationCreate) -> StoredResource:
        """依頼人拠点の追加; a code already used in the organization answers 409."""
        now = self.context.clock.now()
        values = {**body.model_dump(), "organization_id": scope.organization_id}
        try:
            return await insert_row_audited(
                self.locations,
                Location,
                {**values, "created_at": now, "updated_at": now},
                audit=self.context.audit,
                actor=scope.principal.actor,
                action="location.create",
                ref=ResourceRef(RESOURCE, body.code, scope.organization_id),
            )
        except IntegrityError:
            # The unique (organization, code) constraint decides; a check first would race anyway.
            raise Conflict("location_code_taken", context={"code": body.code}) from None

    async def update(
        self, scope: OrganizationScope, code: str, body: LocationUpdate, expected: set[int] | None
    ) -> StoredResource:
        """依頼人拠点情報の変更 and 記録等事務代行者委託番号の設定."""
        stored = await self._stored(scope, code)
        return await update_row_audited(
            self.locations,
            stored,
            body.model_dump(exclude_unset=True),
            expected_versions=expected,
            audit=self.context.audit,
            actor=scope.principal.actor,
            action="location.update",
            ref=ResourceRef(RESOURCE, code, scope.organization_id),
        )

    async def delete(self, scope: OrganizationScope, code: str, expected: set[int] | None) -> None:
        """依頼人拠点の削除; refused while users are assigned to the location, agents designated for it,
        or application templates belong to it."""
        stored = await self._stored(scope, code)
        location_id = stored["id"]
        assigned = await self.locations.user_count(location_id)
        if assigned:
            raise Conflict("location_in_use", context={"count": assigned})
        designated = await self.locations.designation_count(location_id)
        if designated:
            raise Conflict("location_has_designations", context={"count": designated})
        templates = await self.locations.template_count(location_id)
        if templates:
            raise Conflict("location_has_templates", context={"count": templates})
        await delete_row_audited(
            self.locations,
            stored,
            expected_versions=expected,
            audit=self.context.audit,
            actor=scope.principal.actor,
            action="location.delete",
            ref=ResourceRef(RESOURCE, code, scope.organization_id),
        )

    # For users and templates (their services look locations up here, never in this package's repository).

    async def find(self, scope: OrganizationScope, code: str) -> LocationRow | None:
        """The location with this code within the caller's scope; None otherwise (a location
        outside the scope is, to the caller, one that does not exist)."""
        return await self.locations.by_code(location_scope(scope), code)

    async def ids_by_codes(self, scope: OrganizationScope, codes: Collection[str]) -> dict[str, int]:
        """The ids of the locations with these codes within the caller's scope, by code."""
        found = await self.locations.by_codes(location_scope(scope), codes, lock=False)
        return {code: int(row.id) for code, row in found.items()}

    # CSV (SPEC §5.6, the sheet in app/locations/sheet.py)

    async def download(
        self, scope: OrganizationScope, filters: LocationFilters, encoding: CsvEncoding
    ) -> Download:
        """The locations the caller may read that match the filters, in code order, as CSV."""
        statement, params = self.locations.export_select(location_scope(scope), filters, LOCATIONS.names)
        return await download(
            self.context.runtime.engine,
            LOCATIONS,
            statement,
            params,
            encoding=encoding,
            filename=format_organization_id(scope.organization_id),
            now=self.context.clock.now(),
        )

    async def upload(self, scope: OrganizationScope, file: Upload, dry_run: bool) -> ImportResult:
        """Create or update the file's locations, all or nothing; 422 listing the wrong rows.
        Each row is checked as POST and PATCH check it (LocationCreate, LocationUpdate); the
        file is read and planned off the event loop."""
        table = await read_upload(file, LOCATIONS)
        rows = unique(table, LOCATIONS, normalize)
        existing = await self.locations.by_codes(
            location_scope(scope), {code for _, code in rows}, lock=not dry_run
        )
        plan = await off_loop(_plan, table, rows, existing, dry_run)
        refuse(plan.errors)
        result = ImportResult(created=len(plan.creates), updated=len(plan.updates), unchanged=plan.unchanged)
        if dry_run:
            result.planned = planned_rows(plan.planned)
            return result
        async with self.context.audit.batched():
            await self._create_many(scope, [body for _, body in plan.creates])
            await self._update_many(scope, plan.updates)
        return result

    # Bulk changes of an upload: the same rows and the same records of each change as one by one,
    # written by a few statements instead of several per row.

    async def _create_many(self, scope: OrganizationScope, bodies: Sequence[LocationCreate]) -> None:
        """依頼人拠点の追加 of many; 409 when a code was taken by someone else since it was looked up."""
        now = self.context.clock.now()
        created = [
            Location(**body.model_dump(), created_at=now, updated_at=now, version=1) for body in bodies
        ]
        rows = [
            {**location.model_dump(exclude={"version"}), "organization_id": scope.organization_id}
            for location in created
        ]
        try:
            await self.locations.insert_many(rows)
        except IntegrityError:
            raise Conflict("csv_conflict") from None
        for location in created:
            ref = ResourceRef(RESOURCE, location.code, scope.organization_id)
            await record_created(self.context.audit, scope.principal.actor, "location.create", ref, location)

    async def _update_many(
        self, scope: OrganizationScope, changes: Sequence[tuple[Row[Any], dict[str, Any]]]
    ) -> None:
        """依頼人拠点情報の変更 of many locations, each read and locked by LocationRepository.by_codes
        and given with the values to set (those that differ); recorded as `update` records a change."""
        now = self.context.clock.now()
        rows = []
        for row, values in changes:
            before = Location.model_validate(row)
            after = before.model_copy(update={**values, "updated_at": now, "version": before.version + 1})
            rows.append({"id": row.id, **after.model_dump(include=EDITABLE), "updated_at": now})
            ref = ResourceRef(RESOURCE, before.code, scope.organization_id)
            await record_updated(
                self.context.audit, scope.principal.actor, "location.update", ref, before, after
            )
        await self.locations.update_many(rows)


@dataclass
class _Plan:
    """What a checked upload would do; `errors` lists every wrong row (then it does nothing)."""

    errors: list[FieldError]
    creates: list[tuple[int, LocationCreate]] = field(default_factory=list)
    updates: list[tuple[Row[Any], dict[str, Any]]] = field(default_factory=list)
    planned: list[PlannedRow] = field(default_factory=list)
    unchanged: int = 0


def _plan(table: Table, rows: list[tuple[Any, str]], existing: dict[str, Row[Any]], listing: bool) -> _Plan:
    """Each row checked as POST (a new code) or PATCH (a known one) checks it (CPU-bound);
    `listing`: also what each row would do (a dry run's answer)."""
    plan = _Plan(errors=table.errors)
    for row, code in rows:
        location = existing.get(code)
        try:
            if location is None:
                body = LocationCreate.model_validate(cells(LOCATIONS, row))
                plan.creates.append((row.line, body))
                if listing:
                    plan.planned.append(
                        PlannedRow(row=row.line, action="create", key=body.code, fields=body.model_dump())
                    )
                continue
            values = LocationUpdate.model_validate(cells(LOCATIONS, row, "code")).model_dump(
                exclude_unset=True
            )
        except ValidationError as exc:
            plan.errors += errors_of(LOCATIONS, row.line, exc, table.headings, LOCATIONS.key)
            continue
        changed = {name: value for name, value in values.items() if getattr(location, name) != value}
        if changed:
            plan.updates.append((location, changed))
            if listing:
                fields = {name: [getattr(location, name), value] for name, value in changed.items()}
                plan.planned.append(
                    PlannedRow(row=row.line, action="update", key=location.code, fields=fields)
                )
        else:
            plan.unchanged += 1
    return plan


LocationServiceDep = Annotated[LocationService, Depends(provide(LocationService))]
