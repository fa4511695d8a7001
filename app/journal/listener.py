"""Waking long-polling feed readers when an organization's change commits, on any instance.

On PostgreSQL each process keeps ONE connection of its own (outside the pool) that LISTENs on
the writer's channel (app/journal/feed.py); a notification wakes the readers of that organization
waiting in this process. A waiting reader holds an asyncio event and nothing else: no pooled
connection, no thread. If the connection drops, it is opened again (with a growing pause);
meanwhile, and on SQLite, readers look again every POLL_SECONDS instead, all at the same moments
(`poll_delay`), so that the readers of one position share one read (SharedReads).

`ChangeListener.wait_past(organization, number, ...)` is the one way to wait for a feed to move,
in a request or outside one (webhooks): it returns as soon as a number above the given one is
committed, on any instance, or when the time is up.
"""

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config.settings import Settings
from app.journal.feed import CHANNEL, read_notice
from app.journal.feed_repository import ChangeRepository

logger = logging.getLogger("ainas.changes")
T = TypeVar("T")

# How often a waiting reader looks again when no notification can come (SQLite, or the
# listening connection is down).
POLL_SECONDS = 0.5
_RECONNECT_FIRST_SECONDS = 0.5
_RECONNECT_MAX_SECONDS = 15.0
_CHECK_SECONDS = 30.0
# How the listening connection shows in pg_stat_activity.
APPLICATION_NAME = "ainas-change-listener"


class ChangeSignals:
    """One asyncio event per organization with waiting readers, set and replaced on each change;
    and, per organization, the newest number announced since the listening connection opened."""

    def __init__(self) -> None:
        self._events: dict[int, asyncio.Event] = {}
        self._announced: dict[int, int] = {}

    def event(self, organization_id: int) -> asyncio.Event:
        """The event the next change of this organization sets. Take it BEFORE reading: a change
        that commits between the read and the wait has then already set it."""
        event = self._events.get(organization_id)
        if event is None:
            event = self._events[organization_id] = asyncio.Event()
        return event

    def announced(self, organization_id: int) -> int | None:
        """The newest number of this organization that a notification announced (None: none heard).

        Every number above it is either not committed yet or committed with its notification still
        on the way: either way the event taken now will be set. So a reader whose cursor is here
        may wait without reading first (the long poll's common case: the next poll after an
        answer). Only while notifications arrive: `changed_everywhere` forgets every number when
        they may have stopped (and when they start again).
        """
        return self._announced.get(organization_id)

    def changed(self, organization_id: int, last: int | None = None) -> None:
        """Wake every reader waiting for this organization; `last` is its newest number (None: unknown)."""
        if last is None:
            self._announced.pop(organization_id, None)
        elif last > self._announced.get(organization_id, 0):
            self._announced[organization_id] = last
        event = self._events.pop(organization_id, None)
        if event is not None:
            event.set()

    def changed_everywhere(self) -> None:
        """Wake every waiting reader (notifications may have been missed)."""
        self._announced.clear()
        events, self._events = self._events, {}
        for event in events.values():
            event.set()


class SharedReads:
    """One database read for many waiting readers of one position (single flight).

    When a change (or, while readers poll, a poll tick) wakes 200 readers of one organization, they
    mostly ask the same thing: what follows one position, as one view sees it, each up to its own
    number of entries. The first starts the read; the others await its result. The read begins on
    the event loop's next turn and reads as many entries as the largest size asked by then (the
    readers woken at one moment have all asked); the caller takes its own share of the result.
    A reader who asks for more after the read began gets what it found: `Shared.covers` says
    whether that is all the reader asked for.

    A key holds the event the readers took before reading, so a read is only shared by readers
    that took that same event: its snapshot is younger than the event, and no change can fall
    between the two.
    """

    def __init__(self) -> None:
        self._running: dict[Hashable, _Flight] = {}

    async def run(self, key: Hashable, size: int, read: Callable[[int], Awaitable[T]]) -> "Shared[T]":
        """The result of `read(n)`, run once for every caller with this key at the same time; `n`
        is at least `size` unless the read had begun when this caller came."""
        flight = self._running.get(key)
        if flight is None:
            flight = self._running[key] = _Flight(size)
            flight.future = asyncio.ensure_future(self._fly(key, flight, read))
        elif not flight.started:
            flight.size = max(flight.size, size)
        # Shielded: one caller going away (a client disconnects) does not cancel the others' read.
        result: Shared[T] = await asyncio.shield(flight.future)
        return result

    async def _fly(
        self, key: Hashable, flight: "_Flight", read: Callable[[int], Awaitable[T]]
    ) -> "Shared[T]":
        flight.started = True
        try:
            return Shared(await read(flight.size), flight.size)
        finally:
            if self._running.get(key) is flight:
                del self._running[key]


@dataclass(slots=True)
class _Flight:
    """A read that runs (or is about to) for one key: the largest size asked before it began."""

    size: int
    started: bool = False
    future: "asyncio.Future[Any]" = field(init=False)


@dataclass(frozen=True, slots=True)
class Shared(Generic[T]):
    """What a shared read returned, and the size it read (entries: up to that many)."""

    result: T
    size: int

    def covers(self, size: int, found: int) -> bool:
        """Whether a read that found `found` entries holds the first `size` of them all: it read
        that many, or it found fewer than it could (there were no more)."""
        return size <= self.size or found < self.size


class WaitingSlots:
    """How many long polls each caller has waiting in this process: at most `limit` each.

    A caller is whatever the reader is handed to tell callers apart (the principal's subject); the
    count is this process's own, not shared between instances.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._held: dict[Hashable, int] = {}

    def take(self, caller: Hashable) -> bool:
        """Take one of the caller's slots; False when it holds `limit` already."""
        held = self._held.get(caller, 0)
        if held >= self.limit:
            return False
        self._held[caller] = held + 1
        return True

    def give_back(self, caller: Hashable) -> None:
        """Free a slot `take` gave."""
        held = self._held[caller] - 1
        if held:
            self._held[caller] = held
        else:
            del self._held[caller]

    @property
    def waiting(self) -> int:
        """How many long polls wait now, of every caller."""
        return sum(self._held.values())


class ChangeListener:
    """The process's LISTEN connection (PostgreSQL) and the signals it sets."""

    def __init__(self, settings: Settings) -> None:
        self.signals = ChangeSignals()
        self.shared = SharedReads()
        self.waiting = WaitingSlots(settings.long_polls_per_principal)
        self._settings = settings
        self._task: asyncio.Task[None] | None = None
        self._connection: asyncpg.Connection | None = None
        self._closed = False

    @property
    def live(self) -> bool:
        """True while notifications arrive; otherwise readers poll."""
        return self._connection is not None and not self._connection.is_closed()

    def nothing_after(self, organization_id: int, position: int) -> bool:
        """True when notifications say the organization has nothing after `position` yet (see
        ChangeSignals.announced); False when they cannot say."""
        return self.live and self.signals.announced(organization_id) == position

    async def wait_past(
        self,
        organization_id: int,
        number: int,
        seconds: float,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> int:
        """Wait until the organization's feed has a committed number above `number`, at most
        `seconds`; returns its newest number (`number` or below when the time ran out, or the
        process stops). Holds no connection while it waits: each look borrows one from
        `sessionmaker` (the runtime's `read_sessionmaker`) for one statement.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            # Taken before looking: a change that commits after the look has set it already.
            event = self.signals.event(organization_id)
            last = number
            if not self.nothing_after(organization_id, number):
                async with sessionmaker() as session:
                    last = await ChangeRepository(session).position(organization_id)
                if last > number:
                    return last
            remaining = deadline - loop.time()
            if remaining <= 0 or self.closed:
                return last
            await wait_for(event, remaining if self.live else min(remaining, POLL_SECONDS))

    @property
    def closed(self) -> bool:
        """True once the process stops: waiting readers answer at once."""
        return self._closed

    def start(self) -> None:
        """Begin listening in the background (PostgreSQL only; SQLite readers poll)."""
        if not self._settings.is_sqlite and self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._keep_listening(), name="change-listener"
            )

    def release(self) -> None:
        """From now on waiting readers answer at once (the instance drains: app/operations/drain.py)."""
        self._closed = True
        self.signals.changed_everywhere()

    async def stop(self) -> None:
        """Stop listening and release every waiting reader."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.signals.changed_everywhere()

    async def _keep_listening(self) -> None:
        pause = _RECONNECT_FIRST_SECONDS
        while True:
            try:
                await self._listen_until_dropped()
                pause = _RECONNECT_FIRST_SECONDS
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: the connection is gone, open another
                logger.warning(
                    "change feed listener: %s (%s); waiting readers poll every %.1fs; retrying in %.1fs",
                    type(exc).__name__,
                    exc,
                    POLL_SECONDS,
                    pause,
                )
            await asyncio.sleep(pause * random.uniform(0.8, 1.2))  # noqa: S311 (jitter, not a secret)
            pause = min(pause * 2, _RECONNECT_MAX_SECONDS)

    async def _listen_until_dropped(self) -> None:
        dropped = asyncio.Event()
        # A direct connection: behind a pooler in transaction mode LISTEN would not hold.
        url = make_url(self._settings.listen_url).set(drivername="postgresql")
        connection = await asyncpg.connect(
            url.render_as_string(hide_password=False),
            timeout=self._settings.db_timeout_seconds,
            server_settings={"application_name": APPLICATION_NAME},
            # Its few statements unnamed: nothing left behind, should the URL lead to a pooler.
            statement_cache_size=0,
        )
        try:
            connection.add_termination_listener(lambda _connection: dropped.set())
            await connection.add_listener(CHANNEL, self._notified)
            await _check_delivery(
                connection, url.render_as_string(hide_password=False), self._settings.db_timeout_seconds
            )
            self._connection = connection
            logger.info("change feed listener: listening")
            # Whatever committed while no connection listened has not been announced.
            self.signals.changed_everywhere()
            while not dropped.is_set():
                try:
                    await asyncio.wait_for(dropped.wait(), _CHECK_SECONDS)
                except TimeoutError:
                    # A network that fails silently closes nothing: ask, and fail if no answer.
                    await connection.fetchval("SELECT 1", timeout=self._settings.db_timeout_seconds)
            logger.warning("change feed listener: connection lost")
        finally:
            self._connection = None
            # Nothing is announced from now on: readers must read (and poll) until reconnected.
            self.signals.changed_everywhere()
            if not connection.is_closed():
                await connection.close(timeout=1)

    def _notified(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        notice = read_notice(payload)
        if notice is not None:
            self.signals.changed(*notice)


_PROBE_CHANNEL = "ainas_listen_probe"


async def _check_delivery(connection: asyncpg.Connection, dsn: str, seconds: float) -> None:
    """Fail unless a notification sent from another connection arrives on this one. Through a
    pooler in transaction mode LISTEN is accepted and then hears nothing: the session that
    listens goes back to the pooler's pool, and a notification for it is dropped."""
    heard = asyncio.Event()

    def hear(*_args: object) -> None:
        heard.set()

    await connection.add_listener(_PROBE_CHANNEL, hear)
    try:
        sender = await asyncpg.connect(dsn, timeout=seconds, statement_cache_size=0)
        try:
            await sender.execute(f"NOTIFY {_PROBE_CHANNEL}")
        finally:
            await sender.close(timeout=seconds)
        try:
            await asyncio.wait_for(heard.wait(), seconds)
        except TimeoutError:
            raise RuntimeError("LISTEN hears nothing on AINAS_LISTEN_DATABASE_URL (a pooler?)") from None
    finally:
        await connection.remove_listener(_PROBE_CHANNEL, hear)


def poll_delay(now: float) -> float:
    """Seconds from `now` (the event loop's clock) to the next poll: every POLL_SECONDS, at the same
    moments for every reader of the process, so that those of one position share their reads."""
    return POLL_SECONDS - now % POLL_SECONDS


async def wait_for(
    event: asyncio.Event | None, seconds: float, gone: "asyncio.Future[Any] | None" = None
) -> None:
    """Until the event is set, `gone` is done (the client left) or the time is up."""
    woken = asyncio.ensure_future(event.wait()) if event is not None else None
    waits = [task for task in (woken, gone) if task is not None]
    if not waits:
        await asyncio.sleep(seconds)
        return
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if woken is not None:
            woken.cancel()
