"""Exactly once, in commit order, under load (SPEC §5.5, issue 13): writer threads create, change
and delete locations through two real server processes on one PostgreSQL while followers read
the feed with small pages through both. Afterwards each follower has seen every acknowledged
write exactly once, in the order it was made per location, and nothing else.

A feed numbered by a plain sequence and read by "number greater than the last one seen" fails
this test (it did in 7 of 8 runs when tried): a transaction that took a smaller number but
committed later is skipped. The followers must keep up with the writers to be at the head of
the feed where that happens: with many more writers than this, or pages of 3, they lag behind
and would not notice.
"""

import itertools
import threading
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.changes.feed import changes_path
from tests.fixtures.world import Org, World, full_width_number
from tests.reliability.live import POSTGRES_ONLY, LiveServer, LiveSession, fresh_database, new_server
from tests.security.leaks import LeakScanner

WRITERS = 12
LOCATIONS_PER_WRITER = 8
FOLLOWERS = 4
FOLLOW_LIMIT = 10
pytestmark = POSTGRES_ONLY

Ack = tuple[str, str, int | None]  # location code, feed action, version the answer showed (None: deleted)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two server processes on one database, as behind a load balancer (same signing key)."""
    directory = Path(tmp_path_factory.mktemp("feed-concurrency"))
    with fresh_database("postgresql", directory) as url:
        first = new_server(url, directory)
        second = new_server(url, directory)
        second.secret_key = first.secret_key
        first.start()
        try:
            second.start()
            try:
                yield first, second
            finally:
                second.stop()
        finally:
            first.stop()


@pytest.fixture
async def live(servers: tuple[LiveServer, LiveServer], leaks: LeakScanner) -> AsyncIterator[LiveSession]:
    async with LiveSession(servers[0], leaks) as session:
        yield session


def write(base_url: str, org: Org, writer: int, start: threading.Barrier) -> list[Ack]:
    """One writer: create, rename twice and (every other one) delete its own locations."""
    acks: list[Ack] = []
    headers = org.admin.headers
    with httpx.Client(base_url=base_url, timeout=60) as http:
        start.wait()
        for number in range(LOCATIONS_PER_WRITER):
            code = f"C{writer:02d}{number:02d}"
            path = f"{org.path}/locations/{code}"
            # With an Idempotency-Key, as a careful client sends it: its record is written after
            # the change, in the same transaction, so the change commits a little later.
            created = http.post(
                f"{org.path}/locations",
                json={"code": code, "name": "並行拠点", "short_name": "並行"},
                headers={**headers, "Idempotency-Key": f"feed-{code}"},
            )
            assert created.status_code == 201, created.text
            acks.append((code, "location.created", created.json()["version"]))
            for rename in range(2):
                changed = http.patch(
                    path, json={"name": f"並行拠点{full_width_number(rename)}"}, headers=headers
                )
                assert changed.status_code == 200, changed.text
                acks.append((code, "location.updated", changed.json()["version"]))
            if number % 2 == 0:
                deleted = http.delete(path, headers=headers)
                assert deleted.status_code == 204, deleted.text
                acks.append((code, "location.deleted", None))
    return acks


def follow(
    base_urls: tuple[str, str], org: Org, after: str, writers_done: threading.Event
) -> list[dict[str, Any]]:
    """Read small pages, each from the next instance (as through a load balancer), as fast as
    answers come, until the writers are done and the feed is drained."""
    seen: list[dict[str, Any]] = []
    clients = [httpx.Client(base_url=base_url, timeout=60) for base_url in base_urls]
    try:
        for turn in itertools.count():
            done = writers_done.is_set()
            response = clients[turn % 2].get(
                changes_path(org), params={"after": after, "limit": FOLLOW_LIMIT}, headers=org.basic()
            )
            assert response.status_code == 200, response.text
            body = response.json()
            seen.extend(body["items"])
            after = body["next_cursor"]
            if done and not body["items"]:
                break
    finally:
        for client in clients:
            client.close()
    return seen


def run_threads(
    base_urls: tuple[str, str], world: World, start_cursor: str
) -> tuple[list[list[Ack]], list[list[dict[str, Any]]]]:
    """WRITERS writer threads released at once, half on each instance, and FOLLOWERS followers."""
    barrier = threading.Barrier(WRITERS)
    writers_done = threading.Event()
    results: dict[int, list[Ack]] = {}
    followed: dict[int, list[dict[str, Any]]] = {}
    failures: list[BaseException] = []

    def run_writer(index: int) -> None:
        try:
            results[index] = write(base_urls[index % 2], world.a, index, barrier)
        except BaseException as exc:  # reported below, with the others
            failures.append(exc)
            barrier.abort()

    def run_follower(index: int) -> None:
        try:
            followed[index] = follow(base_urls, world.a, start_cursor, writers_done)
        except BaseException as exc:
            failures.append(exc)

    writers = [threading.Thread(target=run_writer, args=(index,)) for index in range(WRITERS)]
    followers = [threading.Thread(target=run_follower, args=(index,)) for index in range(FOLLOWERS)]
    for thread in [*followers, *writers]:
        thread.start()
    for thread in writers:
        thread.join(timeout=300)
    writers_done.set()
    for thread in followers:
        thread.join(timeout=300)
    assert not failures, failures
    return [results[index] for index in range(WRITERS)], [followed[index] for index in range(FOLLOWERS)]


async def test_every_acknowledged_write_appears_exactly_once_in_order(
    live: LiveSession, servers: tuple[LiveServer, LiveServer]
) -> None:
    world = await live.start()
    start = (await live.http.get(changes_path(world.a), headers=world.a.basic())).json()["next_cursor"]

    writers, followers = run_threads((servers[0].base_url, servers[1].base_url), world, start)
    acknowledged = [ack for acks in writers for ack in acks]
    assert len(acknowledged) == WRITERS * LOCATIONS_PER_WRITER * 3 + WRITERS * (LOCATIONS_PER_WRITER // 2)
    for followed in followers:
        check_followed(writers, followed)
    # The followers' cursors are the feed's: one big read from the start gives the same items.
    whole: list[dict[str, Any]] = []
    after = start
    while True:
        response = await live.http.get(
            changes_path(world.a), params={"after": after, "limit": 1000}, headers=world.a.basic()
        )
        whole.extend(response.json()["items"])
        after = response.json()["next_cursor"]
        if len(response.json()["items"]) < 1000:
            break
    assert all(followed == whole for followed in followers)


def check_followed(writers: list[list[Ack]], followed: list[dict[str, Any]]) -> None:
    """Every acknowledged write exactly once, in its order per location, and nothing else."""
    acknowledged = [ack for acks in writers for ack in acks]
    seen: list[Ack] = [
        (item["resource"]["id"], item["action"], item["data"]["version"] if item["data"] else None)
        for item in followed
    ]
    # Exactly once: the same multiset, nothing missing, nothing twice, nothing else.
    duplicates = [ack for ack, count in Counter(seen).items() if count > 1]
    assert not duplicates, f"seen twice: {duplicates[:10]}"
    missing = sorted(set(acknowledged) - set(seen))
    assert not missing, f"{len(missing)} acknowledged changes never appeared, e.g. {missing[:10]}"
    assert sorted(set(seen) - set(acknowledged)) == []
    # In order per location: each writer made its locations' changes one after another.
    by_location: dict[str, list[Ack]] = defaultdict(list)
    for ack in seen:
        by_location[ack[0]].append(ack)
    for acks in writers:
        for code in dict.fromkeys(ack[0] for ack in acks):
            assert by_location[code] == [ack for ack in acks if ack[0] == code], code
