"""The feed's reader and listener as a consumer outside a request sees them (webhooks will):
`read_entries` after a position for an organization and the types a caller sees, and
`ChangeListener.wait_past`, which returns when the organization's feed moves past a number."""

import asyncio
import gc
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from app.auth.permissions import visible_changes
from app.auth.principals import Principal, PrincipalKind
from app.journal.feed_reader import next_position, read_entries
from app.journal.listener import ChangeListener
from app.runtime import Runtime
from tests.fixtures.world import World, add_location, post_user


@pytest.fixture
async def listener(app: FastAPI) -> AsyncIterator[ChangeListener]:
    """The application's listener, started by its lifespan (listening on PostgreSQL)."""
    async with app.router.lifespan_context(app):
        listener: ChangeListener = app.state.change_listener
        deadline = time.monotonic() + 10
        while not app.state.runtime.settings.is_sqlite and not listener.live:
            assert time.monotonic() < deadline, "the listener did not connect"
            await asyncio.sleep(0.05)
        yield listener
    gc.unfreeze()


def runtime_of(app: FastAPI) -> Runtime:
    runtime: Runtime = app.state.runtime
    return runtime


async def position(app: FastAPI, organization_id: int) -> int:
    async with runtime_of(app).read_sessionmaker() as session:
        return next_position(
            await read_entries(session, organization_id, 0, visible=None, limit=1_000), 1_000
        )


async def test_read_entries_gives_what_the_types_allow_in_order_with_the_position(
    app: FastAPI, world: World, client: httpx.AsyncClient
) -> None:
    organization_id = int(world.a.id)
    start = await position(app, organization_id)
    await add_location(client, world.a, "C1", "消費拠点")
    response = await post_user(
        client, world.a, world.a.admin.headers, "consumer1", "消費者", "staff_preparer"
    )
    assert response.status_code == 201, response.text
    await add_location(client, world.a, "C2", "消費拠点二")
    linked = Principal(
        kind=PrincipalKind.LINKED_SYSTEM, subject="key:1", organization_id=organization_id, role=None
    )
    async with runtime_of(app).read_sessionmaker() as session:
        everything = await read_entries(session, organization_id, start, visible=None, limit=10)
        seen = await read_entries(session, organization_id, start, visible=visible_changes(linked), limit=10)
        first = await read_entries(session, organization_id, start, visible=None, limit=1)
    assert [(entry[2], entry[4]) for entry in everything.entries] == [
        ("location.created", "C1"),
        ("user.created", "consumer1"),
        ("location.created", "C2"),
    ]
    assert [entry[0] for entry in everything.entries] == [start + 1, start + 2, start + 3]
    assert [(entry[2], entry[4]) for entry in seen.entries] == [
        ("location.created", "C1"),
        ("location.created", "C2"),
    ]
    assert everything.last == seen.last == start + 3
    assert next_position(seen, 10) == start + 3  # past the user entry it may not see
    assert next_position(first, 1) == start + 1


async def test_wait_past_returns_when_the_organization_moves_and_not_for_another(
    app: FastAPI, world: World, client: httpx.AsyncClient, listener: ChangeListener
) -> None:
    organization_id = int(world.a.id)
    sessions = runtime_of(app).read_sessionmaker
    start = await position(app, organization_id)
    waiting = asyncio.create_task(listener.wait_past(organization_id, start, 25, sessions))
    await add_location(client, world.b, "OTHER", "別組織")
    await asyncio.sleep(0.6)  # longer than a poll: the other organization's change does not end it
    assert not waiting.done()
    started = time.monotonic()
    await add_location(client, world.a, "C3", "待機")
    assert await waiting == start + 1
    assert time.monotonic() - started < 5  # woken by the change, not by the end of the wait
    # Already past: at once, without waiting.
    assert await listener.wait_past(organization_id, start, 25, sessions) == start + 1


async def test_wait_past_gives_up_when_the_time_is_up(
    app: FastAPI, world: World, listener: ChangeListener
) -> None:
    organization_id = int(world.a.id)
    start = await position(app, organization_id)
    started = time.monotonic()
    assert await listener.wait_past(organization_id, start, 0.8, runtime_of(app).read_sessionmaker) == start
    assert 0.7 < time.monotonic() - started < 5
