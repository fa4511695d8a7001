"""Races on PostgreSQL against a real server process: one name per organization under a burst of
creates, and a designation narrowed while templates that name it are being created."""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.application_templates.helpers import body, designate, templates_path
from tests.fixtures.world import full_width_number
from tests.reliability.live import POSTGRES_ONLY, LiveServer, LiveSession, started_server
from tests.security.leaks import LeakScanner

PARALLEL = 24
ROUNDS = 10
CREATES_PER_ROUND = 4
pytestmark = POSTGRES_ONLY


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server process on a database of its own for the whole module."""
    with started_server("postgresql", tmp_path_factory.mktemp("templates")) as server:
        yield server


@pytest.fixture
async def live(server: LiveServer, leaks: LeakScanner) -> AsyncIterator[LiveSession]:
    async with LiveSession(server, leaks) as session:
        yield session


async def _warm(http: httpx.AsyncClient, headers: dict[str, str]) -> None:
    """Open PARALLEL connections and fill the server's pool, so that the requests really race."""
    for _ in range(3):
        await asyncio.gather(*(http.get("/api/v1/me", headers=headers) for _ in range(PARALLEL)))


async def _gather(requests: list[object]) -> list[httpx.Response]:
    responses: list[httpx.Response] = await asyncio.gather(*requests)  # type: ignore[arg-type]
    assert not [r for r in responses if r.status_code >= 500], [r.text[:200] for r in responses]
    return responses


async def test_simultaneous_creates_with_one_name_create_one(live: LiveSession) -> None:
    world = await live.start()
    await _warm(live.http, world.a.admin.headers)
    responses = await _gather(
        [
            live.http.post(
                templates_path(world.a),
                json=body(name="同時に同じ名前", notes=f"{index}"),
                headers=world.a.admin.headers,
            )
            for index in range(PARALLEL)
        ]
    )
    statuses = Counter(response.status_code for response in responses)
    assert statuses == {201: 1, 409: PARALLEL - 1}, statuses
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"template_name_taken"}
    rows = await live.scalar("SELECT count(*) FROM application_templates WHERE name = '同時に同じ名前'")
    events = await live.scalar(
        "SELECT count(*) FROM audit_events WHERE action = 'application_template.create'"
    )
    assert (rows, events) == (1, 1)


async def test_a_designation_narrowed_during_creates_never_leaves_a_misfit(live: LiveSession) -> None:
    """Rounds of a few creates naming a designation and, at once, a change that drops their
    procedure: either the change waits for them and counts them (409), or they wait for it and
    find that the designation no longer fits (422); never both sides succeed."""
    world = await live.start()
    headers = world.a.admin.headers
    await _warm(live.http, headers)
    outcomes: Counter[str] = Counter()
    for round_ in range(ROUNDS):
        designation = await designate(
            live.http,
            world,
            ["new_registration", "transfer_registration"],
            registration_number=f"{round_ + 1}",
        )
        creates = [
            live.http.post(
                templates_path(world.a),
                json=body(
                    name=f"競合{full_width_number(round_)}の{full_width_number(index)}",
                    agent_designation_id=designation["id"],
                ),
                headers=headers,
            )
            for index in range(CREATES_PER_ROUND)
        ]
        narrow = live.http.patch(
            f"{world.a.path}/agent-designations/{designation['id']}",
            json={"procedures": ["transfer_registration"]},
            headers=headers,
        )
        middle = len(creates) // 2
        responses = await _gather([*creates[:middle], narrow, *creates[middle:]])
        narrowed = responses.pop(middle)
        assert {r.status_code for r in responses} <= {201, 422}
        made = sum(r.status_code == 201 for r in responses)
        assert narrowed.status_code in (200, 409), narrowed.text
        if narrowed.status_code == 409:
            assert 1 <= narrowed.json()["count"] <= made
        outcomes[f"{narrowed.status_code}, {made} made"] += 1
    misfits = await live.scalar(
        "SELECT count(*) FROM application_templates t JOIN agent_designations d ON d.id = t.agent_designation_id "
        "WHERE position(t.procedure in d.procedures) = 0"
    )
    assert misfits == 0, outcomes


async def test_same_if_match_on_a_template_exactly_one_wins(live: LiveSession) -> None:
    """Changes of one template sent at once with the ETag read before: one wins (200), every other
    is told the template moved on (412), and only the winner is recorded."""
    world = await live.start()
    headers = world.a.admin.headers
    created = await live.http.post(templates_path(world.a), json=body(), headers=headers)
    assert created.status_code == 201, created.text
    path = f"{templates_path(world.a)}/{created.json()['id']}"
    etag = created.headers["etag"]
    await _warm(live.http, headers)
    responses = await _gather(
        [
            live.http.patch(path, json={"notes": f"備考{index}"}, headers={**headers, "If-Match": etag})
            for index in range(PARALLEL)
        ]
    )
    statuses = Counter(response.status_code for response in responses)
    assert statuses == {200: 1, 412: PARALLEL - 1}, statuses
    winner = next(response for response in responses if response.status_code == 200)
    now = await live.http.get(path, headers=headers)
    assert now.content == winner.content
    assert now.json()["version"] == 2
    events = await live.scalar(
        "SELECT count(*) FROM audit_events WHERE action = 'application_template.update'"
    )
    assert events == 1
