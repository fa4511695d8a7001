"""Audited changes of resources: create, update (with If-Match) and delete, each recorded once.

What an event records is derived from the resource's public form (its schema, as its own GET
answers it), never from a hand-written field list: a field added to the schema is recorded on
create, update and delete without another change here.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from app.db.repository import Repository
from app.http.errors import PreconditionFailed
from app.http.etag import check_version
from app.http.resource import StoredResource
from app.journal.audit_trail import Actor, AuditTrail

# Fields every change moves by itself: recorded as the change's time and version, not as changes.
BOOKKEEPING = frozenset({"updated_at", "version"})


def public_form(resource: BaseModel | StoredResource) -> dict[str, Any]:
    """The resource as JSON-ready values, as its GET answers it."""
    if isinstance(resource, StoredResource):
        return resource.public_form()
    return resource.model_dump(mode="json")


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """`{field: [before, after]}` for the public fields that differ, bookkeeping left out."""
    return {
        name: [before.get(name), value]
        for name, value in after.items()
        if name not in BOOKKEEPING and before.get(name) != value
    }


@dataclass(frozen=True, slots=True)
class ResourceRef:
    """What an audited change names: the resource's type and public id, and its organization."""

    type: str
    id: str
    organization_id: int | None


def _created(after: dict[str, Any]) -> dict[str, list[Any]]:
    """A new resource's changes: every public field, from nothing."""
    return {name: [None, value] for name, value in after.items() if name not in BOOKKEEPING}


async def record_created(
    audit: AuditTrail, actor: Actor, action: str, ref: ResourceRef, resource: BaseModel | StoredResource
) -> None:
    """Record a new resource: every public field, from nothing."""
    after = public_form(resource)
    await audit.record_change(actor, action, ref.type, ref.id, ref.organization_id, _created(after), after)


async def insert_row_audited(
    repository: Repository[Any],
    schema: type[BaseModel],
    values: Mapping[str, Any],
    *,
    audit: AuditTrail,
    actor: Actor,
    action: str,
    ref: ResourceRef,
) -> StoredResource:
    """An audited creation of a row whose columns of `schema`'s fields are its public form: the
    row inserted at version 1 and read back, every public field recorded from nothing; on
    PostgreSQL in one statement with its event and feed entry (AuditTrail.insert_recorded). The
    record is made from the values written, which are what the row holds (the answer is read
    back). A violated constraint raises SQLAlchemy's IntegrityError, and nothing is recorded."""
    columns = tuple(schema.model_fields)
    row = {**values, "version": 1}
    after = StoredResource.from_row(schema, columns, [row[name] for name in columns]).public_form()
    records = audit.records(actor, action, ref.type, ref.id, ref.organization_id, _created(after), after)
    returned = await audit.insert_recorded(
        repository, row, [getattr(repository.model, name) for name in columns], records
    )
    return StoredResource.from_row(schema, columns, returned)


async def record_updated(
    audit: AuditTrail,
    actor: Actor,
    action: str,
    ref: ResourceRef,
    before: BaseModel | StoredResource,
    after: BaseModel | StoredResource,
) -> None:
    """Record a changed resource: the public fields that differ between its two forms."""
    after_form = public_form(after)
    changes = changed_fields(public_form(before), after_form)
    await audit.record_change(actor, action, ref.type, ref.id, ref.organization_id, changes, after_form)


async def record_deleted(
    audit: AuditTrail, actor: Actor, action: str, ref: ResourceRef, resource: BaseModel | StoredResource
) -> None:
    """Record a deleted resource: every public field, to nothing."""
    changes = {name: [value, None] for name, value in public_form(resource).items()}
    await audit.record_change(actor, action, ref.type, ref.id, ref.organization_id, changes, None)


@dataclass(frozen=True, slots=True)
class StoredRow:
    """A resource's row as read: its columns' names, the row, and the resource it shows. The
    row-based twin of a loaded object, for the fast path. The columns are the schema's fields
    first, in order, where the schema shows its columns as they are; otherwise named by the
    schema's fields (`field__member` for a nested one's) in any order (`row_json`)."""

    schema: type[BaseModel]
    columns: tuple[str, ...]
    row: Sequence[Any]

    @property
    def resource(self) -> StoredResource:
        """The resource as its GET answers it."""
        return StoredResource.from_row(self.schema, self.columns, self.row)

    def __getitem__(self, name: str) -> Any:
        return self.row[self.columns.index(name)]

    def changed(self, written: Mapping[str, Any]) -> "StoredRow":
        """The same resource with these columns' values (a write's): the others as they were."""
        row = [written.get(name, value) for name, value in zip(self.columns, self.row, strict=True)]
        return StoredRow(self.schema, self.columns, row)


async def update_row_audited(
    repository: Repository[Any],
    stored: StoredRow,
    values: dict[str, Any],
    *,
    expected_versions: set[int] | None,
    audit: AuditTrail,
    actor: Actor,
    action: str,
    ref: ResourceRef,
    joined: Mapping[str, Any] | None = None,
) -> StoredResource:
    """An audited change of a row read on the fast path: check If-Match, write the values that
    differ in one versioned UPDATE (412 when another change came first), record what changed.

    The UPDATE returns the row's columns that are the model's column attributes of the same
    names; `joined` gives others as they are after the change (a joined location's code and
    name); a column neither gives stays as it was read (a designation's agent)."""
    before = stored.resource
    check_version(expected_versions, before.version)
    changed = {name: value for name, value in values.items() if stored[name] != value}
    if not changed:
        return before
    joined = joined or {}
    attributes = repository.model.__mapper__.column_attrs
    own = tuple(name for name in stored.columns if name not in joined and name in attributes)
    returned = await repository.update_versioned(
        stored["id"],
        before.version,
        {**changed, "updated_at": audit.clock.now()},
        [getattr(repository.model, name) for name in own],
    )
    if returned is None:
        raise PreconditionFailed()  # changed by someone else between our read and our write
    after = stored.changed({**dict(zip(own, returned, strict=True)), **joined}).resource
    await record_updated(audit, actor, action, ref, before, after)
    return after


async def delete_row_audited(
    repository: Repository[Any],
    stored: StoredRow,
    *,
    expected_versions: set[int] | None,
    audit: AuditTrail,
    actor: Actor,
    action: str,
    ref: ResourceRef,
) -> None:
    """An audited deletion of a row read on the fast path: If-Match, one versioned DELETE (412 when
    another change came first), and every public field of what was deleted recorded."""
    resource = await delete_row_versioned(repository, stored, expected_versions=expected_versions)
    await record_deleted(audit, actor, action, ref, resource)


async def delete_row_versioned(
    repository: Repository[Any], stored: StoredRow, *, expected_versions: set[int] | None
) -> StoredResource:
    """Check If-Match and delete a row read on the fast path in one versioned DELETE (412 when
    another change came first): what it showed, for the caller to record."""
    resource = stored.resource
    check_version(expected_versions, resource.version)
    if not await repository.delete_versioned(stored["id"], resource.version):
        raise PreconditionFailed()
    return resource
