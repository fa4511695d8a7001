"""Concurrency on PostgreSQL (issue 5, item 4): at least 20 requests at once against a real
uvicorn process with its own connection pool, for every race SPEC §5.3 and §4 must win.

The in-process ASGI transport would run every request on the test's own event loop; a server
process of its own gives truer concurrency (its pool allows 20 connections, the rest wait).
"""

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sqlalchemy import text

from tests.fixtures.principals import token_response
from tests.fixtures.world import World, first_login, full_width_number
from tests.reliability.live import POSTGRES_ONLY, LiveServer, LiveSession, started_server
from tests.security.leaks import LeakScanner

PARALLEL = 24
pytestmark = POSTGRES_ONLY


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server process on a database of its own for the whole module."""
    with started_server("postgresql", tmp_path_factory.mktemp("concurrency")) as server:
        yield server


@pytest.fixture
async def live(server: LiveServer, leaks: LeakScanner) -> AsyncIterator[LiveSession]:
    async with LiveSession(server, leaks) as session:
        yield session


async def warm(http: httpx.AsyncClient, headers: dict[str, str]) -> None:
    """Open PARALLEL keep-alive connections, and fill the server's database pool, before a race:
    otherwise the first request wins while the others still wait for a connection, and the
    race is never run."""
    for _ in range(3):
        await asyncio.gather(*(http.get("/api/v1/me", headers=headers) for _ in range(PARALLEL)))


async def gather(requests: list[object]) -> list[httpx.Response]:
    """Send all at once; every one must answer (no exception, no 5xx)."""
    responses: list[httpx.Response] = await asyncio.gather(*requests)  # type: ignore[arg-type]
    server_errors = [response for response in responses if response.status_code >= 500]
    assert not server_errors, [f"{response.status_code} {response.text[:120]}" for response in server_errors]
    return responses


async def test_same_if_match_exactly_one_wins(live: LiveSession) -> None:
    world = await live.start()
    location = f"{world.a.path}/locations/L1"
    read = await live.http.get(location, headers=world.a.admin.headers)
    etag = read.headers["etag"]
    await warm(live.http, world.operator.headers)
    responses = await gather(
        [
            live.http.patch(
                location,
                json={"name": f"並行{full_width_number(index)}"},
                headers={**world.a.admin.headers, "If-Match": etag},
            )
            for index in range(PARALLEL)
        ]
    )
    statuses = Counter(response.status_code for response in responses)
    assert statuses == {200: 1, 412: PARALLEL - 1}, statuses
    winner = next(response for response in responses if response.status_code == 200)
    assert all(
        r.headers["content-type"] == "application/problem+json" for r in responses if r.status_code == 412
    )
    now = await live.http.get(location, headers=world.a.admin.headers)
    assert now.json()["name"] == winner.json()["name"]
    assert now.json()["version"] == read.json()["version"] + 1
    updates = await live.scalar("SELECT count(*) FROM audit_events WHERE action = 'location.update'")
    assert updates == 1


async def test_same_if_match_exactly_one_user_change_wins(live: LiveSession) -> None:
    """A user is read and written on the row path (a versioned UPDATE): of many changes sent with
    the same ETag, one wins, the others answer 412, and one change is recorded."""
    world = await live.start()
    user = f"{world.a.path}/users/preparer.l1"
    read = await live.http.get(user, headers=world.a.admin.headers)
    etag = read.headers["etag"]
    await warm(live.http, world.operator.headers)
    responses = await gather(
        [
            live.http.patch(
                user,
                json={"name": f"並行 {index}", "location_code": "L2" if index % 2 else "L1"},
                headers={**world.a.admin.headers, "If-Match": etag},
            )
            for index in range(PARALLEL)
        ]
    )
    statuses = Counter(response.status_code for response in responses)
    assert statuses == {200: 1, 412: PARALLEL - 1}, statuses
    winner = next(response for response in responses if response.status_code == 200)
    now = await live.http.get(user, headers=world.a.admin.headers)
    assert now.content == winner.content
    assert now.headers["etag"] == winner.headers["etag"] == f'"{read.json()["version"] + 1}"'
    updates = await live.scalar(
        "SELECT count(*) FROM audit_events WHERE action = 'user.update' AND resource_id = 'preparer.l1'"
    )
    assert updates == 1


async def test_same_if_match_exactly_one_user_deletion_wins(live: LiveSession) -> None:
    world = await live.start()
    user = f"{world.a.path}/users/submitter.l2"
    etag = (await live.http.get(user, headers=world.a.admin.headers)).headers["etag"]
    await warm(live.http, world.operator.headers)
    responses = await gather(
        [live.http.delete(user, headers={**world.a.admin.headers, "If-Match": etag}) for _ in range(PARALLEL)]
    )
    statuses = Counter(response.status_code for response in responses)
    # The losers read it before the winner committed (412) or after (404).
    assert statuses[204] == 1, statuses
    assert set(statuses) <= {204, 404, 412}, statuses
    deletions = await live.scalar(
        "SELECT count(*) FROM audit_events WHERE action = 'user.delete' AND resource_id = 'submitter.l2'"
    )
    assert deletions == 1


async def test_same_if_match_one_organization_rename_wins(live: LiveSession) -> None:
    """The organization's rename is one versioned UPDATE of the row read before it: of renames
    sent with the same If-Match, one wins and is recorded, the others answer 412."""
    world = await live.start()
    read = await live.http.get(world.a.path, headers=world.a.admin.headers)
    await warm(live.http, world.operator.headers)
    responses = await gather(
        [
            live.http.patch(
                world.a.path,
                json={"short_name": f"並行{full_width_number(index)}"},
                headers={**world.a.admin.headers, "If-Match": read.headers["etag"]},
            )
            for index in range(PARALLEL)
        ]
    )
    assert Counter(response.status_code for response in responses) == {200: 1, 412: PARALLEL - 1}
    winner = next(response for response in responses if response.status_code == 200)
    now = await live.http.get(world.a.path, headers=world.a.admin.headers)
    assert now.content == winner.content
    assert now.json()["version"] == read.json()["version"] + 1
    updates = await live.scalar("SELECT count(*) FROM audit_events WHERE action = 'organization.update'")
    assert updates == 1


async def test_same_new_location_code_one_created(live: LiveSession) -> None:
    world = await live.start()
    await warm(live.http, world.operator.headers)
    responses = await gather(
        [
            live.http.post(
                f"{world.a.path}/locations",
                json={"code": "RACE", "name": f"競合{full_width_number(index)}", "short_name": "競合"},
                headers=world.a.admin.headers,
            )
            for index in range(PARALLEL)
        ]
    )
    statuses = Counter(response.status_code for response in responses)
    assert statuses == {201: 1, 409: PARALLEL - 1}, statuses
    assert all(r.json()["status"] == 409 for r in responses if r.status_code == 409)
    rows = await live.scalar("SELECT count(*) FROM locations WHERE code = 'RACE'")
    events = await live.scalar(
        "SELECT count(*) FROM audit_events WHERE action = 'location.create' AND resource_id = 'RACE'"
    )
    assert (rows, events) == (1, 1)


async def test_same_idempotency_key_one_effect(live: LiveSession) -> None:
    world = await live.start()
    body = {"code": "IDEM", "name": "冪等拠点", "short_name": "冪等"}
    headers = {**world.a.admin.headers, "Idempotency-Key": "race-key-1"}
    await warm(live.http, world.operator.headers)
    responses = await gather(
        [live.http.post(f"{world.a.path}/locations", json=body, headers=headers) for _ in range(PARALLEL)]
    )
    statuses = Counter(response.status_code for response in responses)
    assert set(statuses) <= {201, 409}, statuses
    first = [r for r in responses if r.status_code == 201 and "idempotent-replayed" not in r.headers]
    replays = [r for r in responses if r.status_code == 201 and "idempotent-replayed" in r.headers]
    assert len(first) == 1, statuses
    assert all(replay.json() == first[0].json() for replay in replays)
    assert all(r.json()["code"] == "idempotency_in_progress" for r in responses if r.status_code == 409)
    rows = await live.scalar("SELECT count(*) FROM locations WHERE code = 'IDEM'")
    events = await live.scalar(
        "SELECT count(*) FROM audit_events WHERE action = 'location.create' AND resource_id = 'IDEM'"
    )
    # The key is stored only as an HMAC under the service secret: count the run's records (one key).
    kept = await live.scalar("SELECT count(*) FROM idempotency_records")
    assert (rows, events, kept) == (1, 1, 1)
    again = await live.http.post(f"{world.a.path}/locations", json=body, headers=headers)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"


async def test_demoting_the_last_two_admins_at_once_keeps_one(live: LiveSession) -> None:
    world = await live.start()
    onboarded = await live.http.post(
        "/api/v1/organizations",
        json={
            "name": "株式会社二人管理",
            "short_name": "二人管理",
            "admins": [
                {"login_id": "twin.one", "name": "管理 一"},
                {"login_id": "twin.two", "name": "管理 二"},
            ],
        },
        headers=world.operator.headers,
    )
    assert onboarded.status_code == 201, onboarded.text
    notice = onboarded.json()["registration_notice"]
    for admin in notice["admins"]:
        await first_login(live.http, admin["login_id"], admin["initial_password"])
    path = f"/api/v1/organizations/{notice['organization_id']}/users"
    targets = ["twin.one", "twin.two"] * (PARALLEL // 2)
    await warm(live.http, world.operator.headers)
    responses = await gather(
        [
            live.http.patch(
                f"{path}/{login_id}",
                json={"role": "location_admin", "location_code": None},
                headers=world.operator.headers,
            )
            for login_id in targets
        ]
    )
    by_user: dict[str, Counter[int]] = {"twin.one": Counter(), "twin.two": Counter()}
    for login_id, response in zip(targets, responses, strict=True):
        by_user[login_id][response.status_code] += 1
    admins = await live.scalar(
        "SELECT count(*) FROM users WHERE organization_id = :org AND role = 'admin'",
        org=int(notice["organization_id"]),
    )
    assert admins == 1, by_user
    demoted = [login_id for login_id, statuses in by_user.items() if statuses[200]]
    assert len(demoted) == 1, by_user
    kept = next(login_id for login_id in by_user if login_id not in demoted)
    assert set(by_user[kept]) == {409}, by_user
    assert all(r.json()["code"] == "last_admin" for r in responses if r.status_code == 409)
    role_changes = await live.scalar(
        "SELECT count(*) FROM audit_events WHERE action = 'user.update' AND organization_id = :org",
        org=int(notice["organization_id"]),
    )
    assert role_changes == 1


async def test_racing_failed_logins_lock_exactly_at_the_threshold(live: LiveSession) -> None:
    world: World = await live.start()
    threshold = 5  # the service's default (AINAS_LOCKOUT_THRESHOLD)
    await warm(live.http, world.operator.headers)
    responses = await gather(
        [token_response(live.http, "submitter.l1", f"wrong passphrase {index}") for index in range(PARALLEL)]
    )
    assert {response.status_code for response in responses} == {400}
    codes = Counter(response.json()["code"] for response in responses)
    # Exactly the threshold were checked: four wrong, the fifth locks, the rest find the lock.
    assert codes == {"invalid_credentials": threshold - 1, "account_locked": PARALLEL - threshold + 1}, codes
    lockouts = await live.scalar("SELECT count(*) FROM audit_events WHERE action = 'user.lockout'")
    assert lockouts == 1
    async with live.runtime.engine.connect() as connection:
        rows = (
            await connection.execute(
                text("SELECT changes, request_id FROM audit_events WHERE action = 'auth.login_failed'")
            )
        ).all()
        lock_request = (
            await connection.execute(
                text("SELECT request_id FROM audit_events WHERE action = 'user.lockout'")
            )
        ).scalar()
        user = (
            await connection.execute(
                text("SELECT failed_login_count, locked_until FROM users WHERE login_id = 'submitter.l1'")
            )
        ).one()
    changes = [row[0] if isinstance(row[0], dict) else json.loads(row[0]) for row in rows]
    assert len(changes) == PARALLEL  # every attempt audited
    counted = sorted(change["failures"][1] for change in changes if change["reason"][1] == "wrong_password")
    # Every checked password was counted exactly once: 1, 2, ... up to the threshold, no more.
    assert counted == list(range(1, threshold + 1)), counted
    at_threshold = [
        row[1]
        for row, change in zip(rows, changes, strict=True)
        if change.get("failures", [0, 0])[1] == threshold
    ]
    assert at_threshold == [lock_request]
    assert user.locked_until is not None
    assert user.failed_login_count == threshold
    # Locked: even the right password is refused now.
    right = await token_response(live.http, "submitter.l1", world["staff_submitter_l1"].password)
    assert right.json()["code"] == "account_locked"
