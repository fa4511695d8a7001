"""Reading an organization's change feed (SPEC §5.5), waiting for changes, and pruning old ones.

Entries are numbered 1, 2, 3, ... per organization, without gaps and in commit order (why:
app/journal/feed.py). A cursor is a position in that numbering: "I have seen everything up to
N". Reading `number > N` in order therefore yields each committed change exactly once.

Two consumers: the HTTP long poll (`ChangeFeedService.read`, behind app/changes/router.py) and
anything that follows a feed outside a request (webhooks): `read_entries` (entries after a
position for an organization, of the resource types a caller sees, up to a limit) and the
listener's `wait_past` (app/journal/listener.py). Neither knows who the caller is: what it may
see comes from the permission table (app/auth/permissions.py, `visible_changes`), passed in, and
so does an opaque key that tells callers apart (each may have so many long polls waiting).
"""

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.session import release_connection
from app.http.errors import Gone, ProblemError, TooManyRequests
from app.journal.context import RequestContext, provide
from app.journal.cursor import decode_cursor, encode_cursor
from app.journal.feed_repository import ChangeRepository, FeedPage
from app.journal.feed_schemas import ChangeQuery
from app.journal.listener import ChangeListener, poll_delay, wait_for
from app.journal.metrics import LONG_POLLS_WAITING
from app.runtime import Runtime

logger = logging.getLogger("ainas.changes")
# Retry-After of a long poll refused because its caller has all its waiting slots taken: one of
# them ends with the next change, or when its wait is up (30 s at most).
WAITING_RETRY_SECONDS = 5


class ChangeFeedService:
    """The change feed of one organization, as one caller may see it."""

    def __init__(self, context: RequestContext) -> None:
        self.context = context

    @property
    def changes(self) -> ChangeRepository:
        """The repository of this request's session."""
        return ChangeRepository(self.context.session)

    async def read(
        self,
        organization_id: int,
        visible: frozenset[str] | None,
        query: ChangeQuery,
        listener: ChangeListener | None,
        caller: Hashable | None = None,
        gone: Callable[[], Awaitable[object]] | None = None,
    ) -> bytes:
        """The JSON of a ChangeFeed: changes after `query.after` of the resource types the caller
        sees (`visible`, None: all), waiting up to `query.wait` for one. A wait holds one of the
        `caller`'s waiting slots (429 when it has none left) and ends early when `gone()` returns
        (the client has left)."""
        if not query.after:
            return self._document(organization_id, [], await self.changes.position(organization_id))
        decoded = decode_cursor(self.context.settings.secret_key, organization_id, query.after)
        if decoded is None:
            raise ProblemError("invalid_cursor")
        after = decoded
        types = visible
        loop = asyncio.get_running_loop()
        deadline = loop.time() + query.wait
        with contextlib.ExitStack() as held:
            # Done when the client has left; None until the request first waits.
            watch: asyncio.Future[object] | None = None
            while True:
                # Taken before reading: a change that commits after the read has set it already.
                event = (
                    listener.signals.event(organization_id) if listener is not None and query.wait else None
                )
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
                        answer = await self._shared_answer(
                            listener, event, organization_id, after, query.limit, types
                        )
                    else:
                        answer = await self._answer(organization_id, after, query.limit, types)
                    if (
                        answer.entries
                        or deadline <= loop.time()
                        or (listener is not None and listener.closed)
                    ):
                        return answer.document
                    # Nothing this caller sees yet; what it cannot see (users, for a linked system) is behind it.
                    after = answer.position
                if watch is None:
                    watch = held.enter_context(_waiting(listener, caller, gone))
                await release_connection(self.context.session)
                remaining = deadline - loop.time()
                live = listener is not None and listener.live
                with LONG_POLLS_WAITING.track_inprogress():
                    await wait_for(
                        event, remaining if live else min(remaining, poll_delay(loop.time())), watch
                    )
                if watch.done():  # the client has left: nobody to answer
                    return self._document(organization_id, [], after)

    async def _shared_answer(
        self,
        listener: ChangeListener,
        event: asyncio.Event,
        organization_id: int,
        after: int,
        limit: int,
        types: frozenset[str] | None,
    ) -> "Answer":
        """The answer from a read shared by the readers of this key (SharedReads), in a session of its
        own; readers of one limit share the answer too. If the read began before this reader came and
        read fewer entries than it asks for, while there were more, this reader reads on its own."""

        async def read(size: int) -> Answers:
            async with self.context.runtime.read_sessionmaker() as own:
                page = await read_entries(own, organization_id, after, visible=types, limit=size)
            return Answers(page)

        # The event in the key: see SharedReads. Not the limit: each reader takes its share.
        shared = await listener.shared.run((event, organization_id, after, types), limit, read)
        answers = shared.result
        if not shared.covers(limit, len(answers.page.entries)):
            async with self.context.runtime.read_sessionmaker() as own:
                answers = Answers(await read_entries(own, organization_id, after, visible=types, limit=limit))
        return answers.answer(limit, lambda page: self._written(organization_id, after, page, limit))

    async def _answer(
        self, organization_id: int, after: int, limit: int, types: frozenset[str] | None
    ) -> "Answer":
        """Read after `after` in the request's session and write the answer."""
        page = await read_entries(self.context.session, organization_id, after, visible=types, limit=limit)
        return self._written(organization_id, after, page, limit)

    def _written(self, organization_id: int, after: int, page: FeedPage, limit: int) -> "Answer":
        """The answer to a reader after `after` with this limit, from a page holding at least its
        first `limit` entries (400 or 410 when the page says the cursor is wrong or too old)."""
        self._check(after, page)
        mine = FeedPage(page.last, page.pruned_through, page.entries[:limit])
        position = next_position(mine, limit)
        return Answer(bool(mine.entries), position, self._document(organization_id, mine.entries, position))

    def _check(self, after: int, page: FeedPage) -> None:
        """400 for a position this database never reached; 410 when entries after it were pruned."""
        if after > page.last:
            raise ProblemError("invalid_cursor")
        if after < page.pruned_through:
            raise Gone("cursor_expired", context={"days": self.context.settings.change_retention_days})

    def _document(self, organization_id: int, entries: Sequence[Sequence[Any]], position: int) -> bytes:
        """The answer, written straight to JSON; each entry's data is copied as it was stored."""
        secret = self.context.settings.secret_key
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


@contextlib.contextmanager
def _waiting(
    listener: ChangeListener | None, caller: Hashable | None, gone: Callable[[], Awaitable[object]] | None
) -> Iterator["asyncio.Future[object]"]:
    """What a long poll holds while it waits: one of its caller's waiting slots (429 when the caller
    holds them all), and a watch on its client, done when the client has left. Both are given back
    however the request ends (an answer, an error, the client cancelled, the instance drains)."""
    slots = listener.waiting if listener is not None and caller is not None else None
    if slots is not None and not slots.take(caller):
        raise TooManyRequests(WAITING_RETRY_SECONDS, "too_many_long_polls", context={"limit": slots.limit})
    loop = asyncio.get_running_loop()
    watch: asyncio.Future[object] = (
        asyncio.ensure_future(gone()) if gone is not None else loop.create_future()
    )
    try:
        yield watch
    finally:
        watch.cancel()
        if slots is not None:
            slots.give_back(caller)


class Answers:
    """A page read for one or more readers, and the answer written from it for each limit they
    asked (readers of one limit share it, JSON and all)."""

    __slots__ = ("_written", "page")

    def __init__(self, page: FeedPage) -> None:
        self.page = page
        self._written: dict[int, Answer] = {}

    def answer(self, limit: int, write: Callable[[FeedPage], "Answer"]) -> "Answer":
        """The answer for this limit, written by `write(page)` the first time it is asked."""
        written = self._written.get(limit)
        if written is None:
            written = self._written[limit] = write(self.page)
        return written


@dataclass(frozen=True, slots=True)
class Answer:
    """One read's outcome: whether it found changes, where the next read starts, and the JSON."""

    entries: bool
    position: int
    document: bytes


async def read_entries(
    session: AsyncSession, organization_id: int, after: int, *, visible: frozenset[str] | None, limit: int
) -> FeedPage:
    """Up to `limit` entries of the organization numbered after `after`, oldest first, of the
    resource types in `visible` (None: all), with the feed's newest and pruned-through numbers
    from the same snapshot (a position above `last` was never issued; below `pruned_through`, its
    entries are gone). Each entry is ENTRY_COLUMNS (app/journal/feed_repository.py); the next
    position to read from is `next_position(page, limit)`. Usable in any session, outside a request.
    """
    return await ChangeRepository(session).read(organization_id, after, limit, visible)


def next_position(page: FeedPage, limit: int) -> int:
    """Where the next read starts: after the last entry of a full page; after everything the
    snapshot held otherwise (entries and `last` come from one snapshot, so nothing in between
    is committed-but-unseen; for a caller who sees only some types, that skips the others)."""
    if len(page.entries) == limit:
        return int(page.entries[-1][0])
    return page.last


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
