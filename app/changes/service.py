"""Reading an organization's change feed (SPEC §5.5), waiting for changes, and pruning old ones.

Entries are numbered 1, 2, 3, ... per organization, without gaps and in commit order (why:
app/journal/feed.py). A cursor is a position in that numbering: "I have seen everything up to
N". Reading `number > N` in order therefore yields each committed change exactly once.
"""

import asyncio
import contextlib
import functools
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.dependencies import OrganizationScope
from app.auth.permissions import visible_changes
from app.changes.cursor import decode_cursor, encode_cursor
from app.changes.listener import POLL_SECONDS, ChangeListener
from app.changes.repository import ChangeRepository, FeedPage
from app.changes.schemas import ChangeQuery
from app.db.session import release_connection
from app.http.errors import Gone, ProblemError
from app.journal.unit_of_work import Service, provide
from app.runtime import Runtime

logger = logging.getLogger("ainas.changes")


class ChangeFeedService(Service):
    """The change feed of one organization, as one caller may see it."""

    @property
    def changes(self) -> ChangeRepository:
        """The repository of this request's session."""
        return ChangeRepository(self.session)

    async def read(
        self, scope: OrganizationScope, query: ChangeQuery, listener: ChangeListener | None
    ) -> bytes:
        """The JSON of a ChangeFeed: changes after `query.after`, waiting up to `query.wait` for one."""
        organization_id = scope.organization_id
        if not query.after:
            return self._document(organization_id, [], await self.changes.position(organization_id))
        decoded = decode_cursor(self.settings.secret_key, organization_id, query.after)
        if decoded is None:
            raise ProblemError("invalid_cursor")
        after = decoded
        types = visible_changes(scope.principal)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + query.wait
        while True:
            # Taken before reading: a change that commits after the read has set it already.
            event = listener.signals.event(organization_id) if listener is not None and query.wait else None
            # The next poll after an answer usually has nothing to read yet: notifications say so,
            # and it waits first. The read after the wait checks the cursor again (400, 410).
            skip_read = (
                listener is not None
                and event is not None
                and deadline > loop.time()
                and listener.nothing_after(organization_id, after)
            )
            if not skip_read:
                if listener is not None and event is not None:
                    read = functools.partial(self._answer, organization_id, after, query.limit, types, None)
                    key = (event, organization_id, after, query.limit, types)
                    answer = await listener.shared.run(key, read)
                else:
                    answer = await self._answer(organization_id, after, query.limit, types, self.session)
                if answer.entries or deadline <= loop.time() or (listener is not None and listener.closed):
                    return answer.document
                # Nothing this caller sees yet; what it cannot see (users, for a linked system) is behind it.
                after = answer.position
            await release_connection(self.session)
            remaining = deadline - loop.time()
            live = listener is not None and listener.live
            await _wait(event, remaining if live else min(remaining, POLL_SECONDS))

    async def _answer(
        self,
        organization_id: int,
        after: int,
        limit: int,
        types: frozenset[str] | None,
        session: AsyncSession | None,
    ) -> "Answer":
        """Read after `after` and write the answer. Without a session, in one of its own: then it
        may be shared by the readers that a change woke together (SharedReads), answer and all."""
        if session is None:
            async with self.runtime.read_sessionmaker() as own:
                page = await ChangeRepository(own).read(organization_id, after, limit, types)
        else:
            page = await ChangeRepository(session).read(organization_id, after, limit, types)
        self._check(after, page)
        position = next_position(page, limit)
        return Answer(bool(page.entries), position, self._document(organization_id, page.entries, position))

    def _check(self, after: int, page: FeedPage) -> None:
        """400 for a position this database never reached; 410 when entries after it were pruned."""
        if after > page.last:
            raise ProblemError("invalid_cursor")
        if after < page.pruned_through:
            raise Gone("cursor_expired", context={"days": self.settings.change_retention_days})

    def _document(self, organization_id: int, entries: Sequence[Sequence[Any]], position: int) -> bytes:
        """The answer, written straight to JSON; each entry's data is copied as it was stored."""
        secret = self.settings.secret_key
        items = [
            {
                "cursor": encode_cursor(secret, organization_id, seq),
                "at": at,
                "action": action,
                "resource": {"type": resource_type, "id": resource_id},
                "data": orjson.Fragment(data) if data is not None else None,
            }
            for seq, at, action, resource_type, resource_id, data in entries
        ]
        document = {"items": items, "next_cursor": encode_cursor(secret, organization_id, position)}
        return orjson.dumps(document, option=orjson.OPT_UTC_Z)


@dataclass(frozen=True, slots=True)
class Answer:
    """One read's outcome: whether it found changes, where the next read starts, and the JSON."""

    entries: bool
    position: int
    document: bytes


def next_position(page: FeedPage, limit: int) -> int:
    """Where the next read starts: after the last entry of a full page; after everything the
    snapshot held otherwise (entries and `last` come from one snapshot, so nothing in between
    is committed-but-unseen; for a caller who sees only some types, that skips the others)."""
    if len(page.entries) == limit:
        return int(page.entries[-1][0])
    return page.last


async def _wait(event: asyncio.Event | None, seconds: float) -> None:
    """Until the event is set or the time is up."""
    if event is None:
        await asyncio.sleep(seconds)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)


def change_listener(request: Request) -> ChangeListener | None:
    """The process's listener, when the application's lifespan started one."""
    listener: ChangeListener | None = getattr(request.app.state, "change_listener", None)
    return listener


async def prune_changes(runtime: Runtime) -> int:
    """Delete entries older than the retention period, organization by organization; returns how many.

    First the counter says "pruned through N" (a short transaction: the counter row is what
    writers lock), then the entries go. A reader whose cursor is behind N gets 410 from the
    first step on, so it never sees a feed with a hole in it.
    """
    cutoff = runtime.clock.now() - timedelta(days=runtime.settings.change_retention_days)
    async with runtime.sessionmaker() as session:
        prunable = await ChangeRepository(session).prunable(cutoff)
    deleted = 0
    for organization_id, through in prunable:
        async with runtime.sessionmaker() as session, session.begin():
            await ChangeRepository(session).mark_pruned(organization_id, through)
        async with runtime.sessionmaker() as session, session.begin():
            deleted += await ChangeRepository(session).delete_pruned(organization_id)
    return deleted


PRUNE_EVERY_SECONDS = 3600.0


async def prune_periodically(runtime: Runtime) -> None:
    """Prune about once an hour while the process runs (instances at random times; pruning twice is harmless)."""
    while True:
        await asyncio.sleep(PRUNE_EVERY_SECONDS * random.uniform(0.5, 1.0))  # noqa: S311 (spread, not a secret)
        try:
            deleted = await prune_changes(runtime)
        except Exception as exc:  # the next round tries again; serving goes on
            logger.warning("change feed pruning failed: %s", type(exc).__name__)
            continue
        if deleted:
            logger.info(
                "change feed: pruned %d entries older than %d days",
                deleted,
                runtime.settings.change_retention_days,
            )


ChangeFeedServiceDep = Annotated[ChangeFeedService, Depends(provide(ChangeFeedService))]
ChangeListenerDep = Annotated[ChangeListener | None, Depends(change_listener)]
