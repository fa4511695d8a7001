"""How a request borrows its connections on PostgreSQL (app/db/prepared.py): a free connection is
taken at once, without a task or a turn of the event loop, and one greenlet serves a borrowed
statement's checkout, execution and return (each greenlet costs the kernel a mapping of memory)."""

import asyncio
from collections.abc import Coroutine, Generator
from typing import Any

import greenlet
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import literal, make_url, select
from sqlalchemy.util import greenlet_spawn
from sqlalchemy.util.queue import Empty

from app.config.settings import Settings
from app.db.prepared import PreparedSelect, ReadyFirstPool
from app.db.session import create_engine, create_sessionmaker, engines_of
from tests.conftest import make_settings
from tests.fixtures.database import TestDatabase
from tests.fixtures.world import World

CONNECTIONS = 4  # 3 for requests, 1 for lists (app/db/session.py)
REQUESTS = 12


@pytest.fixture
def settings(database: TestDatabase) -> Settings:
    """A small pool, so that a few simultaneous requests open every connection of it."""
    return make_settings(database.url, db_pool_size=CONNECTIONS)


def _queue() -> Any:
    return ReadyFirstPool._queue_class(maxsize=2)


async def test_a_free_connection_is_taken_without_waiting() -> None:
    queue = _queue()
    queue.put_nowait("free")
    # Outside a greenlet: SQLAlchemy's own queue would have to await (MissingGreenlet here).
    assert queue.get(True, 5) == "free"


async def test_without_a_free_connection_the_caller_waits_its_timeout_then_is_refused() -> None:
    queue = _queue()
    with pytest.raises(Empty):
        queue.get(False)
    started = asyncio.get_running_loop().time()
    with pytest.raises(Empty):
        await greenlet_spawn(queue.get, True, 0.2)
    assert asyncio.get_running_loop().time() - started >= 0.2
    assert queue.waiting == 0

    async def later() -> None:
        await asyncio.sleep(0.05)
        queue.put_nowait("returned")

    returning = asyncio.create_task(later())
    assert await greenlet_spawn(queue.get, True, 5) == "returned"
    await returning
    assert queue.waiting == 0
    with pytest.raises(Empty):
        queue.get_nowait()  # handed over, never left in the queue


@pytest.mark.parametrize("wait", [5.0, None])
async def test_a_newcomer_does_not_overtake_a_caller_waiting_for_a_connection(wait: float | None) -> None:
    queue = _queue()
    served: set[str] = set()

    async def waiting() -> None:
        served.add(await greenlet_spawn(queue.get, True, wait) + " to the waiting caller")

    async def give_back_later() -> None:
        await asyncio.sleep(0.05)
        queue.put_nowait("connection 2")

    first = asyncio.create_task(waiting())
    await asyncio.sleep(0.05)  # waiting for a connection
    assert queue.waiting == 1
    later = asyncio.create_task(give_back_later())
    queue.put_nowait("connection 1")  # given back: the waiting caller is woken for it...
    # ...and a newcomer asks before the woken caller has run.
    served.add(await greenlet_spawn(queue.get, True, wait) + " to the newcomer")
    await asyncio.gather(first, later)
    assert served == {"connection 1 to the waiting caller", "connection 2 to the newcomer"}
    assert queue.waiting == 0


async def test_a_connection_handed_to_a_caller_who_gives_up_is_never_lost() -> None:
    queue = _queue()
    first = asyncio.create_task(greenlet_spawn(queue.get, True, 5))
    second = asyncio.create_task(greenlet_spawn(queue.get, True, 5))
    await asyncio.sleep(0.05)
    assert queue.waiting == 2
    queue.put_nowait("connection")  # handed to the first in line...
    first.cancel()  # ...who is cancelled before it has run
    (outcome,) = await asyncio.gather(first, return_exceptions=True)
    if outcome == "connection":
        # Python 3.11's wait_for keeps a result that came before the cancellation: the first
        # caller has the connection (and gives it back when done); the second still waits.
        assert queue.waiting == 1
        queue.put_nowait("given back")
        assert await second == "given back"
    else:
        assert isinstance(outcome, asyncio.CancelledError)
        assert await second == "connection"  # passed on to the next in line
    assert queue.waiting == 0
    cancelled = asyncio.create_task(greenlet_spawn(queue.get, True, 5))
    await asyncio.sleep(0.05)
    cancelled.cancel()  # gives up while waiting: out of the line
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert queue.waiting == 0
    queue.put_nowait("free")
    assert queue.get(True, 5) == "free"  # not handed to the caller who left


def _paths(world: World) -> list[str]:
    """A list of each kind and a read of one (locations L1 and L2 are the world's)."""
    return [
        f"{world.a.path}/locations?limit=50",
        f"{world.a.path}/users?limit=10",
        f"{world.a.path}/locations/L1",
    ]


async def _fill_pools(client: httpx.AsyncClient, world: World) -> None:
    """Open every connection of both pools, as a loaded server has them."""
    answers = await asyncio.gather(
        *(client.get(path, headers=world.a.admin.headers) for path in _paths(world) * CONNECTIONS)
    )
    assert {answer.status_code for answer in answers} == {200}


@pytest.mark.postgres_only
async def test_reads_borrow_free_connections_without_a_task(
    app: FastAPI, client: httpx.AsyncClient, world: World
) -> None:
    for engine in engines_of(app.state.runtime.engine):
        assert isinstance(engine.sync_engine.pool, ReadyFirstPool)
    await _fill_pools(client, world)
    assert all(engine.sync_engine.pool.checkedin() >= 1 for engine in engines_of(app.state.runtime.engine))
    loop = asyncio.get_running_loop()
    created: list[Coroutine[Any, Any, Any] | Generator[Any, None, Any]] = []
    factory = loop.get_task_factory()

    def counting(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Future[Any]:
        created.append(coro)
        return asyncio.Task(coro, loop=loop, **kwargs)

    loop.set_task_factory(counting)
    try:
        for path in _paths(world) * (REQUESTS // len(_paths(world))):
            assert (await client.get(path, headers=world.a.admin.headers)).status_code == 200
    finally:
        loop.set_task_factory(factory)
    assert created == []


class _Proxy:
    """A TCP relay to the real PostgreSQL that can stop passing bytes (a server that hangs)."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.pipes: list[asyncio.Task[None]] = []

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
        self.pipes.append(asyncio.create_task(self._pipe(reader, upstream_writer)))
        self.pipes.append(asyncio.create_task(self._pipe(upstream_reader, writer)))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await self.flowing.wait()
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        self.server.close()
        for pipe in self.pipes:
            pipe.cancel()
        await asyncio.gather(*self.pipes, return_exceptions=True)


@pytest.mark.postgres_only
async def test_a_connection_to_a_hung_server_is_ended_at_once(database: TestDatabase) -> None:
    """A borrowed statement on a server that stops answering fails after asyncpg's command
    timeout, and its connection is ended then: not closed politely, which would wait for that
    server up to 2 s more."""
    real = make_url(database.url)
    proxy = _Proxy(real.host or "127.0.0.1", real.port or 5432)
    through = real.set(host="127.0.0.1", port=await proxy.start())
    settings = make_settings(through.render_as_string(hide_password=False), db_timeout_seconds=0.5)
    engine = create_engine(settings)
    maker = create_sessionmaker(engine)
    statement = PreparedSelect(select(literal(1)))
    try:
        async with maker() as session:
            assert [tuple(row) for row in await statement.all(session, {})] == [(1,)]
        proxy.flowing.clear()  # the server hangs
        started = asyncio.get_running_loop().time()
        async with maker() as session:
            with pytest.raises(TimeoutError):
                await statement.all(session, {})
        waited = asyncio.get_running_loop().time() - started
        assert waited < settings.db_timeout_seconds * 2 + 1.5, waited  # the command timeout, not 2 s more
    finally:
        proxy.flowing.set()
        await engine.dispose()
        await proxy.stop()


@pytest.mark.postgres_only
async def test_a_read_takes_one_greenlet_per_statement(client: httpx.AsyncClient, world: World) -> None:
    await _fill_pools(client, world)
    spawned: list[greenlet.greenlet] = []  # kept, so that no id is reused

    def tracing(event: str, args: tuple[greenlet.greenlet, greenlet.greenlet]) -> None:
        target = args[1]
        if event == "switch" and target.parent is not None and all(target is not seen for seen in spawned):
            spawned.append(target)

    path = _paths(world)[0]
    previous = greenlet.settrace(tracing)
    try:
        for _ in range(REQUESTS):
            assert (await client.get(path, headers=world.a.admin.headers)).status_code == 200
    finally:
        greenlet.settrace(previous)
    # Two statements: the caller's row, and the page with its total.
    assert len(spawned) / REQUESTS <= 2, len(spawned) / REQUESTS
