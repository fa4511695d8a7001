"""Draining on SIGTERM (SPEC §6): /readyz answers 503, waiting long polls answer at once with the
same cursor, in-flight requests finish within AINAS_SHUTDOWN_GRACE_S, then the process exits; and
the one drain hook a background worker (webhooks) uses."""

import asyncio
import gc
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


# A password hash of about a second on this machine: a request that is still running at SIGTERM.
SLOW_HASH = {"AINAS_ARGON2_MEMORY_KIB": "65536", "AINAS_ARGON2_TIME_COST": "6"}


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
    except httpx.HTTPError as exc:  # shown by the assertion
        answers.append((type(exc).__name__, str(exc), time.monotonic() - started))
        return
    code = response.json().get("code") if "json" in response.headers.get("content-type", "") else None
    answers.append((response.status_code, code, time.monotonic() - started))


def test_sigterm_lets_in_flight_requests_finish_then_exits(slow_server: LiveServer) -> None:
    assert slow_server.process is not None
    # How long one check takes here, unhurried.
    timing: list[Any] = []
    _login(slow_server, timing)
    assert timing[0][:2] == (400, "invalid_credentials")
    answers: list[Any] = []
    callers = [threading.Thread(target=_login, args=(slow_server, answers)) for _ in range(2)]
    for caller in callers:
        caller.start()
    time.sleep(min(0.3, timing[0][2] / 3))  # both requests are in the server, hashing
    asked = time.monotonic()
    slow_server.process.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    with pytest.raises(httpx.ConnectError):  # no new connections once the stop has begun
        httpx.get(f"{slow_server.base_url}/healthz", timeout=5)
    for caller in callers:
        caller.join(60)
    status = slow_server.process.wait(30)
    exited = time.monotonic() - asked
    assert [answer[:2] for answer in answers] == [(400, "invalid_credentials")] * 2
    # uvicorn ends by raising the signal it caught again, once it has shut down (a clean stop).
    assert status in (0, -signal.SIGTERM)
    assert exited < 10 + 5  # the grace, and start-up's own shutdown


def test_requests_still_running_after_the_grace_are_cut_and_the_process_exits(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    directory = tmp_path_factory.mktemp("drain-grace")
    slow = {"AINAS_ARGON2_MEMORY_KIB": "65536", "AINAS_ARGON2_TIME_COST": "40", "AINAS_SHUTDOWN_GRACE_S": "1"}
    with started_server("sqlite", directory, extra_env=slow) as server:
        assert server.process is not None
        answers: list[Any] = []
        caller = threading.Thread(target=_login, args=(server, answers))
        caller.start()
        time.sleep(1.0)
        asked = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(30)
        exited = time.monotonic() - asked
        caller.join(60)
    assert exited < 8  # not the many seconds the hash would take
    assert len(answers) == 1
    assert answers[0][0] != 400  # cut (no answer, or a 5xx), never finished normally
