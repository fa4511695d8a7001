"""Draining on SIGTERM (SPEC §6): /readyz answers 503, waiting long polls answer at once with the
same cursor, in-flight requests finish within AINAS_SHUTDOWN_GRACE_S, then the process exits; and
the one drain hook a background worker (webhooks) uses."""

import asyncio
import gc
import math
import signal
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.changes.feed import changes_path, current_cursor
from tests.fixtures.world import World
from tests.reliability.live import LiveServer, started_server


@pytest.fixture
async def served(app: FastAPI) -> AsyncIterator[FastAPI]:
    """The app with its lifespan running, as a server runs it."""
    async with app.router.lifespan_context(app):
        yield app
    gc.unfreeze()  # the lifespan froze what start-up built; tests build more apps


async def test_draining_answers_readyz_503_and_releases_waiting_long_polls(
    served: FastAPI, world: World, client: httpx.AsyncClient
) -> None:
    drain = served.state.runtime.drain
    assert (await client.get("/readyz")).status_code == 200
    start = await current_cursor(client, world.a, world.a.basic())
    waiting = asyncio.create_task(
        client.get(changes_path(world.a), params={"after": start, "wait": 25}, headers=world.a.basic())
    )
    await asyncio.sleep(0.5)
    assert not waiting.done()
    asked = time.monotonic()
    drain.begin()
    answered = await asyncio.wait_for(waiting, 10)
    assert time.monotonic() - asked < 5
    assert answered.json() == {"items": [], "next_cursor": start}
    ready = await client.get("/readyz", headers={"Accept-Language": "en"})
    assert ready.status_code == 503
    assert ready.json()["code"] == "draining"
    assert ready.headers["retry-after"] == "1"
    # A long poll that arrives now answers at once too (the server has stopped taking connections,
    # but one may already be on its way through a kept-alive connection).
    late = await asyncio.wait_for(
        client.get(changes_path(world.a), params={"after": start, "wait": 25}, headers=world.a.basic()), 10
    )
    assert late.json() == {"items": [], "next_cursor": start}


async def test_the_drain_hook_tells_a_worker_once_and_bounds_its_time(served: FastAPI) -> None:
    drain = served.state.runtime.drain
    calls: list[str] = []
    drain.on_drain(lambda: calls.append("first"))
    waiter = asyncio.create_task(drain.wait())
    await asyncio.sleep(0.05)
    assert not waiter.done()
    assert drain.remaining() == drain.grace_seconds == 10
    drain.begin()
    drain.begin()
    await asyncio.wait_for(waiter, 1)
    drain.on_drain(lambda: calls.append("late"))  # registered after the start: called at once
    assert calls == ["first", "late"]
    assert 9 < drain.remaining() <= 10


async def test_draining_stops_the_webhook_worker_claiming(served: FastAPI) -> None:
    worker = served.state.webhook_worker
    assert worker is not None
    await asyncio.sleep(0.1)
    assert worker.claiming
    served.state.runtime.drain.begin()
    for _ in range(50):  # its loop ends at once; attempts in flight would still finish
        if not worker.claiming:
            break
        await asyncio.sleep(0.1)
    assert not worker.claiming


# Password checks one at a time, of about a second each, queued without a time limit: requests
# still running at SIGTERM, some of which finish within the grace and some of which cannot.
GRACE_SECONDS = 3
SLOW_HASH = {
    "AINAS_ARGON2_MEMORY_KIB": "65536",
    "AINAS_ARGON2_TIME_COST": "6",
    "AINAS_HASH_CONCURRENCY": "1",
    "AINAS_HASH_WAIT_SECONDS": "60",
    "AINAS_SHUTDOWN_GRACE_S": str(GRACE_SECONDS),
}


@pytest.fixture
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server whose password checks take a while (made outside the test's event loop). On
    SQLite: draining is the server's, whatever the database (tests/shape runs it on PostgreSQL
    through PgBouncer and HAProxy)."""
    with started_server("sqlite", tmp_path_factory.mktemp("drain"), extra_env=SLOW_HASH) as server:
        yield server


def _login(server: LiveServer, answers: list[Any]) -> None:
    started = time.monotonic()
    try:
        response = httpx.post(
            f"{server.base_url}/api/v1/auth/token",
            data={"grant_type": "password", "username": "nobody-here", "password": "not-the-password"},
            timeout=60,
        )
    except httpx.HTTPError as exc:  # a request the stop cut
        answers.append((type(exc).__name__, None, time.monotonic() - started))
        return
    code = response.json().get("code") if "json" in response.headers.get("content-type", "") else None
    answers.append((response.status_code, code, time.monotonic() - started))


def test_sigterm_lets_in_flight_requests_finish_within_the_grace_then_exits(slow_server: LiveServer) -> None:
    assert slow_server.process is not None
    timing: list[Any] = []
    for _ in range(2):  # how long one check takes here, unhurried (the first also warms up)
        _login(slow_server, timing)
    assert [answer[:2] for answer in timing] == [(400, "invalid_credentials")] * 2
    one = min(answer[2] for answer in timing)
    # Enough queued checks that the queue's tail cannot end within the grace even if checks run
    # several times faster under load than unhurried (a lucky run once finished them all).
    count = max(8, math.ceil(5 * GRACE_SECONDS / one) + 1)
    answers: list[Any] = []
    callers = [threading.Thread(target=_login, args=(slow_server, answers)) for _ in range(count)]
    for caller in callers:
        caller.start()
    time.sleep(1.0)  # every request is in the server: one hashing, the others queued
    asked = time.monotonic()
    slow_server.process.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    with pytest.raises(httpx.ConnectError):  # no new connections once the stop has begun
        httpx.get(f"{slow_server.base_url}/healthz", timeout=5)
    status = slow_server.process.wait(30)
    exited = time.monotonic() - asked
    for caller in callers:
        caller.join(60)
    finished = [answer for answer in answers if answer[:2] == (400, "invalid_credentials")]
    cut = [answer for answer in answers if answer[:2] != (400, "invalid_credentials")]
    assert len(answers) == count
    assert not [answer for answer in answers if answer[0] == "ConnectError"]  # all were in flight
    # The one hashing at SIGTERM, at least, finished normally; the queue's tail was cut at the grace.
    assert finished
    assert cut
    assert all(answer[2] < GRACE_SECONDS + 3 for answer in finished)
    # uvicorn ends by raising the signal it caught again, once it has shut down (a clean stop).
    assert status in (0, -signal.SIGTERM)
    assert GRACE_SECONDS - 0.5 < exited < GRACE_SECONDS + 5
