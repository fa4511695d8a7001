"""Uploads at once, against a real server on PostgreSQL (SPEC §5.6): codes and login IDs are
claimed once, and changes of the same rows queue up instead of overwriting what they did not see."""

import asyncio
import itertools
import json
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sqlalchemy import text

from tests.exports.files import LOCATION_HEADER, csv_text
from tests.fixtures.world import full_width_number
from tests.reliability.live import POSTGRES_ONLY, LiveServer, LiveSession, started_server
from tests.security.leaks import LeakScanner

PARALLEL = 12
ROWS = 100
pytestmark = POSTGRES_ONLY


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # A pool as large as the race: the uploads queue on row locks, not for connections, and
    # the shared PostgreSQL of a test run keeps connections for others.
    pool = {"AINAS_DB_POOL_SIZE": str(PARALLEL)}
    with started_server("postgresql", tmp_path_factory.mktemp("csv-concurrency"), pool) as server:
        yield server


@pytest.fixture
async def live(server: LiveServer, leaks: LeakScanner) -> AsyncIterator[LiveSession]:
    async with LiveSession(server, leaks) as session:
        yield session


async def at_once(live: LiveSession, requests: list[object]) -> list[httpx.Response]:
    """Send all at once; none may fail with a server error (the server's errors are shown if one does)."""
    responses: list[httpx.Response] = await asyncio.gather(*requests)  # type: ignore[arg-type]
    failed = [response.text[:300] for response in responses if response.status_code >= 500]
    errors = [line for line in live.server.log_lines() if '"level":"ERROR"' in line]
    assert not failed, (failed, errors[-3:])
    return responses


async def warm(live: LiveSession, headers: dict[str, str]) -> None:
    """Open the connections (client and server pool) first, so that the uploads really race."""
    for _ in range(2):
        await asyncio.gather(*(live.http.get("/api/v1/me", headers=headers) for _ in range(PARALLEL)))


def post_csv(live: LiveSession, path: str, text: str, headers: dict[str, str]) -> object:
    return live.http.post(path, content=text.encode(), headers={**headers, "Content-Type": "text/csv"})


async def test_the_same_new_codes_are_created_once(live: LiveSession) -> None:
    world = await live.start()
    await warm(live, world.a.admin.headers)
    files = [
        csv_text(
            [LOCATION_HEADER]
            + [[f"RACE{n:03d}", f"競合{full_width_number(i)}", "競合", ""] for n in range(ROWS)]
        )
        for i in range(PARALLEL)
    ]
    responses = await at_once(
        live,
        [post_csv(live, f"{world.a.path}/imports/locations", file, world.a.admin.headers) for file in files],
    )
    statuses = Counter(response.status_code for response in responses)
    assert set(statuses) <= {200, 409}, statuses
    answers = [response.json() for response in responses if response.status_code == 200]
    # One upload created the codes; one that began after it committed updated them; the others,
    # which raced it, changed nothing and said so.
    assert [answer["created"] for answer in answers].count(ROWS) == 1, answers
    assert all(
        answer == {"created": 0, "updated": ROWS, "unchanged": 0}
        for answer in answers
        if not answer["created"]
    )
    assert all(r.json()["code"] == "csv_conflict" for r in responses if r.status_code == 409)
    assert await live.scalar("SELECT count(*) FROM locations WHERE code LIKE 'RACE%'") == ROWS
    assert (
        await live.scalar(
            "SELECT count(*) FROM audit_events WHERE action = 'location.create' AND resource_id LIKE 'RACE%'"
        )
        == ROWS
    )
    updates = await live.scalar(
        "SELECT count(*) FROM audit_events WHERE action = 'location.update' AND resource_id LIKE 'RACE%'"
    )
    assert updates == ROWS * (len(answers) - 1)


async def test_changes_of_the_same_rows_queue_up(live: LiveSession) -> None:
    """Every upload renames the same rows: each must see the one before it (its audit events say
    what it replaced), and the rows end as one upload left them, not a mix."""
    world = await live.start()
    seed = csv_text([LOCATION_HEADER] + [[f"Q{n:03d}", "元の名前", "元", ""] for n in range(ROWS)])
    created = await live.http.post(
        f"{world.a.path}/imports/locations",
        content=seed.encode(),
        headers={**world.a.admin.headers, "Content-Type": "text/csv"},
    )
    assert created.json()["created"] == ROWS, created.text
    await warm(live, world.a.admin.headers)
    files = [
        csv_text(
            [LOCATION_HEADER] + [[f"Q{n:03d}", f"更新{full_width_number(i)}", "元", ""] for n in range(ROWS)]
        )
        for i in range(PARALLEL)
    ]
    responses = await at_once(
        live,
        [post_csv(live, f"{world.a.path}/imports/locations", file, world.a.admin.headers) for file in files],
    )
    assert [response.status_code for response in responses] == [200] * PARALLEL
    assert all(response.json() == {"created": 0, "updated": ROWS, "unchanged": 0} for response in responses)
    names = await live.scalar("SELECT count(DISTINCT name) FROM locations WHERE code LIKE 'Q%'")
    assert names == 1, "the rows end as a mix of uploads"
    for n in (0, ROWS // 2, ROWS - 1):
        async with live.runtime.engine.connect() as connection:
            rows = (
                await connection.execute(
                    text(
                        "SELECT changes FROM audit_events WHERE action = 'location.update' AND resource_id = :code ORDER BY id"
                    ),
                    {"code": f"Q{n:03d}"},
                )
            ).all()
        chain = [json.loads(row[0])["name"] if isinstance(row[0], str) else row[0]["name"] for row in rows]
        assert len(chain) == PARALLEL
        assert chain[0][0] == "元の名前"
        for before, after in itertools.pairwise(chain):
            assert after[0] == before[1], f"an upload overwrote a name it never saw: {chain}"
        final = await live.scalar("SELECT name FROM locations WHERE code = :code", code=f"Q{n:03d}")
        assert chain[-1][1] == final


async def test_the_same_new_users_are_created_once(live: LiveSession) -> None:
    world = await live.start()
    await warm(live, world.a.admin.headers)
    file = csv_text(
        [["login_id", "name", "role"]] + [[f"race.{n}", "競合 利用者", "担当者（送信可）"] for n in range(5)]
    )
    responses = await at_once(
        live,
        [
            post_csv(live, f"{world.a.path}/imports/users", file, world.a.admin.headers)
            for _ in range(PARALLEL)
        ],
    )
    assert {response.status_code for response in responses} <= {200, 409}
    answers = [response.json() for response in responses if response.status_code == 200]
    assert [answer["created"] for answer in answers].count(5) == 1, answers
    assert all(answer["unchanged"] == 5 for answer in answers if not answer["created"])
    assert sum(len(answer["temporary_passwords"]) for answer in answers) == 5
    assert await live.scalar("SELECT count(*) FROM users WHERE login_id LIKE 'race.%'") == 5
    assert (
        await live.scalar(
            "SELECT count(*) FROM audit_events WHERE action = 'user.create' AND resource_id LIKE 'race.%'"
        )
        == 5
    )
