"""The webhook backlog on /metrics (SPEC §6): the messages waiting over every enabled endpoint (the
feed entries after its position that it would receive) and the age of the oldest, read at the
scrape; back to 0 once the worker has delivered them."""

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from app.config.clock import ManualClock
from app.config.settings import Settings
from app.webhooks import backlog as backlog_module
from tests.conftest import make_settings
from tests.fixtures.database import TestDatabase
from tests.fixtures.world import World
from tests.webhooks.helpers import add_location, create_endpoint, drain
from tests.webhooks.receiver import Receiver, receiving

TOKEN = "metrics-token-for-webhook-tests-4Kd2"
WAITING = "ainas_webhook_messages_waiting"
AGE = "ainas_webhook_oldest_message_age_seconds"


@pytest.fixture
def settings(database: TestDatabase) -> Settings:
    return make_settings(database.url, metrics_token=TOKEN)


async def backlog(client: httpx.AsyncClient) -> tuple[float, float]:
    """(messages waiting, age of the oldest) as Prometheus reads them; no labels on either."""
    response = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    found = {
        sample.name: (sample.labels, sample.value)
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name in (WAITING, AGE)
    }
    assert found[WAITING][0] == {}
    assert found[AGE][0] == {}
    return found[WAITING][1], found[AGE][1]


async def test_the_gauges_count_what_waits_and_its_age_until_it_is_delivered(
    app: FastAPI, client: httpx.AsyncClient, world: World, clock: ManualClock
) -> None:
    await add_location(client, world.a, 90)  # before any endpoint: never sent
    assert await backlog(client) == (0, 0)
    with receiving(Receiver(status=500)) as receiver:
        await create_endpoint(client, world.a, receiver.url)
        await create_endpoint(client, world.a, receiver.url, event_types=["location.updated"])
        await create_endpoint(client, world.b, receiver.url)
        disabled = await create_endpoint(client, world.a, receiver.url)
        path = f"{world.a.path}/webhook-endpoints/{disabled['id']}"
        read = await client.get(path, headers=world.a.admin.headers)
        switched_off = await client.patch(
            path, json={"enabled": False}, headers={**world.a.admin.headers, "If-Match": read.headers["ETag"]}
        )
        assert switched_off.status_code == 200, switched_off.text

        location = await add_location(client, world.a, 1)
        await add_location(client, world.a, 2)
        # Two entries for the endpoint of every action; none for the one of updates; none for b's.
        assert await backlog(client) == (2, 0)
        clock.advance(timedelta(seconds=20))
        location_path = f"{world.a.path}/locations/{location['code']}"
        etag = (await client.get(location_path, headers=world.a.admin.headers)).headers["ETag"]
        renamed = await client.patch(
            location_path,
            json={"name": "拠点改"},
            headers={**world.a.admin.headers, "If-Match": etag},
        )
        assert renamed.status_code == 200, renamed.text
        await add_location(client, world.b, 3)
        # 3 for every action, 1 for updates, 1 for b's; the oldest was written 20 s ago.
        assert await backlog(client) == (5, 20)

        await drain(app)  # each endpoint's first message fails (500) and waits for its retry
        assert len(receiver.received) == 3
        clock.advance(timedelta(seconds=4))
        assert await backlog(client) == (5, 24)

        receiver.status = 200
        clock.advance(timedelta(seconds=6))  # past the first retry (5 s + 10 % at most)
        await drain(app)
        assert len(receiver.received) == 3 + 5
    assert await backlog(client) == (0, 0)


async def test_an_endpoint_with_event_types_is_counted_among_a_bounded_window_of_entries(
    app: FastAPI,
    client: httpx.AsyncClient,
    world: World,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(backlog_module, "WINDOW", 2)
    with receiving(Receiver(status=500)) as receiver:
        await create_endpoint(client, world.a, receiver.url, event_types=["location.created"])
        for number in range(1, 4):
            await add_location(client, world.a, number)
            clock.advance(timedelta(seconds=1))
        # Three created, of which the next two entries after its position are read.
        assert await backlog(client) == (2, 3)
        await create_endpoint(client, world.b, receiver.url)
        for number in range(4, 7):
            await add_location(client, world.b, number)
        # An endpoint of every action is counted in full, whatever the window.
        assert await backlog(client) == (5, 3)
