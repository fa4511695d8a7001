"""Defaults claim "the one default of a location and a procedure": bursts of simultaneous "make
default" requests from threads at a real server on PostgreSQL leave exactly one default, and every
other request is told which designation holds it (409 default_already_set)."""

from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.agents.helpers import AGENTS, designations_path
from tests.fixtures.bursts import at_once
from tests.fixtures.world import World, full_width_number
from tests.reliability.live import POSTGRES_ONLY, LiveServer, LiveSession, started_server
from tests.security.leaks import LeakScanner

PARALLEL = 12
pytestmark = POSTGRES_ONLY


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with started_server("postgresql", tmp_path_factory.mktemp("default-bursts")) as server:
        yield server


@pytest.fixture
async def live(server: LiveServer) -> AsyncIterator[LiveSession]:
    async with LiveSession(server, LeakScanner()) as session:
        yield session


async def _agents(live: LiveSession, world: World, count: int) -> list[dict[str, Any]]:
    """`count` 振興会 of the directory."""
    made = []
    for index in range(count):
        response = await live.http.post(
            AGENTS,
            json={
                "kind": "nisseiren",
                "name": f"振興会{full_width_number(index)}",
                "short_name": "振興会",
                "prefecture": "13",
            },
            headers=world.operator.headers,
        )
        assert response.status_code == 201, response.text
        made.append(response.json())
    return made


def _holders(responses: list[httpx.Response]) -> tuple[Counter[int], str, set[str]]:
    """Statuses, the one winner's id, and the holders the 409s name."""
    statuses = Counter(response.status_code for response in responses)
    winners = [response.json()["id"] for response in responses if response.status_code in (200, 201)]
    assert len(winners) == 1, statuses
    named = {
        response.json()["designation_id"]
        for response in responses
        if response.status_code == 409 and response.json()["code"] == "default_already_set"
    }
    return statuses, winners[0], named


async def test_simultaneous_make_default_requests_leave_one_default(live: LiveSession) -> None:
    world = await live.start()
    agents = await _agents(live, world, PARALLEL)
    designations = []
    for agent in agents:
        response = await live.http.post(
            designations_path(world.a),
            json={"agent_id": agent["id"], "location_code": "L1"},
            headers=world.a.admin.headers,
        )
        assert response.status_code == 201, response.text
        designations.append(response.json())
    path = designations_path(world.a)
    responses = at_once(
        live.server.base_url,
        [
            (
                lambda http, _, id_=designation["id"]: http.patch(
                    f"{path}/{id_}", json={"is_default": True}, headers=world.a.admin.headers
                )
            )
            for designation in designations
        ],
        world.a.admin.headers,
    )
    statuses, winner, named = _holders(responses)
    assert statuses == {200: 1, 409: PARALLEL - 1}, statuses
    assert named == {winner}
    defaults = await live.scalar(
        "SELECT count(*) FROM agent_designation_defaults WHERE procedure = 'continuous_inspection'"
    )
    assert defaults == 1
    flagged = await live.scalar("SELECT count(*) FROM agent_designations WHERE is_default")
    assert flagged == 1
    resolved = await live.http.get(
        f"{path}/resolve",
        params={"procedure": "continuous_inspection", "location_code": "L1"},
        headers=world.a.basic(),
    )
    assert resolved.json()["id"] == winner


async def test_simultaneous_default_designations_for_all_locations_leave_one(live: LiveSession) -> None:
    world = await live.start()
    agents = await _agents(live, world, PARALLEL)
    path = designations_path(world.b)
    responses = at_once(
        live.server.base_url,
        [
            (
                lambda http, _, id_=agent["id"]: http.post(
                    path, json={"agent_id": id_, "is_default": True}, headers=world.b.admin.headers
                )
            )
            for agent in agents
        ],
        world.b.admin.headers,
    )
    statuses, winner, named = _holders(responses)
    assert statuses == {201: 1, 409: PARALLEL - 1}, statuses
    assert named == {winner}
    # The refused designations were not kept either, nor audited.
    rows = await live.scalar("SELECT count(*) FROM agent_designations")
    events = await live.scalar("SELECT count(*) FROM audit_events WHERE action = 'agent_designation.create'")
    assert (rows, events) == (1, 1)


async def test_the_same_agent_designated_at_once_is_designated_once(live: LiveSession) -> None:
    world = await live.start()
    (agent,) = await _agents(live, world, 1)
    path = designations_path(world.a)
    responses = at_once(
        live.server.base_url,
        [
            lambda http, _: http.post(
                path, json={"agent_id": agent["id"], "location_code": "L2"}, headers=world.a.admin.headers
            )
            for _ in range(PARALLEL)
        ],
        world.a.admin.headers,
    )
    statuses = Counter(response.status_code for response in responses)
    assert statuses == {201: 1, 409: PARALLEL - 1}, statuses
    winner = next(response.json()["id"] for response in responses if response.status_code == 201)
    assert {r.json()["designation_id"] for r in responses if r.status_code == 409} == {winner}


async def test_same_if_match_on_a_designation_exactly_one_wins(live: LiveSession) -> None:
    """Changes of one designation sent at once with the ETag read before: one wins (200), every
    other is told the designation moved on (412), and only the winner is recorded."""
    world = await live.start()
    (agent,) = await _agents(live, world, 1)
    created = await live.http.post(
        designations_path(world.a),
        json={"agent_id": agent["id"], "location_code": "L1"},
        headers=world.a.admin.headers,
    )
    assert created.status_code == 201, created.text
    path = f"{designations_path(world.a)}/{created.json()['id']}"
    etag = created.headers["etag"]
    responses = at_once(
        live.server.base_url,
        [
            lambda http, index: http.patch(
                path,
                json={"note": f"備考{full_width_number(index)}"},
                headers={**world.a.admin.headers, "If-Match": etag},
            )
            for _ in range(PARALLEL)
        ],
        world.a.admin.headers,
    )
    statuses = Counter(response.status_code for response in responses)
    assert statuses == {200: 1, 412: PARALLEL - 1}, statuses
    winner = next(response for response in responses if response.status_code == 200)
    now = await live.http.get(path, headers=world.a.admin.headers)
    assert now.content == winner.content
    assert now.json()["version"] == 2
    events = await live.scalar("SELECT count(*) FROM audit_events WHERE action = 'agent_designation.update'")
    assert events == 1


async def test_same_if_match_on_an_agent_exactly_one_wins(live: LiveSession) -> None:
    """The agent's change reads it unlocked: the versioned UPDATE alone decides (one 200, 412s)."""
    world = await live.start()
    (agent,) = await _agents(live, world, 1)
    path = f"{AGENTS}/{agent['id']}"
    responses = at_once(
        live.server.base_url,
        [
            lambda http, index: http.patch(
                path,
                json={"phone": f"03-0000-{index:04d}"},
                headers={**world.operator.headers, "If-Match": '"1"'},
            )
            for _ in range(PARALLEL)
        ],
        world.operator.headers,
    )
    statuses = Counter(response.status_code for response in responses)
    assert statuses == {200: 1, 412: PARALLEL - 1}, statuses
    winner = next(response for response in responses if response.status_code == 200)
    now = await live.http.get(path, headers=world.operator.headers)
    assert now.content == winner.content
    assert now.json()["version"] == 2
    events = await live.scalar("SELECT count(*) FROM audit_events WHERE action = 'agent.update'")
    assert events == 1
