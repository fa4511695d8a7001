"""The one append-only way to write an audit event, in the caller's transaction."""

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

import orjson
from fastapi import Request
from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.config.clock import Clock
from app.db.bulk import insert_rows
from app.db.repository import Repository
from app.db.session import SessionDep
from app.journal.feed import (
    FEED_ACTIONS,
    in_one_statement,
    insert_with_event_and_entry,
    write_entries,
    write_event_and_entry,
)
from app.models import AuditEvent
from app.runtime import runtime_of

_EVENTS = cast(Table, AuditEvent.__table__)
_INSERT_EVENT = insert(_EVENTS)

# Never recorded, whatever a caller passes: the audit trail must not become a secret store.
SECRET_FIELDS = frozenset(
    {"password", "password_hash", "api_password", "api_password_hash", "current_password", "new_password"}
)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did it: kind (operator, user, linked_system, anonymous, system) and login ID or key id."""

    kind: str
    id: str | None


class AuditTrail:
    """Appends audit events for one request (its id and client address) or one CLI command."""

    def __init__(
        self, session: AsyncSession, clock: Clock, request_id: str | None, client_ip: str | None
    ) -> None:
        self.session = session
        self.clock = clock
        self.request_id = request_id
        self.client_ip = client_ip
        # Events and feed entries of a bulk change waiting to be written together (see `batched`).
        self._pending: list[dict[str, Any]] | None = None
        self._pending_entries: dict[int, list[dict[str, Any]]] = {}

    def _event(
        self,
        actor: Actor,
        action: str,
        resource_type: str,
        resource_id: str | None,
        organization_id: int | None,
        changes: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """The columns of one event; secret fields are dropped whatever the caller passed."""
        return {
            "at": self.clock.now(),
            "organization_id": organization_id,
            "actor_kind": actor.kind,
            "actor_id": actor.id,
            "action": action,
            "resource_type": resource_type,
            "resource_id": resource_id,
            "changes": {name: value for name, value in (changes or {}).items() if name not in SECRET_FIELDS},
            "request_id": self.request_id,
            "client_ip": self.client_ip,
        }

    async def record(
        self,
        actor: Actor,
        action: str,
        resource_type: str,
        resource_id: str | None,
        organization_id: int | None,
        changes: dict[str, Any] | None = None,
    ) -> None:
        """Write one event in the current transaction, with the change it records: a failing
        insert fails the request, and a rolled-back change takes its event with it.

        One Core INSERT, built once: events are only ever appended, never read back here, so
        the ORM's unit of work would add bookkeeping and nothing else.
        """
        event = self._event(actor, action, resource_type, resource_id, organization_id, changes)
        if self._pending is not None:
            self._pending.append(event)
            return
        await self.session.execute(_INSERT_EVENT, event)

    @asynccontextmanager
    async def batched(self) -> AsyncIterator[None]:
        """Within the block, each `record` is kept and all are written together at its end, still in
        the caller's transaction (a CSV upload records up to 10,000 changes: one INSERT per event
        would cost more than the changes themselves). A failing block writes none.

        Feed entries too: each organization's are numbered at the end, with one raise of its
        counter, so its counter row is locked only from then until the commit."""
        if self._pending is not None:
            yield  # already batching: the outer block writes
            return
        self._pending = []
        self._pending_entries = {}
        try:
            yield
            await insert_rows(self.session, _EVENTS, self._pending)
            for organization_id, entries in self._pending_entries.items():
                await write_entries(self.session, organization_id, entries)
        finally:
            self._pending = None
            self._pending_entries = {}

    async def record_change(
        self,
        actor: Actor,
        action: str,
        resource_type: str,
        resource_id: str,
        organization_id: int | None,
        changes: dict[str, Any],
        snapshot: dict[str, Any] | None,
    ) -> None:
        """Record a change of an organization, location or user: the one place for such changes.

        Writes the audit event and, for the actions of the change feed (SPEC §5.5, FEED_ACTIONS),
        the feed entry, in the current transaction. `snapshot` is the resource exactly as its own
        GET answers it after the change (None once deleted): the entry's data. Nothing else
        writes feed entries.
        """
        await self._write(
            *self.records(actor, action, resource_type, resource_id, organization_id, changes, snapshot)
        )

    async def insert_recorded(
        self,
        repository: Repository[Any],
        values: Mapping[str, Any],
        returning: Sequence[Any],
        records: tuple[dict[str, Any], dict[str, Any] | None],
    ) -> Sequence[Any]:
        """Insert a row (Repository.insert_returning: its `returning` columns) and write the event
        and entry of its creation (`records`) as `record_change` does.
        Where the row, the event and the entry can be one statement (a feed entry, not batched,
        `in_one_statement`), they are: the request's whole change (Repository.insert_alongside)."""
        event, entry = records
        if entry is None or self._pending is not None or not in_one_statement(self.session):
            row = await repository.insert_returning(values, returning)
            await self._write(event, entry)
            return row
        return await insert_with_event_and_entry(repository, values, returning, event, entry)

    def records(
        self,
        actor: Actor,
        action: str,
        resource_type: str,
        resource_id: str,
        organization_id: int | None,
        changes: dict[str, Any],
        snapshot: dict[str, Any] | None,
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The columns of a change's event, and of its feed entry (None: not one of the feed's),
        as `record_change` writes them."""
        event = self._event(actor, action, resource_type, resource_id, organization_id, changes)
        feed_action = FEED_ACTIONS.get(action)
        if feed_action is None or organization_id is None:
            return event, None
        data = None
        if snapshot is not None:
            shown = {name: value for name, value in snapshot.items() if name not in SECRET_FIELDS}
            data = orjson.dumps(shown).decode()
        entry = {
            "at": event["at"],
            "action": feed_action,
            "resource_type": resource_type,
            "resource_id": resource_id,
            "data": data,
        }
        return event, entry

    async def _write(self, event: dict[str, Any], entry: dict[str, Any] | None) -> None:
        """Write an event and its entry (if any) in the current transaction, or keep them (`batched`)."""
        if self._pending is not None:
            self._pending.append(event)
            if entry is not None:
                self._pending_entries.setdefault(event["organization_id"], []).append(entry)
            return
        if entry is None:
            await self.session.execute(_INSERT_EVENT, event)
            return
        await write_event_and_entry(self.session, event, entry)


async def request_audit_trail(session: SessionDep, request: Request) -> AuditTrail:
    """The audit trail of this request, in its session."""
    return AuditTrail(
        session,
        runtime_of(request).clock,
        getattr(request.state, "request_id", None),
        request.client.host if request.client else None,
    )
