"""Waiting long polls of one organization and cursor share their reads whatever their `limit`
(issue 25): on SQLite, where waiting readers look again every 0.5 s, many waiters cost about one
read of the feed per look, not one each; on PostgreSQL one read when a change wakes them. Each
still gets its own answer, the one its own cursor and limit give, and never what its caller may
not see."""

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from app.config.settings import Settings
from app.journal.listener import POLL_SECONDS, ChangeListener
from tests.changes.feed import changes_path, current_cursor, follow, page, summary
from tests.changes.test_long_poll import feed_reads, served, until
from tests.conftest import make_settings
from tests.exports.files import LOCATION_HEADER, csv_text, upload
from tests.fixtures.database import TestDatabase
from tests.fixtures.world import Org, World, full_width_number

__all__ = ["feed_reads", "served"]

LIMITS = [1, 2, 3, 4, 5, 7, 50, 1000]
WAITERS = 6 * len(LIMITS)
LOOKS = 4  # poll ticks watched while nothing changes
CODES = ["SH1", "SH2", "SH3", "SH4", "SH5", "SH6"]


@pytest.fixture
def settings(database: TestDatabase) -> Settings:
    """One admin may have all WAITERS waiting (the cap per principal: test_long_poll_cap.py)."""
    return make_settings(database.url, long_polls_per_principal=WAITERS)


@pytest.fixture
def feed_statements(served: FastAPI) -> Iterator[list[str]]:
    """Every statement reading the feed's entries that the engine runs. On SQLite all of them; on
    PostgreSQL none (they run as asyncpg's prepared statements, below SQLAlchemy's events): there
    `feed_reads` counts the reads."""
    engine = served.state.runtime.engine.sync_engine
    seen: list[str] = []

    def note(_connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM changes" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    yield seen
    event.remove(engine, "before_cursor_execute", note)


async def long_poll(
    client: httpx.AsyncClient, org: Org, headers: dict[str, str], after: str, limit: int
) -> dict[str, Any]:
    """One long poll with this limit; its answer."""
    response = await client.get(
        changes_path(org), params={"after": after, "limit": limit, "wait": 25}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def locations_in_one_transaction(client: httpx.AsyncClient, org: Org, codes: list[str]) -> None:
    """Several location.created entries that commit together (a CSV upload)."""
    rows = [
        LOCATION_HEADER,
        *([code, f"共有拠点{full_width_number(n)}", "共有", ""] for n, code in enumerate(codes)),
    ]
    done = await upload(client, org, "locations", csv_text(rows), org.admin.headers)
    assert done.status_code == 200, done.text


async def test_waiters_with_different_limits_share_one_read_per_look(
    served: FastAPI,
    world: World,
    client: httpx.AsyncClient,
    feed_reads: list[int],
    feed_statements: list[str],
) -> None:
    listener: ChangeListener = served.state.change_listener
    sqlite = served.state.runtime.settings.is_sqlite
    a, admin = world.a, world.a.admin.headers
    start = await current_cursor(client, a, admin)
    limits = LIMITS * (WAITERS // len(LIMITS))
    waiters = [asyncio.create_task(long_poll(client, a, admin, start, limit)) for limit in limits]
    await until(lambda: listener.waiting.waiting == WAITERS)

    reads, statements = len(feed_reads), len(feed_statements)
    await asyncio.sleep(LOOKS * POLL_SECONDS)
    assert not any(waiter.done() for waiter in waiters)
    idle = len(feed_reads) - reads
    # SQLite: one read per look (and one more for a look at either edge), not one per waiter or
    # per limit; PostgreSQL: none, the waiters wait for a notification.
    assert idle <= (LOOKS + 1 if sqlite else 0), idle
    if sqlite:
        assert len(feed_statements) - statements == idle

    reads = len(feed_reads)
    answered_at: list[float] = []
    for waiter in waiters:
        waiter.add_done_callback(lambda _done: answered_at.append(time.monotonic()))
    await locations_in_one_transaction(client, a, CODES)
    committed_at = time.monotonic()
    answers = await asyncio.gather(*waiters)
    assert len(feed_reads) - reads <= 2  # the look that found the changes (and one just before)
    # README: on SQLite a waiting reader answers within about POLL_SECONDS of a commit.
    assert max(answered_at) - committed_at < POLL_SECONDS + 0.5
    assert listener.waiting.waiting == 0

    expected = [("location.created", "location", code) for code in CODES]
    for limit, body in zip(limits, answers, strict=True):
        assert summary(body["items"]) == expected[:limit]
        assert body["next_cursor"] == body["items"][-1]["cursor"]
        # The answer a read of its own cursor and limit gives; following on yields the rest, once.
        assert body == await page(client, a, admin, start, limit=limit)
        rest, _ = await follow(client, a, admin, body["next_cursor"])
        assert summary(body["items"] + rest) == expected


async def test_a_shared_read_never_shows_a_linked_system_what_it_may_not_see(
    served: FastAPI, world: World, client: httpx.AsyncClient, feed_reads: list[int]
) -> None:
    """Admins and a linked system waiting at one cursor: user changes answer the admins only."""
    listener: ChangeListener = served.state.change_listener
    a, admin, linked = world.a, world.a.admin.headers, world.a.basic()
    start = await current_cursor(client, a, admin)
    assert start == await current_cursor(client, a, linked)
    admins = [asyncio.create_task(long_poll(client, a, admin, start, limit)) for limit in LIMITS]
    systems = [asyncio.create_task(long_poll(client, a, linked, start, limit)) for limit in LIMITS]
    await until(lambda: listener.waiting.waiting == 2 * len(LIMITS))

    users = [["login_id", "name", "location_code", "role"]]
    users += [[f"shared.{n}", f"共有 {'一二三'[n]}郎", "L1", "staff_submitter"] for n in range(3)]
    done = await upload(client, a, "users", csv_text(users), admin)
    assert done.status_code == 200, done.text
    answered = await asyncio.gather(*admins)
    expected = [("user.created", "user", f"shared.{n}") for n in range(3)]
    for limit, body in zip(LIMITS, answered, strict=True):
        assert summary(body["items"]) == expected[:limit]
        assert body == await page(client, a, admin, start, limit=limit)

    await asyncio.sleep(2 * POLL_SECONDS)  # the linked system's waiters have looked again
    assert not any(waiter.done() for waiter in systems)
    await locations_in_one_transaction(client, a, CODES[:3])
    for limit, body in zip(LIMITS, await asyncio.gather(*systems), strict=True):
        assert summary(body["items"]) == [
            ("location.created", "location", code) for code in CODES[:3][:limit]
        ]
        assert body == await page(client, a, linked, start, limit=limit)
