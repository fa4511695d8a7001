"""Registrations claim "the active certificate" of an organization: bursts of simultaneous uploads
from threads at a real server on PostgreSQL leave exactly one active certificate, each earlier one
replaced exactly once, and the same file registered once."""

from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import httpx
import pytest

from tests.fixtures import certificates as files
from tests.fixtures.bursts import Attempt, at_once
from tests.fixtures.certificates import P12
from tests.fixtures.world import Org
from tests.reliability.live import POSTGRES_ONLY, LiveServer, LiveSession, started_server
from tests.security.leaks import LeakScanner

PARALLEL = 12
pytestmark = POSTGRES_ONLY


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # Every file of a burst opened at once, so that the registrations race for real.
    parsing = {
        "AINAS_CERTIFICATE_PARSE_CONCURRENCY": str(PARALLEL),
        "AINAS_CERTIFICATE_PARSE_PER_ORGANIZATION": str(PARALLEL),
    }
    with started_server("postgresql", tmp_path_factory.mktemp("certificate-bursts"), parsing) as server:
        yield server


@pytest.fixture
async def live(server: LiveServer) -> AsyncIterator[LiveSession]:
    async with LiveSession(server, LeakScanner()) as session:
        yield session


def burst(base_url: str, org: Org, uploads: list[P12]) -> list[httpx.Response]:
    """Every upload from a thread of its own, released at the same moment."""

    def register(p12: P12) -> Attempt:
        return lambda http, _: http.post(
            f"{org.path}/certificates",
            files={"file": ("requester.p12", p12.data, "application/x-pkcs12")},
            data={"password": p12.password},
            headers=org.admin.headers,
        )

    return at_once(base_url, [register(p12) for p12 in uploads], org.admin.headers)


async def test_simultaneous_registrations_leave_one_active_and_replace_each_other_once(
    live: LiveSession,
) -> None:
    world = await live.start()
    now = datetime.now(UTC)
    uploads = [files.good(files.ec_key(), now) for _ in range(PARALLEL)]
    responses = burst(live.server.base_url, world.a, uploads)
    assert [response.status_code for response in responses] == [201] * PARALLEL, [r.text for r in responses]
    ids = {response.json()["id"] for response in responses}

    assert (
        await live.scalar(
            "SELECT count(*) FROM certificates WHERE organization_id = :org AND replaced_at IS NULL",
            org=int(world.a.id),
        )
        == 1
    )
    listed = await live.http.get(f"{world.a.path}/certificates", headers=world.a.admin.headers)
    statuses = Counter(item["status"] for item in listed.json()["items"])
    assert statuses == {"active": 1, "replaced": PARALLEL - 1}
    assert {item["id"] for item in listed.json()["items"]} == ids
    events = await live.http.get(
        f"{world.a.path}/audit-events",
        params={"action": "certificate.", "limit": 200},
        headers=world.a.admin.headers,
    )
    by_action = Counter(event["action"] for event in events.json()["items"])
    assert by_action == {"certificate.register": PARALLEL, "certificate.replace": PARALLEL - 1}
    replaced = [
        event["resource"]["id"]
        for event in events.json()["items"]
        if event["action"] == "certificate.replace"
    ]
    assert len(set(replaced)) == PARALLEL - 1  # each one replaced exactly once
    chain = [
        event["changes"]["replaces"][1]
        for event in events.json()["items"]
        if event["action"] == "certificate.register" and "replaces" in event["changes"]
    ]
    assert sorted(chain) == sorted(replaced)
    organization = await live.http.get(world.a.path, headers=world.a.admin.headers)
    (active,) = [item["id"] for item in listed.json()["items"] if item["status"] == "active"]
    assert organization.json()["certificate"]["id"] == active


async def test_the_same_file_uploaded_at_once_is_registered_once(live: LiveSession) -> None:
    world = await live.start()
    p12 = files.rsa_2048(datetime.now(UTC))
    responses = burst(live.server.base_url, world.b, [p12] * PARALLEL)
    assert Counter(response.status_code for response in responses) == {201: 1, 409: PARALLEL - 1}
    assert {response.json()["code"] for response in responses if response.status_code == 409} == {
        "certificate_already_registered"
    }
    assert (
        await live.scalar(
            "SELECT count(*) FROM certificates WHERE organization_id = :org", org=int(world.b.id)
        )
        == 1
    )
