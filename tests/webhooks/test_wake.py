"""The worker is woken by the feed's notification on PostgreSQL (SPEC §5.7: the first attempt soon
after the commit, not at the next look), also for an endpoint registered while it was waiting."""

import asyncio
import time

import httpx
import pytest
from fastapi import FastAPI

from app.webhooks.feed_source import ChangeListener
from app.webhooks.worker import LIVE_CHECK_SECONDS, WebhookWorker
from tests.fixtures.world import World
from tests.webhooks.helpers import add_location, create_endpoint
from tests.webhooks.receiver import receiving


@pytest.mark.postgres_only
async def test_a_change_wakes_the_waiting_worker(
    app: FastAPI, client: httpx.AsyncClient, world: World
) -> None:
    runtime = app.state.runtime
    listener = ChangeListener(runtime.settings)
    listener.start()
    worker = WebhookWorker(runtime, listener=listener)
    try:
        await until_live(listener)
        worker.start()
        with receiving() as receiver:
            await asyncio.sleep(0.5)  # the worker waits, watching no organization yet
            await create_endpoint(client, world.a, receiver.url)
            await asyncio.sleep(0.3)
            started = time.monotonic()
            await add_location(client, world.a, 1)
            while not receiver.received and time.monotonic() - started < LIVE_CHECK_SECONDS:  # noqa: ASYNC110 (a thread receives)
                await asyncio.sleep(0.02)
            elapsed = time.monotonic() - started
    finally:
        await worker.stop()
        await listener.stop()
    assert len(receiver.received) == 1
    assert elapsed < LIVE_CHECK_SECONDS / 2


@pytest.mark.postgres_only
async def test_a_listener_that_came_alive_since_the_last_look_does_not_make_the_next_wait_deaf(
    app: FastAPI,
) -> None:
    """At start-up the listener comes alive while the worker makes its first look: the wait that
    follows heard nothing for LIVE_CHECK_SECONDS (endpoints registered and changes committed
    meanwhile waited with it; seen as a 1.3-2.8 s first attempt in `bench webhooks`). It waits as
    a worker without notifications does instead (POLL_SECONDS), and listens from the next look."""
    runtime = app.state.runtime
    listener = ChangeListener(runtime.settings)
    worker = WebhookWorker(runtime, listener=listener)
    woken_by = worker._wake_events()  # the look before the listener listens
    listener.start()
    try:
        await until_live(listener)
        started = time.monotonic()
        await asyncio.wait_for(worker._wait(woken_by), LIVE_CHECK_SECONDS * 2)
        elapsed = time.monotonic() - started
    finally:
        await listener.stop()
        await worker.client.close()
    assert elapsed < LIVE_CHECK_SECONDS / 2


async def until_live(listener: ChangeListener) -> None:
    """Until the listener hears notifications (at most 5 s)."""
    for _ in range(100):
        if listener.live:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the change listener did not come alive")
