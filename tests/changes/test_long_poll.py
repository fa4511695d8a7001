"""Long polls of the change feed in one process (SQLite polls; PostgreSQL listens): an answer
comes when a change commits, waiting readers hold no database connection, and the listener
survives losing its connection. Across instances: tests/acceptance/test_feed_instances.py."""

import asyncio
import gc
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from app.config.settings import Settings
from app.journal.feed import CHANNEL, notice, read_notice
from app.journal.feed_repository import ChangeRepository
from app.journal.listener import APPLICATION_NAME, ChangeListener, SharedReads
from tests.changes.feed import changes_path, current_cursor, summary
from tests.conftest import make_settings
from tests.fixtures.database import TestDatabase
from tests.fixtures.world import World, add_location

WAITERS = 150


@pytest.fixture
def settings(database: TestDatabase) -> Settings:
    """A small pool: waiting readers that held connections would exhaust it at once. One admin
    may have WAITERS long polls waiting (the cap per principal: test_long_poll_cap.py)."""
    return make_settings(database.url, db_pool_size=4, db_timeout_seconds=3, long_polls_per_principal=WAITERS)


@pytest.fixture
async def served(app: FastAPI) -> AsyncIterator[FastAPI]:
    """The app with its lifespan running (the listener on PostgreSQL), as a server runs it."""
    async with app.router.lifespan_context(app):
        listener: ChangeListener = app.state.change_listener
        if app.state.runtime.settings.is_sqlite:
            assert not listener.live
        else:
            await until(lambda: listener.live)
        yield app
    gc.unfreeze()  # the lifespan froze what start-up built; tests build more apps


async def until(condition: Any, seconds: float = 10.0) -> None:
    """Wait (bounded) until condition() holds."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def wait_for_changes(
    client: httpx.AsyncClient, world: World, after: str, headers: dict[str, str], wait: float
) -> tuple[dict[str, Any], float]:
    """One long poll; its answer and how long it took."""
    started = time.monotonic()
    response = await client.get(changes_path(world.a), params={"after": after, "wait": wait}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body, time.monotonic() - started


async def test_a_waiting_reader_answers_when_a_change_commits(
    served: FastAPI, world: World, client: httpx.AsyncClient
) -> None:
    start = await current_cursor(client, world.a, world.a.basic())
    waiting = asyncio.create_task(wait_for_changes(client, world, start, world.a.basic(), wait=25))
    await asyncio.sleep(0.5)
    assert not waiting.done()
    await add_location(client, world.a, "W1", "待機拠点")
    body, seconds = await waiting
    assert summary(body["items"]) == [("location.created", "location", "W1")]
    assert seconds < 10  # woken by the change, not by the end of the wait


async def test_a_wait_with_nothing_new_answers_the_same_cursor_when_the_time_is_up(
    served: FastAPI, world: World, client: httpx.AsyncClient
) -> None:
    start = await current_cursor(client, world.a, world.a.admin.headers)
    body, seconds = await wait_for_changes(client, world, start, world.a.admin.headers, wait=1.2)
    assert body == {"items": [], "next_cursor": start}
    assert seconds >= 1.2
    # Another organization's change does not end the wait either.
    waiting = asyncio.create_task(wait_for_changes(client, world, start, world.a.admin.headers, wait=1.5))
    await add_location(client, world.b, "WB", "別待機")
    body, seconds = await waiting
    assert body["items"] == []
    assert seconds >= 1.5


async def test_changes_a_linked_system_may_not_see_do_not_end_its_wait(
    served: FastAPI, world: World, client: httpx.AsyncClient
) -> None:
    linked, admin = world.a.basic(), world.a.admin.headers
    start = await current_cursor(client, world.a, linked)
    waiting = asyncio.create_task(wait_for_changes(client, world, start, linked, wait=1.5))
    await asyncio.sleep(0.3)
    reset = await client.post(f"{world.a.path}/users/submitter.l1/password-reset", headers=admin)
    assert reset.status_code == 200
    renamed = await client.patch(
        f"{world.a.path}/users/submitter.l1", json={"name": "改名 一郎"}, headers=admin
    )
    assert renamed.status_code == 200
    body, seconds = await waiting
    assert body["items"] == []
    assert seconds >= 1.5
    later = asyncio.create_task(wait_for_changes(client, world, body["next_cursor"], linked, wait=25))
    await asyncio.sleep(0.3)
    await add_location(client, world.a, "W2", "連携待機")
    body, _ = await later
    assert summary(body["items"]) == [("location.created", "location", "W2")]


async def test_waiting_readers_hold_no_connection_and_others_are_served(
    served: FastAPI, world: World, client: httpx.AsyncClient
) -> None:
    """WAITERS long polls on a pool of 4 connections: other requests still answer at once."""
    admin = world.a.admin.headers
    start = await current_cursor(client, world.a, admin)
    waiters = [
        asyncio.create_task(wait_for_changes(client, world, start, admin, wait=25)) for _ in range(WAITERS)
    ]
    await asyncio.sleep(1.5)
    assert not any(waiter.done() for waiter in waiters)
    pool = served.state.runtime.engine.pool
    if not served.state.runtime.settings.is_sqlite:  # SQLite readers borrow one briefly to poll
        assert pool.checkedout() == 0
    for _ in range(10):
        listed = await client.get(f"{world.a.path}/locations", headers=admin)
        assert listed.status_code == 200
    await add_location(client, world.a, "W3", "多数待機")
    answers = await asyncio.gather(*waiters)
    assert all(summary(body["items"]) == [("location.created", "location", "W3")] for body, _ in answers)


async def test_stopping_the_process_releases_waiting_readers(
    app: FastAPI, world: World, client: httpx.AsyncClient
) -> None:
    start = await current_cursor(client, world.a, world.a.admin.headers)
    async with app.router.lifespan_context(app):
        waiting = asyncio.create_task(wait_for_changes(client, world, start, world.a.admin.headers, wait=25))
        await asyncio.sleep(0.5)
        await app.state.change_listener.stop()
        body, seconds = await waiting
    gc.unfreeze()
    assert body == {"items": [], "next_cursor": start}
    assert seconds < 10


@pytest.mark.postgres_only
async def test_the_listener_reconnects_after_losing_its_connection(
    served: FastAPI, world: World, client: httpx.AsyncClient
) -> None:
    listener: ChangeListener = served.state.change_listener
    async with served.state.runtime.engine.connect() as connection:
        ended = await connection.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = :name AND datname = current_database()"
            ),
            {"name": APPLICATION_NAME},
        )
        assert ended.scalar_one() == 1
    await until(lambda: not listener.live)
    # While it is down, readers look again every so often: a change still arrives.
    start = await current_cursor(client, world.a, world.a.admin.headers)
    waiting = asyncio.create_task(wait_for_changes(client, world, start, world.a.admin.headers, wait=25))
    await asyncio.sleep(0.2)
    await add_location(client, world.a, "W4", "再接続")
    body, _ = await waiting
    assert summary(body["items"]) == [("location.created", "location", "W4")]
    await until(lambda: listener.live)
    waiting = asyncio.create_task(
        wait_for_changes(client, world, body["next_cursor"], world.a.admin.headers, wait=25)
    )
    await asyncio.sleep(0.3)
    await add_location(client, world.a, "W5", "再接続後")
    body, seconds = await waiting
    assert summary(body["items"]) == [("location.created", "location", "W5")]
    assert seconds < 10


@pytest.fixture
def feed_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The `after` of every read of the feed (the real read runs; it is only counted)."""
    seen: list[int] = []
    real = ChangeRepository.read

    async def counted(self: ChangeRepository, organization_id: int, after: int, *args: Any) -> Any:
        seen.append(after)
        return await real(self, organization_id, after, *args)

    monkeypatch.setattr(ChangeRepository, "read", counted)
    return seen


@pytest.mark.postgres_only
async def test_the_poll_after_an_answer_waits_without_reading_and_wakes_on_the_next_change(
    served: FastAPI, world: World, client: httpx.AsyncClient, feed_reads: list[int]
) -> None:
    """A change's notification carries its number: a reader at that number has nothing to read."""
    listener: ChangeListener = served.state.change_listener
    admin = world.a.admin.headers
    organization_id = int(world.a.id)
    start = await current_cursor(client, world.a, admin)
    first = asyncio.create_task(wait_for_changes(client, world, start, admin, wait=25))
    await asyncio.sleep(0.3)
    await add_location(client, world.a, "W6", "番号通知")
    body, _ = await first
    assert summary(body["items"]) == [("location.created", "location", "W6")]
    await until(lambda: listener.signals.announced(organization_id) is not None)
    position = listener.signals.announced(organization_id)
    reads = len(feed_reads)
    second = asyncio.create_task(wait_for_changes(client, world, body["next_cursor"], admin, wait=25))
    await asyncio.sleep(0.5)
    assert not second.done()
    assert len(feed_reads) == reads  # waiting, with nothing read
    await add_location(client, world.a, "W7", "番号通知後")
    body, seconds = await second
    assert summary(body["items"]) == [("location.created", "location", "W7")]
    assert seconds < 10
    assert feed_reads[reads:] == [position]  # one read, after the change woke it
    assert listener.signals.announced(organization_id) == position + 1


@pytest.mark.postgres_only
async def test_a_notification_without_a_number_makes_waiting_readers_read(
    served: FastAPI, world: World, client: httpx.AsyncClient, feed_reads: list[int]
) -> None:
    """The payload of the previous release (the organization id alone), as an instance of it sends
    during a rolling deploy: the number is no longer known, so the next poll reads first."""
    listener: ChangeListener = served.state.change_listener
    admin = world.a.admin.headers
    organization_id = int(world.a.id)
    start = await current_cursor(client, world.a, admin)
    await add_location(client, world.a, "W8", "旧通知")
    body = (await wait_for_changes(client, world, start, admin, wait=0))[0]
    await until(lambda: listener.signals.announced(organization_id) is not None)
    waiting = asyncio.create_task(wait_for_changes(client, world, body["next_cursor"], admin, wait=25))
    await asyncio.sleep(0.3)
    reads = len(feed_reads)
    async with served.state.runtime.engine.connect() as connection:
        await connection.execute(
            text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": world.a.id}
        )
        await connection.commit()
    await until(lambda: len(feed_reads) > reads)  # woken, and read
    assert listener.signals.announced(organization_id) is None
    assert not waiting.done()  # nothing new for it: it waits on
    await add_location(client, world.a, "W9", "旧通知後")
    body, _ = await waiting
    assert summary(body["items"]) == [("location.created", "location", "W9")]


def test_notices_are_read_as_written() -> None:
    assert read_notice(notice(12, 3456)) == (12, 3456)
    assert read_notice("12") == (12, None)
    for payload in ("", ":", "12:", ":5", "x", "12:x", "12:3:4", "-1:2", "１２:3", "1" * 19):
        assert read_notice(payload) is None, payload


async def test_waiting_reads_of_one_key_run_once_at_the_largest_size_asked() -> None:
    """SharedReads: callers with one key at one time share one read, of the largest size asked
    before it began; a later caller reads anew; one that comes while it runs gets its size."""
    shared = SharedReads()
    sizes: list[int] = []

    async def read(size: int) -> int:
        sizes.append(size)
        mine = len(sizes)
        await asyncio.sleep(0.05)
        return mine

    results = await asyncio.gather(*(shared.run("key", size, read) for size in range(1, WAITERS + 1)))
    assert [(got.result, got.size) for got in results] == [(1, WAITERS)] * WAITERS
    assert sizes == [WAITERS]
    assert (await shared.run("key", 3, read)).result == 2
    apart = await asyncio.gather(shared.run("a", 1, read), shared.run("b", 1, read))
    assert sorted(got.result for got in apart) == [3, 4]

    first = asyncio.ensure_future(shared.run("late", 2, read))
    await asyncio.sleep(0.01)  # its read has begun
    late = await shared.run("late", 5, read)
    assert (late.result, late.size) == ((await first).result, 2)
    assert late.covers(5, found=1)  # it found fewer than it read: all there was
    assert not late.covers(5, found=2)  # it stopped at 2: the caller must read 5 itself
    assert late.covers(2, found=2)
