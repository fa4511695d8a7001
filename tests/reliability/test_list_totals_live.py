"""Counting at scale (issue 24 item 3) under a burst: creates from many threads against a real
uvicorn process on PostgreSQL, interleaved with list reads, never answer a total that differs
from the rows the same answer lists, and end with the real row count.

A list read with a limit above its size lists every matching row of one moment (one statement
reads them), so its `total` must equal its items whether it was counted with them or remembered
(then the stamp read with them said that nothing changed since the count).
"""

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.fixtures.world import full_width_number
from tests.reliability.live import POSTGRES_ONLY, LiveServer, LiveSession, started_server
from tests.security.leaks import LeakScanner

pytestmark = POSTGRES_ONLY
LIMIT = 200
LOCATIONS = 60
USERS = 30
READERS = 4


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with started_server("postgresql", tmp_path_factory.mktemp("list-totals")) as server:
        yield server


def scanned(server: LiveServer, leaks: LeakScanner) -> httpx.Client:
    """A client of its own (one per thread), whose traffic the leak scanner sees."""

    def request(sent: httpx.Request) -> None:
        leaks.learn_from_request(sent)

    def response(answer: httpx.Response) -> None:
        answer.read()
        where = f"{answer.request.method} {answer.request.url.path}"
        leaks.record_answer(where, answer.status_code, answer.headers, answer.content)

    return httpx.Client(
        base_url=server.base_url, timeout=30.0, event_hooks={"request": [request], "response": [response]}
    )


async def test_a_burst_of_creates_ends_with_exact_totals(server: LiveServer, leaks: LeakScanner) -> None:
    async with LiveSession(server, leaks) as live:
        world = await live.start()
        path, headers = world.a.path, world.a.admin.headers
        lists = [f"{path}/users", f"{path}/locations", f"{path}/locations?name=%E4%B8%A6%E8%A1%8C"]  # 並行
        done = threading.Event()
        reads: list[tuple[str, int]] = []
        wrong: list[str] = []

        def read(http: httpx.Client, url: str) -> int:
            answer = http.get(f"{url}{'&' if '?' in url else '?'}limit={LIMIT}", headers=headers)
            assert answer.status_code == 200, answer.text
            body: dict[str, Any] = answer.json()
            if body["total"] != len(body["items"]):
                wrong.append(f"{url}: total {body['total']}, {len(body['items'])} items")
            return int(body["total"])

        def reader() -> None:
            with scanned(server, leaks) as http:
                while not done.is_set():
                    for url in lists:
                        reads.append((url, read(http, url)))

        def create(resource: str, body: dict[str, Any], then: str) -> None:
            """POST one, then read a list (more reads while others create)."""
            with scanned(server, leaks) as http:
                answer = http.post(f"{path}/{resource}", json=body, headers=headers)
                assert answer.status_code == 201, answer.text
                read(http, then)

        work = [
            (
                "locations",
                {"code": f"P{n:03d}", "name": f"並行{full_width_number(n)}", "short_name": "並行"},
                n,
            )
            for n in range(LOCATIONS)
        ]
        work += [
            (
                "users",
                {
                    "login_id": f"burst.{n}",
                    "name": f"並行 {full_width_number(n)}",
                    "password": "burst horse battery staple",
                    "role": "staff_submitter",
                    "location_code": "L1",
                },
                n,
            )
            for n in range(USERS)
        ]

        with scanned(server, leaks) as http:
            before = {url: read(http, url) for url in lists}  # remembered from here on
        with ThreadPoolExecutor(max_workers=12 + READERS) as pool:
            readers = [pool.submit(reader) for _ in range(READERS)]
            creates = [
                pool.submit(create, resource, body, lists[n % len(lists)]) for resource, body, n in work
            ]
            try:
                for future in creates:
                    future.result()
            finally:
                done.set()  # readers stop also when a create failed
            for future in readers:
                future.result()

        assert not wrong, wrong[:10]
        assert len(reads) >= READERS * len(lists)
        with scanned(server, leaks) as http:
            after = {url: read(http, url) for url in lists}
            assert after == {url: read(http, url) for url in lists}  # read again: the same
        organization = int(world.a.id)
        users = await live.scalar("SELECT count(*) FROM users WHERE organization_id = :o", o=organization)
        locations = await live.scalar(
            "SELECT count(*) FROM locations WHERE organization_id = :o", o=organization
        )
        assert after == {lists[0]: users, lists[1]: locations, lists[2]: LOCATIONS}
        assert after[lists[0]] == before[lists[0]] + USERS
        assert after[lists[1]] == before[lists[1]] + LOCATIONS
