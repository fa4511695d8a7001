"""`ainas prune-changes`: the operators' way to apply the retention period (the server also prunes
about once an hour)."""

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from app.config.clock import ManualClock
from app.config.settings import Settings
from tests.acceptance.server import run_command, server_env
from tests.changes.feed import changes_path, current_cursor, page
from tests.fixtures.principals import login
from tests.fixtures.world import PASSWORD, World, add_location


@pytest.fixture
def clock() -> ManualClock:
    """The world is built 40 days ago (by the wall clock the command uses)."""
    return ManualClock(datetime.now(UTC) - timedelta(days=40))


async def test_prune_changes_removes_entries_past_the_retention_period(
    world: World, client: httpx.AsyncClient, clock: ManualClock, settings: Settings
) -> None:
    admin = world.a.admin.headers
    old = await current_cursor(client, world.a, admin)
    await add_location(client, world.a, "OLD", "古い拠点")
    clock.advance(timedelta(days=35))  # 5 days ago: within the period
    world.a.admin = await login(client, "a.admin", PASSWORD)  # the old token expired meanwhile
    admin = world.a.admin.headers
    recent = await current_cursor(client, world.a, admin)
    await add_location(client, world.a, "NEW", "新しい拠点")

    env = server_env(settings.database_url, settings.secret_key)
    done = await asyncio.to_thread(run_command, ["prune-changes"], env)
    assert "older than 30 days" in done.stdout
    assert int(done.stdout.split()[1]) >= 1

    expired = await client.get(changes_path(world.a), params={"after": old}, headers=admin)
    assert expired.status_code == 410
    assert expired.json()["code"] == "cursor_expired"
    kept = await page(client, world.a, admin, recent)
    assert [item["resource"]["id"] for item in kept["items"]] == ["NEW"]
