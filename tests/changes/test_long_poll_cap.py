"""At most AINAS_LONG_POLLS_PER_PRINCIPAL (10) waiting long polls per principal, per process
(issue 25): one more answers 429 `too_many_long_polls` with Retry-After while other principals
are served; a long poll that ends (answered, its client gone, the instance draining) frees its
slot. In the process over ASGI, and against a real server with simultaneous connections."""

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.journal.listener import ChangeListener
from tests.changes.feed import changes_path, current_cursor, summary
from tests.changes.test_long_poll import served, until
from tests.fixtures.world import Org, World, add_location
from tests.reliability.live import LiveServer, LiveSession, started_server
from tests.security.leaks import LeakScanner

__all__ = ["served"]

CAP = 10  # the default of AINAS_LONG_POLLS_PER_PRINCIPAL
BURST = 30


def long_poll(
    client: httpx.AsyncClient, org: Org, headers: dict[str, str], after: str
) -> "asyncio.Task[httpx.Response]":
    """A long poll (25 s) under way."""
    return asyncio.create_task(
        client.get(changes_path(org), params={"after": after, "wait": 25}, headers=headers)
    )


async def test_the_long_poll_after_the_tenth_of_a_principal_answers_429_while_others_wait(
    served: FastAPI, world: World, client: httpx.AsyncClient
) -> None:
    listener: ChangeListener = served.state.change_listener
    a, admin, linked = world.a, world.a.admin.headers, world.a.basic()
    start = await current_cursor(client, a, admin)
    waiting = [long_poll(client, a, admin, start) for _ in range(CAP)]
    await until(lambda: listener.waiting.waiting == CAP)

    refused = await client.get(changes_path(a), params={"after": start, "wait": 25}, headers=admin)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["retry-after"] == "5"
    assert refused.json()["code"] == "too_many_long_polls"
    assert refused.json()["detail"] == (
        "この呼び出し元が同時に待機できる変更履歴の取得（waitの指定）は10件までです。5秒後に再試行してください。"
    )
    english = await client.get(
        changes_path(a), params={"after": start, "wait": 1}, headers={**admin, "Accept-Language": "en"}
    )
    assert english.status_code == 429
    assert english.json()["detail"] == (
        "This caller already has 10 change feed requests waiting (with `wait`), the most allowed "
        "at once: retry after 5 seconds."
    )
    # The same principal without waiting is served; other principals wait as usual.
    assert (await client.get(changes_path(a), params={"after": start}, headers=admin)).status_code == 200
    others = [long_poll(client, a, linked, start), long_poll(client, a, world.operator.headers, start)]
    await until(lambda: listener.waiting.waiting == CAP + 2)
    assert not any(task.done() for task in waiting + others)

    await add_location(client, a, "CAP1", "上限拠点")
    for response in await asyncio.gather(*waiting, *others):
        assert response.status_code == 200, response.text
        assert summary(response.json()["items"]) == [("location.created", "location", "CAP1")]
    assert listener.waiting.waiting == 0  # answered: every slot is free again
    cursor = response.json()["next_cursor"]
    again = [long_poll(client, a, admin, cursor) for _ in range(CAP)]
    await until(lambda: listener.waiting.waiting == CAP)
    assert not any(task.done() for task in again)
    for task in again:
        task.cancel()
    await asyncio.gather(*again, return_exceptions=True)


async def test_a_long_poll_frees_its_slot_when_its_client_goes_or_the_instance_drains(
    served: FastAPI, world: World, client: httpx.AsyncClient
) -> None:
    listener: ChangeListener = served.state.change_listener
    a, admin = world.a, world.a.admin.headers
    start = await current_cursor(client, a, admin)
    gone = [long_poll(client, a, admin, start) for _ in range(CAP)]
    await until(lambda: listener.waiting.waiting == CAP)
    for task in gone:  # the client gives up: in-process, the request is cancelled
        task.cancel()
    await asyncio.gather(*gone, return_exceptions=True)
    assert listener.waiting.waiting == 0

    waiting = [long_poll(client, a, admin, start) for _ in range(CAP)]
    await until(lambda: listener.waiting.waiting == CAP)
    served.state.runtime.drain.begin()
    for response in await asyncio.gather(*waiting):
        assert response.json() == {"items": [], "next_cursor": start}
    assert listener.waiting.waiting == 0


# -- against a real server: simultaneous connections -------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A running server on a PostgreSQL database of its own."""
    with started_server("postgresql", tmp_path_factory.mktemp("long-poll-cap")) as server:
        yield server


def burst(
    url: str, params: dict[str, Any], headers: dict[str, str], timeout: float
) -> tuple[list[Any], list[threading.Thread]]:
    """BURST long polls at once, one thread and connection each; their outcomes as they end
    (status and body, or the client error's name)."""
    outcomes: list[Any] = []
    ready = threading.Barrier(BURST)

    def ask() -> None:
        ready.wait()
        try:
            response = httpx.get(url, params=params, headers=headers, timeout=timeout)
        except httpx.HTTPError as exc:
            outcomes.append(type(exc).__name__)
            return
        outcomes.append((response.status_code, response.json()))

    threads = [threading.Thread(target=ask) for _ in range(BURST)]
    for thread in threads:
        thread.start()
    return outcomes, threads


async def settled(outcomes: list[Any], count: int, seconds: float = 10.0) -> None:
    """Wait (bounded) until `count` outcomes are in, then a little more: no other comes soon."""
    deadline = time.monotonic() + seconds
    while len(outcomes) < count:
        assert time.monotonic() < deadline, outcomes
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)


async def test_of_thirty_simultaneous_long_polls_of_one_principal_ten_wait(
    server: LiveServer, leaks: LeakScanner
) -> None:
    live = LiveSession(server, leaks)
    world = await live.start()
    url = f"{server.base_url}{changes_path(world.a)}"
    admin = world.a.admin.headers
    cursor = (await live.http.get(url, headers=admin)).json()["next_cursor"]
    try:
        for round_number in range(2):  # the second: the slots were freed by the answers
            outcomes, threads = burst(url, {"after": cursor, "wait": 20}, admin, timeout=60)
            await settled(outcomes, BURST - CAP)
            assert len(outcomes) == BURST - CAP
            assert {(status, body["code"]) for status, body in outcomes} == {(429, "too_many_long_polls")}
            code = f"BURST{round_number}"
            assert (
                await live.http.post(
                    f"{server.base_url}{world.a.path}/locations",
                    json={"code": code, "name": "同時拠点", "short_name": "同時"},
                    headers=admin,
                )
            ).status_code == 201
            for thread in threads:
                await asyncio.to_thread(thread.join, 30)
            answered = [body for status, body in outcomes if status == 200]
            assert len(answered) == CAP
            assert all(
                summary(body["items"]) == [("location.created", "location", code)] for body in answered
            )
            cursor = answered[0]["next_cursor"]

        # Clients that give up close their connections: the server notices, and frees their slots.
        outcomes, threads = burst(url, {"after": cursor, "wait": 20}, admin, timeout=3)
        for thread in threads:
            await asyncio.to_thread(thread.join, 30)
        assert outcomes.count("ReadTimeout") == CAP
        assert [outcome[0] for outcome in outcomes if outcome != "ReadTimeout"] == [429] * (BURST - CAP)
        await asyncio.sleep(1.0)  # the server reads the closed connections
        outcomes, threads = burst(url, {"after": cursor, "wait": 20}, admin, timeout=60)
        await settled(outcomes, BURST - CAP)
        assert len(outcomes) == BURST - CAP  # ten wait again: the abandoned ones hold nothing
        assert (
            await live.http.post(
                f"{server.base_url}{world.a.path}/locations",
                json={"code": "BURST9", "name": "同時拠点", "short_name": "同時"},
                headers=admin,
            )
        ).status_code == 201
        for thread in threads:
            await asyncio.to_thread(thread.join, 30)
        assert sorted(status for status, _ in outcomes) == [200] * CAP + [429] * (BURST - CAP)
    finally:
        await live.close()
