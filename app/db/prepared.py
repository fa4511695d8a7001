"""Hot reads: Core selects built once, with bound parameters only, and run with values.

Every authenticated request reads its caller, and linked systems poll lists. For
such reads SQLAlchemy's per-execution work (building the statement, its cache key, the execution
context, a session's transaction, result objects) costs more CPU than PostgreSQL spends answering
them. A PreparedSelect is built once (per shape of filters), so its SQL is compiled once per
dialect. On PostgreSQL it then runs as asyncpg's own prepared statement, on the asyncpg connection
underneath; elsewhere (SQLite) through SQLAlchemy. Both paths return rows that index like tuples,
in the order of the select's columns.

Which connection: while the request's session holds none (a request's first reads: who is
calling, what a list shows), one is borrowed from the engine's pool for the one statement, with
no Session and no transaction (asyncpg autocommits), and returned at once. Once the session holds
a connection, the statement runs on that one, inside the session's transaction: it sees the
request's own changes, and a request never waits for a second connection while holding one.

A select of mapped objects (`select(User)`: the lists whose items come from the model's
attributes) runs through the session, as the ORM must build those objects; it is still built
once per shape and bound, so SQLAlchemy compiles it once.

How PostgreSQL plans them: a prepared statement is planned for its values five times, then
PostgreSQL may keep one generic plan for every later execution on that connection
(`plan_cache_mode = auto`, the connections' setting, app/db/session.py). For a point read, a
write, a foreign key's check or a trigger's statement, that generic plan is the right one, and
planning again costs more than running it (measured: 0.2 ms of PostgreSQL's CPU per request for
the caller's and the resource's reads). A list must not keep one: a plan made for a tenant of 58
rows is the wrong one for a tenant of 200,000. So a `replanned` select (every list, built by
`Repository.listed`) is borrowed from the lists' own pool, whose connections plan every execution
for its values (`plan_cache_mode = force_custom_plan`; the engine names that pool in its
`REPLAN_OPTION`, app/db/session.py). No round trip is added: an earlier
`SET LOCAL` in a transaction of the list's own cost two more, and about an eighth of a
list's throughput. A list that must run on the request's session (a list of mapped objects, or one in a
request's transaction) is planned for its values by `SET LOCAL` in that transaction, or in a
read-only transaction of its own where the session has none. Behind a pooler in transaction mode
the option is absent: every statement is unnamed and planned for its values anyway.

THE ONE MODULE OF SQLALCHEMY'S PRIVATE API. Compiling for the driver needs what SQLAlchemy keeps
to itself: the compiled statement's result columns and bind processors, a type's cached
processors (also for app/db/bulk.py, through `bind_processor`), greenlet_spawn and await_only, and
the pool's queue class (`ReadyFirstPool`, for app/db/session.py). Every such use
(and the asyncpg adapter's lazy BEGIN, see `transaction_driver`) is in this file, written for
SQLAlchemy PINNED_SQLALCHEMY; tests/kernel/test_prepared.py fails
when the installed release differs (check each use below, then move the pin) and when any other
module of `app/` touches a private name of SQLAlchemy.
"""

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import Delete, Insert, Select, Update
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlalchemy.types import TypeEngine
from sqlalchemy.util import await_only, greenlet_spawn
from sqlalchemy.util.queue import AsyncAdaptedQueue, Empty

from app.db.faults import is_connection_failure

# The SQLAlchemy release whose private API this module was written for (see the docstring).
PINNED_SQLALCHEMY = "2.0.44"
# The engine's execution option that says its connections keep named prepared statements, which
# PostgreSQL may plan once: its value is the engine of the lists' own connections, which plan
# every execution (a `replanned` select borrows one; on the session's, see the module docstring).
REPLAN_OPTION = "ainas_replan_lists"
# Set in a session's `info` by `PreparedWrite.alone`: the request's change has committed.
COMMITTED_ALONE = "ainas.committed_alone"
_REPLAN_LOCAL = "SET LOCAL plan_cache_mode = force_custom_plan"
_REPLANNED = f"BEGIN READ ONLY; {_REPLAN_LOCAL}"


@dataclass(frozen=True, slots=True)
class _DriverStatement:
    """The select as PostgreSQL's driver runs it: SQL text and how to order and convert values."""

    sql: str
    names: tuple[str, ...]
    defaults: Mapping[str, Any]
    converters: Mapping[str, Callable[[Any], Any]]

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        values = []
        for name in self.names:
            value = params[name] if name in params else self.defaults[name]
            convert = self.converters.get(name)
            values.append(value if convert is None else convert(value))
        return values


class PreparedSelect:
    """A select whose values all come as bound parameters at execution."""

    def __init__(self, statement: Select[Any], *, replanned: bool = False) -> None:
        self.statement = statement
        # Planned for its values at every execution (a list; see the module's docstring).
        self.replanned = replanned
        self.columns: tuple[str, ...] = tuple(statement.exported_columns.keys())
        self._driver: dict[tuple[Any, ...], _DriverStatement | None] = {}
        # Mapped objects among the columns: only the session can build them.
        self.objects = any(
            found.get("entity") is not None and found["expr"] is found["entity"]
            for found in getattr(statement, "column_descriptions", ())
        )

    async def all(self, session: AsyncSession, params: Mapping[str, Any]) -> Sequence[Sequence[Any]]:
        """Every row, for these parameter values."""
        if self.objects or session.in_transaction():
            return await self.in_transaction(session, params)
        engine = session.bind
        assert isinstance(engine, AsyncEngine), "sessions are bound to one engine"
        driver_statement = self._driver_statement(engine.dialect)
        if driver_statement is None:
            async with engine.connect() as connection:
                return (await connection.execute(self.statement, dict(params))).all()
        lists: AsyncEngine | None = None
        if self.replanned:
            lists = engine.get_execution_options().get(REPLAN_OPTION)
        return await self._borrowed(engine if lists is None else lists, driver_statement, params)

    @classmethod
    async def _borrowed(
        cls, engine: AsyncEngine, driver_statement: "_DriverStatement", params: Mapping[str, Any]
    ) -> Sequence[Sequence[Any]]:
        """On a connection borrowed from the engine's pool for this one statement, without a
        transaction (asyncpg autocommits). A violated constraint is raised as SQLAlchemy's
        IntegrityError, as through the session.

        The pool is SQLAlchemy's synchronous code, which awaits the driver through a greenlet:
        one greenlet serves the checkout, the statement and the return (each greenlet costs
        about 8 µs to make)."""
        return await greenlet_spawn(cls._borrowing, engine, driver_statement, params)

    @classmethod
    def _borrowing(
        cls, engine: AsyncEngine, driver_statement: "_DriverStatement", params: Mapping[str, Any]
    ) -> Sequence[Sequence[Any]]:
        pooled = engine.sync_engine.pool.connect()
        try:
            rows: Sequence[Sequence[Any]] = await_only(
                cls._fetch(pooled.driver_connection, driver_statement, params)
            )
            return rows
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise IntegrityError(driver_statement.sql, None, exc) from exc
        except Exception as exc:
            if is_connection_failure(exc):
                # Not back into the pool: the server went away or hangs. Ended at once: inside a
                # greenlet SQLAlchemy would close it politely, waiting up to 2 s for that server.
                driver = pooled.driver_connection
                if driver is not None:
                    driver.terminate()
                pooled.invalidate(exc)
            raise
        finally:
            pooled.close()

    @staticmethod
    async def _fetch(
        driver: Any, statement: "_DriverStatement", params: Mapping[str, Any]
    ) -> Sequence[Sequence[Any]]:
        records: Sequence[Sequence[Any]] = await driver.fetch(statement.sql, *statement.arguments(params))
        return records

    async def first(self, session: AsyncSession, params: Mapping[str, Any]) -> Sequence[Any] | None:
        """The first row, or None."""
        rows = await self.all(session, params)
        return rows[0] if rows else None

    async def in_transaction(
        self, session: AsyncSession, params: Mapping[str, Any]
    ) -> Sequence[Sequence[Any]]:
        """Every row, on the session's connection inside its transaction (begun here when there is
        none): for a statement that writes (`PreparedWrite`) or must see the request's own writes.
        A violated constraint is raised as SQLAlchemy's IntegrityError, as through the session."""
        engine = session.bind
        assert isinstance(engine, AsyncEngine), "sessions are bound to one engine"
        driver_statement = None if self.objects else self._driver_statement(engine.dialect)
        if self.replanned and engine.get_execution_options().get(REPLAN_OPTION) is not None:
            return await self._replanned_in_session(session, driver_statement, params)
        return await self._in_session(session, driver_statement, params)

    async def _in_session(
        self, session: AsyncSession, driver_statement: "_DriverStatement | None", params: Mapping[str, Any]
    ) -> Sequence[Sequence[Any]]:
        if driver_statement is None:
            return (await session.execute(self.statement, dict(params))).all()
        driver = await transaction_driver(session)
        try:
            return await self._fetch(driver, driver_statement, params)
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise IntegrityError(driver_statement.sql, None, exc) from exc

    async def _replanned_in_session(
        self, session: AsyncSession, driver_statement: "_DriverStatement | None", params: Mapping[str, Any]
    ) -> Sequence[Sequence[Any]]:
        """`_in_session`, planned for its values: inside the session's transaction with SET LOCAL
        (to the transaction's end), or on a connection without one (a read: autocommit) in a
        read-only transaction of its own."""
        connection = await session.connection()
        raw = await connection.get_raw_connection()
        adapted: Any = raw.dbapi_connection
        driver: Any = raw.driver_connection
        if adapted.isolation_level != "autocommit":
            await transaction_driver(session)
            await driver.execute(_REPLAN_LOCAL)
            return await self._in_session(session, driver_statement, params)
        try:
            async with _replanning_transaction(driver):
                return await self._in_session(session, driver_statement, params)
        except BaseException as exc:
            if not isinstance(exc, Exception):
                raw.invalidate()  # interrupted inside its own transaction: never back into the pool
            raise

    def _driver_statement(self, dialect: Dialect) -> _DriverStatement | None:
        """The compiled form for asyncpg, made once per dialect; None where the driver path does
        not apply (another driver, or a column or value that needs SQLAlchemy's conversion)."""
        # By what the SQL depends on, not by the dialect object: engines come and go (tests),
        # and a new object may take a dead one's id.
        key = (dialect.name, dialect.driver, dialect.paramstyle, dialect.server_version_info)
        if key not in self._driver:
            self._driver[key] = _compile_for_asyncpg(self.statement, dialect)
        return self._driver[key]


class PreparedWrite(PreparedSelect):
    """An INSERT, UPDATE or DELETE (RETURNING what the caller needs) built once, run with values
    in the request's transaction (`in_transaction`): a single resource's write on the same path
    as its read. Every column it sets must be a bound value: a column default computed in Python
    (or on update) sends it through SQLAlchemy instead."""

    def __init__(self, statement: Insert | Update | Delete | Select[Any]) -> None:
        super().__init__(statement)  # type: ignore[arg-type]  # compiled and run as a select is

    async def alone(self, session: AsyncSession, params: Mapping[str, Any]) -> Sequence[Sequence[Any]]:
        """Every row, for a statement that is the request's whole change. While the session has
        begun no transaction, it runs on a borrowed connection as a transaction of its own (a
        single statement commits or fails whole, its deferred triggers included): no BEGIN and
        no COMMIT, two round trips and the session's transaction saved; the session then refuses
        to begin one (`COMMITTED_ALONE`), as what it wrote would not commit with the change.
        Otherwise (a transaction begun, or no driver path) in the session's transaction."""
        engine = session.bind
        assert isinstance(engine, AsyncEngine), "sessions are bound to one engine"
        driver_statement = self._driver_statement(engine.dialect)
        if driver_statement is None or session.in_transaction():
            return await self.in_transaction(session, params)
        session.info[COMMITTED_ALONE] = True
        return await self._borrowed(engine, driver_statement, params)


@contextlib.asynccontextmanager
async def _replanning_transaction(driver: Any) -> AsyncIterator[None]:
    """A read-only transaction, on a connection without one, whose statements are planned for
    their values; rolled back when what ran in it failed."""
    await driver.execute(_REPLANNED)
    try:
        yield
    except Exception:
        with contextlib.suppress(Exception):
            await driver.execute("ROLLBACK")
        raise
    await driver.execute("COMMIT")


def _compile_for_asyncpg(statement: Select[Any], dialect: Dialect) -> _DriverStatement | None:
    if dialect.driver != "asyncpg":
        return None
    compiled = statement.compile(dialect=dialect)
    if compiled.literal_execute_params or compiled.post_compile_params:
        return None  # rendered per execution (IN lists): only SQLAlchemy can run these
    if compiled.insert_prefetch or compiled.update_prefetch:
        return None  # column defaults computed in Python at execution: SQLAlchemy's to run
    # asyncpg returns what these columns hold as they are (aware datetimes, str, int, bool);
    # a column type that converts its results needs SQLAlchemy's result processing.
    for column in compiled._result_columns:
        if column.type._cached_result_processor(dialect, None) is not None:
            return None
    names = tuple(compiled.positiontup or ())
    converters: dict[str, Callable[[Any], Any]] = {}
    for name, processor in compiled._bind_processors.items():
        if not callable(processor):
            return None  # a processor per tuple element: an expanding parameter
        if name in names:
            converters[name] = processor
    return _DriverStatement(
        sql=compiled.string,
        names=names,
        defaults=compiled.construct_params(_check=False),
        converters=converters,
    )


async def transaction_driver(session: AsyncSession) -> Any:
    """The asyncpg connection under the session's connection, with the session's transaction
    begun on it: what runs on it directly is part of that transaction.

    SQLAlchemy's asyncpg adapter sends BEGIN lazily, with its first statement; a statement sent
    to the driver before any of SQLAlchemy's would otherwise run outside the transaction (and
    commit at once), so the adapter's own start is called here when it has not run yet."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    adapted: Any = raw.dbapi_connection
    if not adapted._started:
        async with adapted._execute_mutex:
            if not adapted._started:
                await adapted._start_transaction()
    return raw.driver_connection


def bind_processor(type_: TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """How a column of this type converts a value before the driver gets it (None: as it is)."""
    return type_._cached_bind_processor(dialect)


class _ReadyFirstQueue(AsyncAdaptedQueue[Any]):
    """SQLAlchemy's asyncio pool queue, which takes a free connection at once when no one waits,
    and hands a connection given back to the caller who has waited longest.

    SQLAlchemy's own waits for every checkout with `asyncio.wait_for` once the pool has opened all
    its connections (a loaded server's case): a task and a turn of the event loop for each
    connection borrowed, even a free one (6 % of a read's instructions, docs/performance.md).
    Here a caller takes a free connection at once while no one waits; otherwise it waits in line.
    A connection given back goes straight to the first in line, so that no newcomer can take it
    before the caller woken for it runs, whatever order the event loop runs them in (taking it
    first made that caller queue again at the end: a list's p99 at 32 connections went from 65
    to 250 ms in the version that did)."""

    def __init__(self, maxsize: int = 0, use_lifo: bool = False) -> None:
        super().__init__(maxsize, use_lifo)
        self._line: collections.deque[asyncio.Future[Any]] = collections.deque()

    @property
    def waiting(self) -> int:
        """Callers waiting for a connection."""
        return sum(1 for waiter in self._line if not waiter.done())

    def put_nowait(self, item: Any) -> None:
        while self._line:
            waiter = self._line.popleft()
            if not waiter.done():
                waiter.set_result(item)
                return
        super().put_nowait(item)

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if not block or self.waiting:
            self.put_nowait(item)
        else:
            super().put(item, block, timeout)

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        if not block:
            return self.get_nowait()
        if not self.waiting:
            try:
                return self.get_nowait()
            except Empty:
                pass
        waiter = asyncio.get_running_loop().create_future()
        self._line.append(waiter)
        try:
            return self.await_(asyncio.wait_for(waiter, timeout))
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                self.put_nowait(waiter.result())  # handed over as this caller gave up: the next one's
            else:
                waiter.cancel()
            if isinstance(exc, asyncio.TimeoutError):
                raise Empty() from exc
            raise


class ReadyFirstPool(AsyncAdaptedQueuePool):
    """The pool of the service's PostgreSQL engines (app/db/session.py): SQLAlchemy's asyncio
    queue pool with `_ReadyFirstQueue`."""

    _queue_class = _ReadyFirstQueue


def waiting_callers(pool: Any) -> int:
    """Callers waiting for a connection of this pool (0 for a pool of another kind: SQLite's)."""
    queue = getattr(pool, "_pool", None)
    return queue.waiting if isinstance(queue, _ReadyFirstQueue) else 0
