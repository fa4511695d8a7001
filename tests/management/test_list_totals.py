"""Counting at scale (issue 24 item 3): the user and location lists remember their totals per
process with the organization's change counter, and count again only when it moved.

Exactness is checked the strong way: every list is read with a limit above its size, so that the
items it answers are a fresh count of their own, and `total` must equal them, after every kind of
change that can move a total. That the remembered total is really used is observed on the
statements the service runs (`Statements`): a second identical page runs no count.
"""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, insert, text

from app.config.clock import ManualClock
from app.config.settings import Settings
from app.db.session import engines_of
from app.http.pagination import PageRequest
from app.locations.repository import LocationRepository, LocationScope
from app.locations.schemas import LocationFilters
from app.main import create_app
from app.models import Location as LocationRow
from tests.exports.files import csv_text, upload
from tests.fixtures.principals import login
from tests.fixtures.world import PASSWORD, World, post_user

# Every list read here fits one page: its items are then a count of their own.
LIMIT = 200
USER_LISTS: dict[str, dict[str, Any]] = {
    "all": {},
    "role": {"role": "staff_submitter"},
    "roles": {"role": ["staff_submitter", "staff_preparer"]},
    "location_code": {"location_code": "L1"},
    "all_locations": {"location_code": ""},
    "name": {"name": "利用者"},
}
LOCATION_LISTS: dict[str, dict[str, Any]] = {"all": {}, "name": {"name": "拠点"}, "code": {"code": "L1"}}
# How the totals move when a staff_submitter of L1 named 利用者 … is added.
ONE_MORE_SUBMITTER_AT_L1 = {
    "users:all": 1,
    "users:role": 1,
    "users:roles": 1,
    "users:location_code": 1,
    "users:name": 1,
}


class Statements:
    """The SQL the app runs while a block is open: SQLAlchemy's own executions, and on
    PostgreSQL the prepared selects that run on asyncpg directly (its query logger)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def counts(self) -> list[str]:
        """The statements that counted rows."""
        return [sql for sql in self.seen if "count(*)" in sql.lower()]


@contextmanager
def statements(app: FastAPI) -> Iterator[Statements]:
    engines = [engine.sync_engine for engine in engines_of(app.state.runtime.engine)]  # the lists' too
    found = Statements()
    loggers: list[tuple[asyncpg.Connection, Any]] = []

    def executed(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        found.seen.append(statement)

    def checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        driver = getattr(dbapi_connection, "driver_connection", None)
        if isinstance(driver, asyncpg.Connection) and all(driver is not known for known, _ in loggers):

            def logged(query: Any) -> None:
                found.seen.append(query.query)

            driver.add_query_logger(logged)
            loggers.append((driver, logged))

    for engine in engines:
        event.listen(engine, "before_cursor_execute", executed)
        event.listen(engine.pool, "checkout", checked_out)
    try:
        yield found
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", executed)
            event.remove(engine.pool, "checkout", checked_out)
        for driver, logged in loggers:
            driver.remove_query_logger(logged)


async def read(client: httpx.AsyncClient, path: str, headers: dict[str, str], params: dict[str, Any]) -> int:
    """A list's total, checked against the items it answers (all of them: one page)."""
    response = await client.get(path, params={**params, "limit": LIMIT}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] < LIMIT
    assert body["total"] == len(body["items"]), (path, params, body["total"], len(body["items"]))
    return int(body["total"])


async def totals(
    client: httpx.AsyncClient, world: World, headers: dict[str, str] | None = None
) -> dict[str, int]:
    """Every list's total, each checked exact (see `read`)."""
    headers = headers or world.a.admin.headers
    found = {}
    for name, params in USER_LISTS.items():
        found[f"users:{name}"] = await read(client, f"{world.a.path}/users", headers, params)
    for name, params in LOCATION_LISTS.items():
        found[f"locations:{name}"] = await read(client, f"{world.a.path}/locations", headers, params)
    return found


async def counted_reads(app: FastAPI, client: httpx.AsyncClient, world: World) -> list[str]:
    """Read every list again; the counts that took."""
    with statements(app) as seen:
        await totals(client, world)
        await asyncio.sleep(0)  # asyncpg hands its log over on the next turn of the loop
    return seen.counts()


async def around_the_service(app: FastAPI, world: World, counters: str) -> None:
    """Add a location to organization A with SQL of its own, not through the service (so without
    a feed entry), and run `counters` (SQL on the counters) in the same transaction."""
    now = app.state.runtime.clock.now()
    values = {"code": "RAW", "name": "直接拠点", "short_name": "直接", "created_at": now, "updated_at": now}
    async with app.state.runtime.engine.begin() as connection:
        await connection.execute(
            insert(LocationRow).values(organization_id=int(world.a.id), version=1, **values)
        )
        await connection.execute(text(counters))


def moved(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """The lists whose totals moved, by how much."""
    return {name: after[name] - before[name] for name in after if after[name] != before[name]}


async def test_a_page_read_again_counts_nothing(
    app: FastAPI, world: World, client: httpx.AsyncClient
) -> None:
    users, locations = f"{world.a.path}/users", f"{world.a.path}/locations"
    headers = world.a.admin.headers
    with statements(app) as first:
        await totals(client, world)
        await asyncio.sleep(0)
    assert len(first.counts()) == len(USER_LISTS) + len(LOCATION_LISTS)
    with statements(app) as again:
        before = await totals(client, world)
        # Another sort, another page size and offset: the same rows counted, the same total.
        sorted_users = await client.get(
            users, params={"sort": "-name", "offset": 2, "limit": 2}, headers=headers
        )
        sorted_locations = await client.get(locations, params={"sort": "-code", "limit": 1}, headers=headers)
        await asyncio.sleep(0)
    assert again.counts() == []
    assert again.seen, "the reads were observed"
    assert sorted_users.json()["total"] == before["users:all"]
    assert len(sorted_users.json()["items"]) == 2
    assert sorted_locations.json()["total"] == before["locations:all"]
    # Another caller sees other rows (a location's admin: its own location): counted apart.
    scoped = world["location_admin_l1"].headers
    with statements(app) as other:
        await read(client, users, scoped, {})
        await asyncio.sleep(0)
    assert len(other.counts()) == 1
    # The audit trail is written without feed entries: it counts every time.
    await client.get(f"{world.a.path}/audit-events", headers=headers)
    with statements(app) as audit:
        await client.get(f"{world.a.path}/audit-events", headers=headers)
        await asyncio.sleep(0)
    assert len(audit.counts()) == 1


async def test_totals_stay_exact_after_every_change(
    app: FastAPI, world: World, client: httpx.AsyncClient
) -> None:
    a, headers = world.a, world.a.admin.headers

    async def step(name: str, expected: dict[str, int]) -> None:
        after = await totals(client, world)
        assert moved(current, after) == expected, name
        current.update(after)

    current = await totals(client, world)  # remembered from here on
    assert await counted_reads(app, client, world) == []

    created = await post_user(
        client, a, headers, "new.one", "利用者 新人", "staff_submitter", location_code="L1"
    )
    assert created.status_code == 201, created.text
    await step("user created", ONE_MORE_SUBMITTER_AT_L1)
    patched = await client.patch(f"{a.path}/users/new.one", json={"role": "staff_preparer"}, headers=headers)
    assert patched.status_code == 200, patched.text
    await step("role changed", {"users:role": -1})
    patched = await client.patch(f"{a.path}/users/new.one", json={"location_code": "L2"}, headers=headers)
    assert patched.status_code == 200, patched.text
    await step("location reassigned", {"users:location_code": -1})
    patched = await client.patch(f"{a.path}/users/new.one", json={"location_code": None}, headers=headers)
    assert patched.status_code == 200, patched.text
    await step("moved to all locations", {"users:all_locations": 1})
    patched = await client.patch(f"{a.path}/users/new.one", json={"name": "改名 花子"}, headers=headers)
    assert patched.status_code == 200, patched.text
    await step("renamed", {"users:name": -1})
    deleted = await client.delete(f"{a.path}/users/new.one", headers=headers)
    assert deleted.status_code == 204, deleted.text
    await step("user deleted", {"users:all": -1, "users:roles": -1, "users:all_locations": -1})

    file = csv_text(
        [
            ["ログインID", "ユーザー名", "依頼人拠点コード", "権限"],
            ["csv.one", "利用者 一", "L1", "staff_submitter"],
            ["csv.two", "一括 二", "", "staff_preparer"],
            ["submitter.l2", "利用者 submitter.l2", "L2", "staff_preparer"],
        ]
    )
    uploaded = await upload(client, a, "users", file, headers)
    assert uploaded.status_code == 200, uploaded.text
    await step(
        "users uploaded",
        {
            "users:all": 2,
            # users:role stays: csv.one in, submitter.l2 out
            "users:roles": 2,
            "users:location_code": 1,
            "users:all_locations": 1,
            "users:name": 1,
        },
    )

    # Logins, password changes and resets touch no column a list filters on: nothing to count.
    await login(client, "submitter.l1", PASSWORD)
    changed = await client.put(
        "/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": "another horse battery staple"},
        headers=world["staff_submitter_l1"].headers,
    )
    assert changed.status_code == 204, changed.text
    reset = await client.post(f"{a.path}/users/preparer.l1/password-reset", headers=headers)
    assert reset.status_code == 200, reset.text
    await step("logged in, password changed and reset", {})
    assert await counted_reads(app, client, world) == []

    location = {"code": "L3", "name": "第三拠点", "short_name": "第三"}
    added = await client.post(f"{a.path}/locations", json=location, headers=headers)
    assert added.status_code == 201, added.text
    await step("location created", {"locations:all": 1, "locations:name": 1})
    patched = await client.patch(f"{a.path}/locations/L3", json={"name": "第三営業所"}, headers=headers)
    assert patched.status_code == 200, patched.text
    await step("location renamed", {"locations:name": -1})
    deleted = await client.delete(f"{a.path}/locations/L3", headers=headers)
    assert deleted.status_code == 204, deleted.text
    await step("location deleted", {"locations:all": -1})
    file = csv_text(
        [
            ["依頼人拠点コード", "依頼人拠点名", "依頼人拠点名（略称）"],
            ["L4", "第四拠点", "第四"],
            ["L5", "第五営業所", "第五"],
            ["L2", "第二営業所", "第二"],
        ]
    )
    uploaded = await upload(client, a, "locations", file, headers)
    assert uploaded.status_code == 200, uploaded.text
    await step("locations uploaded", {"locations:all": 2})  # by name: L4 in, L2 out

    # A caller who sees one location: its list too.
    scoped = world["location_admin_l1"].headers
    before = await read(client, f"{a.path}/users", scoped, {})
    created = await post_user(
        client, a, headers, "l1.late", "利用者 遅番", "staff_preparer", location_code="L1"
    )
    assert created.status_code == 201, created.text
    assert await read(client, f"{a.path}/users", scoped, {}) == before + 1


async def test_onboarding_starts_an_organizations_totals(
    app: FastAPI, world: World, client: httpx.AsyncClient
) -> None:
    """Onboarding writes its admins' entries: the new organization's lists are remembered at once."""
    created = await client.post(
        "/api/v1/organizations",
        json={
            "name": "株式会社新規登録",
            "short_name": "新規登録",
            "admins": [
                {"login_id": "c.admin", "name": "管理 一郎"},
                {"login_id": "c.second", "name": "管理 二郎"},
            ],
        },
        headers=world.operator.headers,
    )
    assert created.status_code == 201, created.text
    path = f"/api/v1/organizations/{created.json()['registration_notice']['organization_id']}"
    operator = world.operator.headers
    assert await read(client, f"{path}/users", operator, {}) == 2
    assert await read(client, f"{path}/users", operator, {"role": "admin"}) == 2
    assert await read(client, f"{path}/locations", operator, {}) == 0
    with statements(app) as seen:
        assert await read(client, f"{path}/users", operator, {}) == 2
        assert await read(client, f"{path}/users", operator, {"role": "admin"}) == 2
        await asyncio.sleep(0)
    assert seen.counts() == []


async def test_without_a_counter_every_page_counts(
    app: FastAPI, world: World, client: httpx.AsyncClient
) -> None:
    """An organization whose counter row is missing (rows loaded around the service) is counted
    on every page, never remembered."""
    await totals(client, world)
    # A row the feed never saw: only a count finds it.
    await around_the_service(app, world, "DELETE FROM change_counters")
    for _ in range(2):
        counted = await counted_reads(app, client, world)
        assert len(counted) == len(USER_LISTS) + len(LOCATION_LISTS)
    assert await read(client, f"{world.a.path}/locations", world.a.admin.headers, {"code": "RAW"}) == 1


async def test_two_instances_count_each_others_changes(
    app: FastAPI, world: World, client: httpx.AsyncClient, settings: Settings, clock: ManualClock
) -> None:
    """A change through one process moves the counter the other reads: its next page counts."""
    other = create_app(settings, clock)
    try:
        transport = httpx.ASGITransport(app=other)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as second:
            first_totals = await totals(client, world)
            assert await totals(second, world) == first_totals  # both remember now
            assert await counted_reads(other, second, world) == []

            headers = world.a.admin.headers
            fields = {"location_code": "L1"}
            created = await post_user(
                client, world.a, headers, "via.first", "利用者 一号", "staff_submitter", **fields
            )
            assert created.status_code == 201, created.text
            seen = await totals(second, world)
            assert moved(first_totals, seen) == ONE_MORE_SUBMITTER_AT_L1

            location = {"code": "L9", "name": "第九拠点", "short_name": "第九"}
            added = await second.post(
                f"{world.a.path}/locations", json=location, headers=world.a.admin.headers
            )
            assert added.status_code == 201, added.text
            deleted = await second.delete(f"{world.a.path}/users/via.first", headers=world.a.admin.headers)
            assert deleted.status_code == 204, deleted.text
            assert moved(first_totals, await totals(client, world)) == {
                "locations:all": 1,
                "locations:name": 1,
            }
    finally:
        await other.state.runtime.engine.dispose()


async def test_a_page_read_inside_a_write_transaction_is_never_remembered(
    app: FastAPI, world: World, client: httpx.AsyncClient
) -> None:
    """A transaction sees its own rows before its changes move the counter (on PostgreSQL at
    commit): what it counts must neither be remembered nor answered from what was."""
    path, headers = f"{world.a.path}/locations", world.a.admin.headers
    before = await read(client, path, headers, {})
    scope = LocationScope(int(world.a.id), None)
    async with app.state.runtime.sessionmaker() as session:
        repository = LocationRepository(session)
        now = app.state.runtime.clock.now()
        values = {"code": "TMP", "name": "仮拠点", "short_name": "仮", "created_at": now, "updated_at": now}
        await repository.insert_returning(
            {"organization_id": scope.organization_id, **values, "version": 1}, [LocationRow.id]
        )
        _, rows, total = await repository.search(scope, LocationFilters(), PageRequest(LIMIT, 0, None))
        assert total == len(rows) == before + 1  # its own row, counted
        await session.rollback()
    assert await read(client, path, headers, {}) == before


@pytest.mark.postgres_only
async def test_a_counter_made_again_with_the_same_number_is_another_stamp(
    app: FastAPI, world: World, client: httpx.AsyncClient
) -> None:
    """Tables emptied under a running process (module-wide test servers do it) or a restored
    backup can bring a counter back to a number it had, over other rows. On PostgreSQL the stamp
    carries the counter row's version too: such a counter is another stamp."""
    path, headers = f"{world.a.path}/locations", world.a.admin.headers
    before = await read(client, path, headers, {})
    await around_the_service(app, world, "UPDATE change_counters SET last = last")
    assert await read(client, path, headers, {}) == before + 1
