"""What one webhook attempt costs the process that also serves requests (the worker runs in the
event loop of `ainas serve`): a bounded number of Python calls, and no search of the file system.

httpx's client layers (authentication, redirects, cookies, event hooks) took most of an attempt's
calls; the attempt goes to httpx's transport alone (app/webhooks/client.py).

httpcore asks for `sniffio` on every lock, event and cancel shield of a request; when it is not
installed, each ask is a failed import, which Python does not remember, so every attempt searched
sys.path several times (a fifth of an attempt's CPU under load). The dependency is declared.

Recording a group of attempts cost about 1,450 Python calls (the statements built anew each time
and run through the ORM's bulk paths); they are built once now, and a budget holds it.
"""

import importlib.machinery
import sys
from types import FrameType

import httpx
import pytest
from fastapi import FastAPI

from app.webhooks.client import USER_AGENT, DeliveryClient
from app.webhooks.repository import DeliveryState
from app.webhooks.worker import WebhookWorker, _Group
from tests.conftest import make_settings
from tests.fixtures.world import World
from tests.webhooks.helpers import add_location, create_endpoint
from tests.webhooks.receiver import receiving

ATTEMPTS = 10
# Python calls an attempt may make, the event loop's own included (about 1,425 when written;
# through httpx's client layers, about 1,590).
CALLS_PER_ATTEMPT = 1500
# Python calls the recording of a group may make (about 800 when written, groups of 1 to 10).
CALLS_PER_RECORD = 1100


async def test_attempts_import_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    searched: list[str] = []
    find_spec = importlib.machinery.PathFinder.find_spec

    def counting(name: str, *args: object, **kwargs: object) -> object:
        searched.append(name)
        return find_spec(name, *args, **kwargs)  # type: ignore[arg-type]

    with receiving() as receiver:
        client = DeliveryClient(make_settings("sqlite+aiosqlite:///:memory:"))
        try:
            # The first attempt opens the connection and may load modules once.
            assert (await client.send(receiver.url, b"{}", {})).succeeded
            monkeypatch.setattr(importlib.machinery.PathFinder, "find_spec", counting)
            for _ in range(5):
                assert (await client.send(receiver.url, b"{}", {})).succeeded
        finally:
            await client.close()
    assert searched == []


async def test_an_attempt_is_cheap() -> None:
    calls = 0

    def counting(_frame: FrameType, event: str, _arg: object) -> None:
        nonlocal calls
        calls += event == "call"

    with receiving() as receiver:
        client = DeliveryClient(make_settings("sqlite+aiosqlite:///:memory:"))
        try:
            # The first attempt opens the connection and may load modules once.
            assert (await client.send(receiver.url, b"{}", {"webhook-id": "m"})).succeeded
            sys.setprofile(counting)  # this thread only: not the receiver's
            try:
                outcomes = [
                    await client.send(receiver.url, b"{}", {"webhook-id": "m"}) for _ in range(ATTEMPTS)
                ]
            finally:
                sys.setprofile(None)
        finally:
            await client.close()
    assert all(outcome.succeeded for outcome in outcomes)
    assert calls / ATTEMPTS < CALLS_PER_ATTEMPT


async def test_an_attempt_names_itself() -> None:
    with receiving() as receiver:
        client = DeliveryClient(make_settings("sqlite+aiosqlite:///:memory:"))
        try:
            assert (await client.send(receiver.url, b"{}", {"webhook-id": "m"})).succeeded
        finally:
            await client.close()
    (arrived,) = [request.headers for request in receiver.received]
    assert (arrived["user-agent"], arrived["content-type"], arrived["webhook-id"]) == (
        USER_AGENT,
        "application/json",
        "m",
    )


async def test_recording_a_group_is_cheap(app: FastAPI, client: httpx.AsyncClient, world: World) -> None:
    calls = records = 0

    def counting(_frame: FrameType, event: str, _arg: object) -> None:
        nonlocal calls
        calls += event == "call"

    with receiving() as receiver:
        await create_endpoint(client, world.a, receiver.url)
        for number in range(20):
            await add_location(client, world.a, number)
        worker = WebhookWorker(app.state.runtime)
        record = worker._record

        async def measured(state: DeliveryState, group: _Group) -> bool:
            nonlocal records
            records += 1
            sys.setprofile(counting)
            try:
                return await record(state, group)
            finally:
                sys.setprofile(None)

        worker._record = measured  # type: ignore[method-assign]
        try:
            await worker.drain()
        finally:
            await worker.client.close()
    assert len(receiver.received) == 20
    assert calls / records < CALLS_PER_RECORD
