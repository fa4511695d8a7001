"""A server told to stop (SIGTERM) answers its waiting long polls at once and exits, instead of
holding the stop (and a rolling deploy) until every wait has run out."""

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.changes.feed import changes_path
from tests.reliability.live import LiveServer, LiveSession, started_server
from tests.security.leaks import LeakScanner

WAITERS = 5


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A running server on a database of its own (made outside the test's event loop)."""
    with started_server(request.param, tmp_path_factory.mktemp(f"shutdown-{request.param}")) as server:
        yield server


async def test_stopping_a_server_answers_its_long_polls(server: LiveServer, leaks: LeakScanner) -> None:
    live = LiveSession(server, leaks)
    world = await live.start()
    path = f"{server.base_url}{changes_path(world.a)}"
    cursor = (await live.http.get(path, headers=world.a.basic())).json()["next_cursor"]
    await live.close()
    answers: list[Any] = []

    def wait() -> None:
        try:
            response = httpx.get(
                path, params={"after": cursor, "wait": 30}, headers=world.a.basic(), timeout=60
            )
        except httpx.HTTPError as exc:  # shown in the assertion below
            answers.append((type(exc).__name__, str(exc), time.monotonic()))
            return
        answers.append((response.status_code, response.json(), time.monotonic()))

    waiters = [threading.Thread(target=wait) for _ in range(WAITERS)]
    for waiter in waiters:
        waiter.start()
    await asyncio.sleep(2.0)  # every long poll has reached the server (a loaded machine is slow)
    assert not answers
    asked = time.monotonic()
    await asyncio.to_thread(server.stop)  # SIGTERM, then waits for the process to end
    stopped = time.monotonic()
    for waiter in waiters:
        await asyncio.to_thread(waiter.join, 30)

    assert [(status, body) for status, body, _ in answers] == [
        (200, {"items": [], "next_cursor": cursor})
    ] * WAITERS
    assert all(at - asked < 10 for _, _, at in answers)
    assert stopped - asked < 10  # not the 30 seconds of the wait
