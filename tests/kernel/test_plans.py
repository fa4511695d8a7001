"""How PostgreSQL plans the service's prepared statements (app/db/prepared.py): a list is planned
for its values at every execution (a plan made for one tenant's size is wrong for another's);
everything else may keep one generic plan per connection (planning again costs more than running
a point read). Read off PostgreSQL's own counters (`pg_prepared_statements`) of the one pooled
connection that served the requests."""

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config.settings import Settings
from app.db.session import engines_of
from tests.conftest import make_settings
from tests.fixtures.database import TestDatabase
from tests.fixtures.world import World
from tests.webhooks.helpers import create_endpoint

# Well past the five executions after which PostgreSQL may keep a generic plan.
REQUESTS = 12


@pytest.fixture
def settings(database: TestDatabase) -> Settings:
    """One connection: every request's statements are prepared on it, where the test reads them."""
    return make_settings(database.url, db_pool_size=1)


@pytest.mark.postgres_only
async def test_lists_are_planned_for_their_values_and_point_reads_once(
    app: FastAPI, client: httpx.AsyncClient, world: World
) -> None:
    path = f"{world.a.path}/locations"
    for number in range(3):
        created = await client.post(
            path,
            json={"code": f"P{number:03d}", "name": "計画", "short_name": "計画"},
            headers=world.a.admin.headers,
        )
        assert created.status_code == 201, created.text
    endpoint = await create_endpoint(client, world.a, "http://127.0.0.1:9/hook")
    deliveries = f"{world.a.path}/webhook-endpoints/{endpoint['id']}/deliveries"
    for _ in range(REQUESTS):
        # A list of mapped objects (the deliveries'): read through the request's session.
        objects = await client.get(deliveries, params={"limit": 2}, headers=world.a.admin.headers)
        assert objects.status_code == 200, objects.text
        listed = await client.get(path, params={"limit": 2}, headers=world.a.admin.headers)
        assert listed.status_code == 200, listed.text
        one = await client.get(f"{path}/P001", headers=world.a.admin.headers)
        assert one.status_code == 200, one.text
        events = await client.get(
            f"{world.a.path}/audit-events", params={"limit": 2}, headers=world.a.admin.headers
        )
        assert events.status_code == 200, events.text
    requests_engine, lists_engine = engines_of(app.state.runtime.engine)
    requests_plans = await _plans(requests_engine)
    lists_plans = await _plans(lists_engine)

    # The first page counts; the later ones find the total remembered (app/db/totals.py). Both on
    # the lists' own connection, none on the requests'.
    assert _counted(lists_plans, "FROM locations", "LIMIT", "count(") == (0, 1)
    assert _counted(lists_plans, "FROM locations", "LIMIT", without="count(") == (0, REQUESTS - 1)
    assert not [
        statement for statement in requests_plans if "LIMIT" in statement and "locations" in statement
    ]
    assert _counted(lists_plans, "FROM audit_events", "LIMIT") == (0, REQUESTS)  # a list of rows too
    # The session's list is planned for its values on the request's connection (SET LOCAL).
    assert _counted(requests_plans, "FROM webhook_deliveries", "LIMIT") == (0, REQUESTS)
    principal_generic, _ = _counted(
        requests_plans, "FROM users LEFT OUTER JOIN locations", "users.security_stamp"
    )
    assert principal_generic >= REQUESTS
    one_generic, _ = _counted(
        requests_plans, "SELECT locations.code", "locations.code = $"
    )  # LocationRepository.one
    assert one_generic >= REQUESTS - 5


async def _plans(engine: AsyncEngine) -> dict[str, tuple[int, int]]:
    """{statement: (generic plans, custom plans)} of the engine's one pooled connection."""
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                text("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements")
            )
        ).all()
    return {statement: (generic, custom) for statement, generic, custom in rows}


def _counted(plans: dict[str, tuple[int, int]], *words: str, without: str = "\0") -> tuple[int, int]:
    found = [
        value
        for statement, value in plans.items()
        if all(word in statement for word in words) and without not in statement
    ]
    assert len(found) == 1, (words, [s for s in plans if all(w in s for w in words)])
    return found[0]


@pytest.mark.postgres_only
async def test_connections_do_not_compile_plans_with_jit_and_lists_plan_for_their_values(
    app: FastAPI,
) -> None:
    """JIT compiles a costly plan at every execution: tens of milliseconds a list planned for its
    values would pay each time (users?login_id= at 200,000 users went from 30 to 128 ms p50)."""
    requests_engine, lists_engine = engines_of(app.state.runtime.engine)
    for engine, plan_cache_mode in ((requests_engine, "auto"), (lists_engine, "force_custom_plan")):
        async with engine.connect() as connection:
            assert (await connection.execute(text("SHOW jit"))).scalar_one() == "off"
            assert (await connection.execute(text("SHOW plan_cache_mode"))).scalar_one() == plan_cache_mode
