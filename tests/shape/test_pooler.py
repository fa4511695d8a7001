"""Every database path through PgBouncer in transaction pooling mode (`AINAS_DATABASE_POOLER=
transaction`), Debian's PgBouncer with its stock settings: the suite's own tests of login, list,
read, create, the fast select path and the feed's long poll, run here through PgBouncer (see
conftest.py), and what pooler mode is for (named statements and startup parameters break)."""

import asyncio
import logging

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from app.config.clock import ManualClock
from app.config.settings import Settings
from app.db.session import create_engine
from app.journal.listener import APPLICATION_NAME, ChangeListener
from app.main import create_app
from tests.auth.test_login import (
    test_login_success_answers_tokens,
    test_wrong_password_and_unknown_login_id_answer_alike,
)
from tests.changes.test_long_poll import (
    served,
    test_a_waiting_reader_answers_when_a_change_commits,
    until,
)
from tests.conftest import make_settings
from tests.fixtures.database import TestDatabase
from tests.fixtures.world import World, add_location
from tests.kernel.test_prepared import (
    test_rows_are_those_sqlalchemy_reads,
)
from tests.management.test_locations import (
    test_add_location_answers_201_with_location_and_etag,
    test_every_listed_location_reads_as_it_does_on_its_own,
    test_search_filters_total_sort_and_paging,
)

__all__ = [
    "served",
    "test_a_waiting_reader_answers_when_a_change_commits",
    "test_add_location_answers_201_with_location_and_etag",
    "test_every_listed_location_reads_as_it_does_on_its_own",
    "test_login_success_answers_tokens",
    "test_rows_are_those_sqlalchemy_reads",
    "test_search_filters_total_sort_and_paging",
    "test_wrong_password_and_unknown_login_id_answer_alike",
]

CALLERS = 12
ROUNDS = 15


async def test_without_pooler_mode_pgbouncer_refuses_the_connection(database: TestDatabase) -> None:
    """The direct mode's startup parameter (plan_cache_mode) is one PgBouncer's stock settings refuse."""
    engine = create_engine(make_settings(database.url))
    try:
        with pytest.raises(Exception, match="unsupported startup parameter"):
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()


async def _burst(app: FastAPI, world: World, client: httpx.AsyncClient, tag: str) -> list[int]:
    """Reads and writes from many callers at once, every one through PgBouncer."""

    async def caller(number: int) -> list[int]:
        statuses = []
        for round_number in range(ROUNDS):
            listed = await client.get(f"{world.a.path}/locations", headers=world.a.admin.headers)
            statuses.append(listed.status_code)
            if round_number % 5 == 0:
                code = f"{tag}{number:02d}{round_number:02d}"
                created = await client.post(
                    f"{world.a.path}/locations",
                    json={"code": code, "name": "同時拠点", "short_name": "同時"},
                    headers=world.a.admin.headers,
                )
                statuses.append(created.status_code)
        return statuses

    results = await asyncio.gather(*(caller(number) for number in range(CALLERS)))
    return [status for statuses in results for status in statuses]


@pytest.mark.postgres_only
async def test_many_callers_share_pgbouncer_server_connections_without_statement_clashes(
    app: FastAPI, world: World, client: httpx.AsyncClient, settings: Settings, clock: ManualClock
) -> None:
    """Two applications (two instances' pools) through one PgBouncer, at once: with named
    statements, a server connection would soon hold one another client's statement had the same
    name (`prepared statement "__asyncpg_stmt_1__" already exists`) or lack one it expects."""
    other = create_app(settings, clock)
    transport = httpx.ASGITransport(app=other)
    async with httpx.AsyncClient(transport=transport, base_url="http://other") as second:
        statuses = await asyncio.gather(_burst(app, world, client, "P"), _burst(other, world, second, "Q"))
    await other.state.runtime.engine.dispose()
    flat = [status for part in statuses for status in part]
    assert set(flat) <= {200, 201}, sorted(set(flat))
    listed = await client.get(
        f"{world.a.path}/locations", params={"limit": 100}, headers=world.a.admin.headers
    )
    created = {item["code"] for item in listed.json()["items"] if item["code"][0] in "PQ"}
    assert len(created) == 2 * CALLERS * len(range(0, ROUNDS, 5))


async def test_listen_through_the_pooler_is_found_out_and_readers_poll(
    app: FastAPI,
    world: World,
    client: httpx.AsyncClient,
    database: TestDatabase,
    direct_database: TestDatabase,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """LISTEN pointed at PgBouncer is accepted and then hears nothing: the listener sees that its
    own probe never comes back, says so in the log and in /readyz, and readers poll (a change
    still reaches a waiting reader within about a second)."""
    settings = make_settings(database.url, database_pooler="transaction", listen_database_url=database.url)
    pooled_listen = create_app(settings, clock)
    transport = httpx.ASGITransport(app=pooled_listen)
    changes_log = logging.getLogger("ainas.changes")  # "ainas" does not propagate (JSON lines)
    changes_log.addHandler(caplog.handler)
    async with (
        pooled_listen.router.lifespan_context(pooled_listen),
        httpx.AsyncClient(transport=transport, base_url="http://pooled") as http,
    ):
        listener: ChangeListener = pooled_listen.state.change_listener
        await until(lambda: "LISTEN hears nothing" in caplog.text, seconds=20)
        assert not listener.live
        ready = await http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ok", "change_feed": "polling"}
        assert "poll every 0.5s" in caplog.text
        start = (await http.get(f"{world.a.path}/changes", headers=world.a.basic())).json()["next_cursor"]
        waiting = asyncio.create_task(
            http.get(f"{world.a.path}/changes", params={"after": start, "wait": 20}, headers=world.a.basic())
        )
        await asyncio.sleep(0.3)
        await add_location(client, world.a, "POLL1", "ポーリング")
        answered = await asyncio.wait_for(waiting, 5)
        assert [item["resource"]["id"] for item in answered.json()["items"]] == ["POLL1"]
    changes_log.removeHandler(caplog.handler)
    await pooled_listen.state.runtime.engine.dispose()
    # PgBouncer's server connections keep the application_name the listener gave them; other
    # tests count the listener's connections by that name.
    plain = direct_database.url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(plain)
    try:
        await connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = $1 AND datname = current_database() AND pid <> pg_backend_pid()",
            APPLICATION_NAME,
        )
    finally:
        await connection.close()


async def test_listen_on_the_direct_url_listens_and_readyz_says_so(
    served: FastAPI, client: httpx.AsyncClient
) -> None:
    ready = await client.get("/readyz")
    assert ready.json() == {"status": "ok", "change_feed": "listening"}


async def test_no_statement_outlives_its_transaction(database: TestDatabase, settings: Settings) -> None:
    """Each PgBouncer server connection, asked directly after a run of every kind of statement
    the engine makes, holds no prepared statement (asked through PgBouncer: each question may land
    on any server connection, so it is asked many times, from many clients at once)."""
    engine = create_engine(settings)
    try:
        async with engine.begin() as connection:
            for number in range(20):
                await connection.execute(text("SELECT CAST(:n AS int)"), {"n": number})
        plain = database.url.replace("postgresql+asyncpg://", "postgresql://")

        async def held() -> int:
            connection = await asyncpg.connect(plain, statement_cache_size=0)
            try:
                return int(await connection.fetchval("SELECT count(*) FROM pg_prepared_statements"))
            finally:
                await connection.close()

        counts = await asyncio.gather(*(held() for _ in range(30)))
        assert counts == [0] * 30
    finally:
        await engine.dispose()
