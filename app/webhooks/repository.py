"""All SQL of webhooks: endpoints, their progress and leases, their attempts, and the feed entries
they deliver (read from the feed's tables, in feed order)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import (
    Integer,
    String,
    Table,
    Update,
    bindparam,
    delete,
    func,
    insert,
    literal,
    select,
    union_all,
    update,
)

from app.db.prepared import PreparedSelect
from app.db.repository import DEFERRED_JOIN_OFFSET, ListSelect, Repository
from app.http.pagination import PageRequest
from app.models import Change, ChangeCounter, Organization, WebhookDelivery, WebhookEndpoint, WebhookProgress
from app.webhooks.feed_source import CHANNEL, WORKERS
from app.webhooks.schemas import WebhookEndpoint as EndpointSchema

_NOTIFY = select(func.pg_notify(CHANNEL, bindparam("payload", type_=String)))
SORTABLE = {"created_at": WebhookEndpoint.created_at}
# One endpoint on the fast path: what it shows, in the order of the schema's fields (never its
# secrets), then its organization.
SHOWN = (
    *(getattr(WebhookEndpoint, name) for name in EndpointSchema.model_fields),
    WebhookEndpoint.organization_id,
)
SHOWN_COLUMNS = tuple(column.key for column in SHOWN)
_SHOWN_SELECT = PreparedSelect(
    select(*SHOWN).where(
        WebhookEndpoint.organization_id == bindparam("organization_id", type_=Integer),
        WebhookEndpoint.id == bindparam("endpoint_id", type_=String),
    )
)


@lru_cache(maxsize=8)
def _endpoints_select(sort: str, deep: bool) -> ListSelect:
    """An organization's endpoints as the single read selects them (`SHOWN`), in one order (a list
    select built once per shape)."""
    column = SORTABLE[sort.removeprefix("-")]
    key = column.desc() if sort.startswith("-") else column.asc()
    statement = select(*SHOWN).where(
        WebhookEndpoint.organization_id == bindparam("organization_id", type_=Integer)
    )
    return WebhookRepository.listed(statement, order_by=[key, WebhookEndpoint.id], deep=deep)


@lru_cache(maxsize=2)
def _deliveries_select(deep: bool) -> ListSelect:
    """An endpoint's attempts, newest first."""
    statement = select(WebhookDelivery).where(
        WebhookDelivery.endpoint_id == bindparam("endpoint_id", type_=String)
    )
    return WebhookRepository.listed(statement, order_by=[WebhookDelivery.id.desc()], deep=deep)


# The worker's writes per group of attempts, built once (SQLAlchemy then reuses their compiled SQL
# and cache keys), on the tables rather than the mapped classes (no ORM bulk or session
# synchronization): under a create load, building them per group cost as much CPU as the attempts.
_DELIVERIES = cast(Table, WebhookDelivery.__table__)
_PROGRESS = cast(Table, WebhookProgress.__table__)
_RECORD_ATTEMPTS = insert(_DELIVERIES)


@lru_cache(maxsize=16)
def _move_statement(columns: tuple[str, ...]) -> Update:
    """Set these progress columns (values bound as `new_<column>`) where this instance holds the lease."""
    progress = _PROGRESS.c
    return (
        update(_PROGRESS)
        .where(
            progress.endpoint_id == bindparam("endpoint", type_=String),
            progress.lease_owner == bindparam("owner", type_=String),
        )
        .values({name: bindparam(f"new_{name}", type_=progress[name].type) for name in columns})
    )


@dataclass(frozen=True, slots=True)
class Sealed:
    """An endpoint's sealed secrets and the key that sealed them."""

    key_id: str
    secret: bytes
    previous: bytes | None
    previous_until: datetime | None


@dataclass(frozen=True, slots=True)
class SealedEndpoint:
    """An endpoint's id, organization and sealed secrets (a key rotation's row)."""

    id: str
    organization_id: int
    sealed: Sealed


@dataclass(frozen=True, slots=True)
class Behind:
    """An enabled endpoint with feed entries after its position: from which number it waits
    (past what was pruned), through which, and for which actions (empty: all)."""

    organization_id: int
    after: int
    last: int
    event_types: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DeliveryState:
    """What the worker needs of an endpoint to deliver its next message."""

    endpoint_id: str
    organization_id: int
    url: str
    enabled: bool
    event_types: list[str]
    position: int
    attempt: int
    next_attempt_at: datetime | None
    failing_since: datetime | None
    lease_owner: str | None
    sealed: Sealed


class WebhookRepository(Repository[WebhookEndpoint]):
    """Endpoints of organizations, their delivery progress and attempts."""

    model = WebhookEndpoint

    async def lock_organization(self, organization_id: int) -> None:
        """Serialize creations of one organization's endpoints (the limit of 10 holds under bursts)."""
        await self.session.execute(
            select(Organization.id).where(Organization.id == organization_id).with_for_update()
        )

    async def count(self, organization_id: int) -> int:
        """How many endpoints the organization has."""
        statement = select(func.count()).where(WebhookEndpoint.organization_id == organization_id)
        return int(await self.session.scalar(statement) or 0)

    async def insert(self, values: dict[str, Any]) -> Sequence[Any]:
        """Insert a new endpoint (version 1) and read back what it shows (`SHOWN_COLUMNS`), in one
        statement (Repository.insert_returning)."""
        return await self.insert_returning({**values, "version": 1}, SHOWN)

    async def shown(self, organization_id: int, endpoint_id: str) -> Sequence[Any] | None:
        """One endpoint of the organization as it shows (`SHOWN_COLUMNS`), read as the lists are
        (app/db/prepared.py), or None."""
        return await _SHOWN_SELECT.first(
            self.session, {"organization_id": organization_id, "endpoint_id": endpoint_id}
        )

    async def search(
        self, organization_id: int, page: PageRequest
    ) -> tuple[tuple[str, ...], Sequence[Sequence[Any]], int]:
        """The organization's endpoints, oldest first, as the single read selects them
        (`SHOWN_COLUMNS`): (column names, rows, total)."""
        listed = _endpoints_select(page.sort_key(SORTABLE, "created_at"), page.offset >= DEFERRED_JOIN_OFFSET)
        rows, total = await self.page(
            listed, {"organization_id": organization_id}, limit=page.limit, offset=page.offset
        )
        return listed.columns, rows, total

    async def sealed(self, endpoint_id: str) -> Sealed | None:
        """The endpoint's sealed secrets."""
        row = (
            await self.session.execute(
                select(
                    WebhookEndpoint.key_id,
                    WebhookEndpoint.sealed_secret,
                    WebhookEndpoint.sealed_previous_secret,
                    WebhookEndpoint.previous_secret_until,
                ).where(WebhookEndpoint.id == endpoint_id)
            )
        ).one_or_none()
        return Sealed(*row) if row is not None else None

    # The key rotation (app/webhooks/resealing.py)

    async def sealed_under_other_keys(self, key_id: str, after_id: str, limit: int) -> list[SealedEndpoint]:
        """The next endpoints (by id) whose secrets are sealed under another key than `key_id`."""
        rows = await self.session.execute(
            select(
                WebhookEndpoint.id,
                WebhookEndpoint.organization_id,
                WebhookEndpoint.key_id,
                WebhookEndpoint.sealed_secret,
                WebhookEndpoint.sealed_previous_secret,
                WebhookEndpoint.previous_secret_until,
            )
            .where(WebhookEndpoint.key_id != key_id, WebhookEndpoint.id > after_id)
            .order_by(WebhookEndpoint.id)
            .limit(limit)
        )
        return [SealedEndpoint(row[0], row[1], Sealed(*row[2:])) for row in rows]

    async def reseal(
        self, before: SealedEndpoint, key_id: str, secret: bytes, previous: bytes | None
    ) -> bool:
        """Replace the sealed secrets if the row still holds those read (compare and set: an
        endpoint deleted or whose secret was rotated meanwhile is left alone); the version stays,
        since re-encryption changes nothing a client sees."""
        result = await self.session.execute(
            update(WebhookEndpoint)
            .where(
                WebhookEndpoint.id == before.id,
                WebhookEndpoint.key_id == before.sealed.key_id,
                WebhookEndpoint.sealed_secret == before.sealed.secret,
            )
            .values(key_id=key_id, sealed_secret=secret, sealed_previous_secret=previous)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def count_under_other_keys(self, key_id: str) -> int:
        """How many endpoints' secrets are sealed under another key than `key_id`."""
        count = select(func.count()).select_from(WebhookEndpoint).where(WebhookEndpoint.key_id != key_id)
        return int(await self.session.scalar(count) or 0)

    # Feed positions

    async def feed_position(self, organization_id: int) -> tuple[int, int]:
        """(newest number, pruned through) of the organization's feed."""
        row = (
            await self.session.execute(
                select(ChangeCounter.last, ChangeCounter.pruned_through).where(
                    ChangeCounter.organization_id == organization_id
                )
            )
        ).one_or_none()
        return (int(row[0]), int(row[1])) if row is not None else (0, 0)

    async def add_progress(self, endpoint_id: str, organization_id: int, position: int) -> None:
        """An endpoint's progress row: nothing delivered before `position`'s next entry."""
        await self.session.execute(
            insert(WebhookProgress).values(
                endpoint_id=endpoint_id, organization_id=organization_id, position=position, attempt=0
            )
        )

    async def restart(self, endpoint_id: str, position: int | None = None) -> None:
        """Attempt the next message at once (from `position` when given), with a fresh count of
        failures; the instance delivering it loses its lease, so that it stops at its next record."""
        values: dict[str, Any] = {
            "attempt": 0,
            "next_attempt_at": None,
            "failing_since": None,
            "lease_owner": None,
            "lease_expires_at": None,
        }
        if position is not None:
            values["position"] = position
        await self.session.execute(
            update(WebhookProgress).where(WebhookProgress.endpoint_id == endpoint_id).values(**values)
        )

    async def wake(self, organization_id: int) -> None:
        """Wake every instance's worker (PostgreSQL: notifications on the feed's channel, sent at
        commit: the organization's, which workers already waiting on it hear, and WORKERS', which
        every worker hears; feed readers of the organization look again, harmlessly)."""
        if self.session.bind.dialect.name == "postgresql":
            await self.session.execute(_NOTIFY, {"payload": str(organization_id)})
            await self.session.execute(_NOTIFY, {"payload": str(WORKERS)})

    # Attempts

    async def deliveries(self, endpoint_id: str, page: PageRequest) -> tuple[list[WebhookDelivery], int]:
        """The endpoint's attempts, newest first."""
        listed = _deliveries_select(page.offset >= DEFERRED_JOIN_OFFSET)
        rows, total = await self.page(
            listed, {"endpoint_id": endpoint_id}, limit=page.limit, offset=page.offset
        )
        return [row[0] for row in rows], total

    async def record_attempt(self, values: dict[str, Any]) -> None:
        """Append one attempt."""
        await self.record_attempts([values])

    async def record_attempts(self, rows: Sequence[dict[str, Any]]) -> None:
        """Append attempts (one statement)."""
        await self.session.execute(_RECORD_ATTEMPTS, list(rows))

    async def prune_deliveries(self, cutoff: datetime) -> int:
        """Delete attempts made before `cutoff`; returns how many."""
        result = await self.session.execute(
            delete(WebhookDelivery).where(WebhookDelivery.attempted_at < cutoff)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    # The worker

    async def claim(self, owner: str, now: datetime, until: datetime, limit: int) -> list[str]:
        """Lease up to `limit` enabled endpoints that have a message due and no live lease."""
        candidates = (
            select(WebhookProgress.endpoint_id)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookProgress.endpoint_id)
            .join(ChangeCounter, ChangeCounter.organization_id == WebhookProgress.organization_id)
            .where(
                WebhookEndpoint.enabled.is_(True),
                ChangeCounter.last > WebhookProgress.position,
                (WebhookProgress.lease_expires_at.is_(None)) | (WebhookProgress.lease_expires_at < now),
                (WebhookProgress.next_attempt_at.is_(None)) | (WebhookProgress.next_attempt_at <= now),
            )
            .order_by(WebhookProgress.next_attempt_at.nulls_first(), WebhookProgress.endpoint_id)
            .limit(limit)
        )
        if self.session.bind.dialect.name == "postgresql":
            candidates = candidates.with_for_update(of=WebhookProgress, skip_locked=True)
        ids = list((await self.session.scalars(candidates)).all())
        if ids:
            await self.session.execute(
                update(WebhookProgress)
                .where(WebhookProgress.endpoint_id.in_(ids))
                .values(lease_owner=owner, lease_expires_at=until)
            )
        return ids

    async def next_due(self, now: datetime) -> datetime | None:
        """The soonest time a retry or an expiring lease may make an endpoint due."""
        times = await self.session.execute(
            select(func.min(WebhookProgress.next_attempt_at), func.min(WebhookProgress.lease_expires_at))
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookProgress.endpoint_id)
            .where(WebhookEndpoint.enabled.is_(True))
        )
        found = [moment for moment in times.one() if moment is not None]
        return min(found) if found else None

    async def organizations_with_endpoints(self) -> list[int]:
        """Organizations with an enabled endpoint (whose changes wake the worker)."""
        statement = (
            select(WebhookEndpoint.organization_id).where(WebhookEndpoint.enabled.is_(True)).distinct()
        )
        return [int(value) for value in (await self.session.scalars(statement)).all()]

    # The backlog (the metrics' gauges)

    async def behind(self) -> list[Behind]:
        """Every enabled endpoint whose organization's feed goes past its position (the claim's
        join, without its conditions on leases and retries)."""
        rows = await self.session.execute(
            select(
                WebhookProgress.organization_id,
                WebhookProgress.position,
                ChangeCounter.pruned_through,
                ChangeCounter.last,
                WebhookEndpoint.event_types,
            )
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookProgress.endpoint_id)
            .join(ChangeCounter, ChangeCounter.organization_id == WebhookProgress.organization_id)
            .where(WebhookEndpoint.enabled.is_(True), ChangeCounter.last > WebhookProgress.position)
        )
        return [
            Behind(
                int(organization), max(int(position), int(pruned)), int(last), tuple(sorted(actions or ()))
            )
            for organization, position, pruned, last, actions in rows.all()
        ]

    async def waiting(self, ranges: Sequence[tuple[int, int, int, Sequence[str]]]) -> list[tuple[int, Any]]:
        """For each (organization, after, through, actions): how many feed entries numbered in
        (after, through] have one of these actions (empty: any), and the time of the oldest; in one
        statement, each range read on the feed's primary key."""
        if not ranges:
            return []
        parts = []
        for index, (organization_id, after, through, actions) in enumerate(ranges):
            part = select(
                literal(index).label("range"), func.count().label("waiting"), func.min(Change.at)
            ).where(Change.organization_id == organization_id, Change.seq > after, Change.seq <= through)
            if actions:
                part = part.where(Change.action.in_(list(actions)))
            parts.append(part)
        rows = (await self.session.execute(parts[0] if len(parts) == 1 else union_all(*parts))).all()
        found = {int(index): (int(count), oldest) for index, count, oldest in rows}
        return [found.get(index, (0, None)) for index in range(len(ranges))]

    async def delivery_state(self, endpoint_id: str) -> DeliveryState | None:
        """The endpoint and its progress, in one read."""
        row = (
            await self.session.execute(
                select(
                    WebhookEndpoint.organization_id,
                    WebhookEndpoint.url,
                    WebhookEndpoint.enabled,
                    WebhookEndpoint.event_types,
                    WebhookProgress.position,
                    WebhookProgress.attempt,
                    WebhookProgress.next_attempt_at,
                    WebhookProgress.failing_since,
                    WebhookProgress.lease_owner,
                    WebhookEndpoint.key_id,
                    WebhookEndpoint.sealed_secret,
                    WebhookEndpoint.sealed_previous_secret,
                    WebhookEndpoint.previous_secret_until,
                )
                .join(WebhookProgress, WebhookProgress.endpoint_id == WebhookEndpoint.id)
                .where(WebhookEndpoint.id == endpoint_id)
            )
        ).one_or_none()
        if row is None:
            return None
        organization_id, url, enabled, event_types, position, attempt, next_at, failing, owner = row[:9]
        return DeliveryState(
            endpoint_id,
            organization_id,
            url,
            enabled,
            list(event_types),
            position,
            attempt,
            next_at,
            failing,
            owner,
            Sealed(*row[9:]),
        )

    async def entries(
        self, organization_id: int, after: int, through: int, actions: Sequence[str], limit: int
    ) -> list[tuple[Any, ...]]:
        """Up to `limit` feed entries numbered in (after, through], of these actions (empty: all),
        oldest first: (seq, at, action, resource_type, resource_id, data)."""
        statement = select(
            Change.seq, Change.at, Change.action, Change.resource_type, Change.resource_id, Change.data
        ).where(Change.organization_id == organization_id, Change.seq > after, Change.seq <= through)
        if actions:
            statement = statement.where(Change.action.in_(list(actions)))
        rows = await self.session.execute(statement.order_by(Change.seq).limit(limit))
        return [tuple(row) for row in rows.all()]

    async def move(self, endpoint_id: str, owner: str, values: dict[str, Any]) -> bool:
        """Set the endpoint's progress if this instance still holds its lease; False otherwise."""
        statement = _move_statement(tuple(sorted(values)))
        bound = {f"new_{name}": value for name, value in values.items()}
        result = await self.session.execute(statement, {"endpoint": endpoint_id, "owner": owner, **bound})
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def release(self, endpoint_ids: Sequence[str], owner: str) -> None:
        """Give up this instance's leases of these endpoints."""
        await self.session.execute(
            update(WebhookProgress)
            .where(WebhookProgress.endpoint_id.in_(list(endpoint_ids)), WebhookProgress.lease_owner == owner)
            .values(lease_owner=None, lease_expires_at=None)
        )

    async def disable(self, endpoint_id: str, reason: str, now: datetime) -> bool:
        """Disable an enabled endpoint for `reason` (a new version of it); False when it was not enabled."""
        result = await self.session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.enabled.is_(True))
            .values(
                enabled=False,
                disabled_reason=reason,
                updated_at=now,
                version=WebhookEndpoint.version + 1,
            )
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]
