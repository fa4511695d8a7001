"""GET /metrics (SPEC §6): Prometheus' text format to the configured bearer token, 404 to anyone
else and when metrics are off; labels are route templates, never input or an organization."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from app.config.clock import ManualClock
from app.config.settings import Settings
from app.main import create_app
from tests.conftest import make_settings
from tests.fixtures.database import TestDatabase, empty_all_tables
from tests.fixtures.world import World, add_location

TOKEN = "metrics-token-for-tests-7Qx9"


@pytest.fixture
def settings(database: TestDatabase) -> Settings:
    return make_settings(database.url, metrics_token=TOKEN)


@pytest.fixture
async def app(settings: Settings, clock: ManualClock, database: TestDatabase) -> AsyncIterator[FastAPI]:
    application = create_app(settings, clock)
    await empty_all_tables(application.state.runtime.engine, database.backend)
    yield application
    await application.state.runtime.engine.dispose()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(sample name, sorted labels) -> value, as Prometheus would parse it."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return samples(response.text)


LOCATIONS = "/api/v1/organizations/{org_id}/locations"


async def test_requests_are_counted_by_route_template_method_and_status(
    world: World, client: httpx.AsyncClient
) -> None:
    before = await scrape(client)
    key = ("ainas_http_requests_total", (("method", "GET"), ("route", LOCATIONS), ("status", "200")))
    for _ in range(3):
        assert (
            await client.get(f"{world.a.path}/locations", headers=world.a.admin.headers)
        ).status_code == 200
    assert (await client.get(f"{world.b.path}/locations", headers=world.a.admin.headers)).status_code == 404
    await add_location(client, world.a, "MET1", "計測拠点")
    after = await scrape(client)
    assert after[key] - before.get(key, 0) == 3
    refused = ("ainas_http_requests_total", (("method", "GET"), ("route", LOCATIONS), ("status", "404")))
    assert after[refused] - before.get(refused, 0) == 1
    created = ("ainas_http_requests_total", (("method", "POST"), ("route", LOCATIONS), ("status", "201")))
    assert after[created] - before.get(created, 0) == 1
    histogram = ("ainas_http_request_duration_seconds_count", (("method", "GET"), ("route", LOCATIONS)))
    assert after[histogram] - before.get(histogram, 0) == 4
    # One feed entry for the created location.
    assert (
        after[("ainas_feed_entries_written_total", ())] - before[("ainas_feed_entries_written_total", ())]
        == 1
    )


async def test_no_label_carries_input_an_organization_or_a_login(
    world: World, client: httpx.AsyncClient
) -> None:
    await client.get(f"{world.a.path}/locations/SECRETCODE9", headers=world.a.admin.headers)
    await client.get("/no/such/path/with-input-7731", headers=world.a.admin.headers)
    await client.request("BREW", f"{world.a.path}/locations", headers=world.a.admin.headers)
    text = (await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})).text
    for forbidden in ("SECRETCODE9", "with-input-7731", "BREW", world.a.admin.login_id, f"/{world.a.id}"):
        assert forbidden not in text
    assert 'route="unmatched"' in text
    assert 'method="OTHER"' in text
    assert 'route="/api/v1/organizations/{org_id}/locations/{code}"' in text


async def test_gauges_of_the_instance_and_the_process(app: FastAPI, client: httpx.AsyncClient) -> None:
    found = await scrape(client)
    for name in (
        "ainas_db_pool_connections_in_use",
        "ainas_db_pool_waiting",
        "ainas_password_hashes_running",
        "ainas_password_hashes_queued",
        "ainas_feed_long_polls_waiting",
        "ainas_webhook_messages_waiting",
        "ainas_webhook_oldest_message_age_seconds",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
    ):
        assert (name, ()) in found, name
    assert found[("ainas_webhook_messages_waiting", ())] == 0

    async def backlog() -> dict[str, tuple[str, float]]:
        return {"ainas_test_backlog": ("a gauge read from the database", 7)}

    app.state.runtime.metrics.awaited_gauges(backlog)
    found = await scrape(client)
    assert found[("ainas_test_backlog", ())] == 7
    assert found[("ainas_webhook_messages_waiting", ())] == 0  # the other reader still answers


async def test_gauges_that_cannot_be_read_are_left_out_not_the_rest(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async def unreadable() -> dict[str, tuple[str, float]]:
        raise ConnectionError("the database is away")

    app.state.runtime.metrics.awaited_gauges(unreadable)
    found = await scrape(client)
    assert ("ainas_webhook_messages_waiting", ()) in found  # another reader's gauges still answer
    assert ("ainas_db_pool_size", ()) in found


@pytest.mark.postgres_only
async def test_pool_and_hash_gauges_follow_the_load(app: FastAPI, client: httpx.AsyncClient) -> None:
    runtime = app.state.runtime
    async with runtime.engine.connect() as first, runtime.engine.connect() as second:
        await first.exec_driver_sql("SELECT 1")
        await second.exec_driver_sql("SELECT 1")
        found = await scrape(client)
    assert found[("ainas_db_pool_connections_in_use", ())] >= 2
    hasher = runtime.hasher
    turns = [hasher.turn() for _ in range(hasher.concurrency)]
    for turn in turns:
        await turn.__aenter__()
    try:
        waiting = asyncio.create_task(hasher.hash("a password that waits"))
        await asyncio.sleep(0.1)
        found = await scrape(client)
        assert found[("ainas_password_hashes_running", ())] == hasher.concurrency
        assert found[("ainas_password_hashes_queued", ())] == 1
    finally:
        for turn in turns:
            await turn.__aexit__(None, None, None)
    await waiting


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer"],
)
async def test_anyone_without_the_token_finds_nothing(
    client: httpx.AsyncClient, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


async def test_without_a_token_configured_metrics_are_off(database: TestDatabase, clock: ManualClock) -> None:
    application = create_app(make_settings(database.url), clock)
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        assert (await http.get("/metrics", headers={"Authorization": "Bearer "})).status_code == 404
        assert (await http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})).status_code == 404
    await application.state.runtime.engine.dispose()
