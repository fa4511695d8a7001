"""What an upload answers stays small and the server stays responsive, whatever the file
(issue 25, item 1): errors are listed up to a cap with their counts, a heading row of millions of
columns is refused at once, and the file is parsed and planned off the event loop."""

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from app.csv.files import MAX_COLUMNS, MAX_LISTED_ERRORS, MAX_QUOTED_CHARACTERS, MAX_UPLOAD_BYTES
from tests.exports.files import LOCATION_HEADER, csv_text, upload
from tests.fixtures.world import World
from tests.reliability.live import POSTGRES_ONLY, LiveServer, LiveSession, started_server
from tests.security.leaks import LeakScanner

MIB = 1024 * 1024


async def test_many_long_wrong_cells_answer_a_bounded_list(world: World, client: httpx.AsyncClient) -> None:
    # 150 rows of 1,000 half-width characters: once a 22 MB answer.
    rows = [LOCATION_HEADER] + [[f"R{n}", "a" * 1000, "b" * 1000, ""] for n in range(150)]
    response = await upload(client, world.a, "locations", csv_text(rows), world.a.admin.headers, dry_run=True)
    assert response.status_code == 422, response.text[:300]
    problem = response.json()
    assert problem["code"] == "csv_invalid"
    assert problem["error_count"] >= 300  # two wrong cells per row, at least
    assert problem["errors_listed"] == MAX_LISTED_ERRORS == len(problem["errors"])
    assert str(problem["error_count"]) in problem["detail"]
    assert [error["row"] for error in problem["errors"]] == sorted(
        error["row"] for error in problem["errors"]
    )
    assert all(
        len(error.get("invalid_characters") or []) <= MAX_QUOTED_CHARACTERS for error in problem["errors"]
    )
    assert len(response.content) < 256 * 1024


async def test_long_headings_are_quoted_short(world: World, client: httpx.AsyncClient) -> None:
    heading = "謎" * 5000
    response = await upload(
        client, world.a, "locations", csv_text([["code", heading], ["L9", "x"]]), world.a.admin.headers
    )
    assert response.status_code == 422, response.text[:300]
    (error,) = response.json()["errors"]
    assert (error["code"], error["column"]) == ("csv_unknown_column", "謎" * MAX_QUOTED_CHARACTERS + "…")
    assert len(response.content) < 4096


async def test_too_many_columns_are_refused_at_once(world: World, client: httpx.AsyncClient) -> None:
    too_many = csv_text([["code"] + [f"x{n}" for n in range(MAX_COLUMNS)], ["L9"] + [""] * MAX_COLUMNS])
    response = await upload(client, world.a, "locations", too_many, world.a.admin.headers)
    assert response.status_code == 422, response.text[:300]
    problem = response.json()
    assert (problem["code"], problem.get("errors")) == ("csv_too_many_columns", None)
    assert str(MAX_COLUMNS) in problem["detail"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with started_server("postgresql", tmp_path_factory.mktemp("csv-bounds")) as server:
        yield server


@pytest.fixture
async def live(server: LiveServer, leaks: LeakScanner) -> AsyncIterator[LiveSession]:
    async with LiveSession(server, leaks) as session:
        yield session


@pytest.mark.parametrize("kind", ["users", "locations"])
@POSTGRES_ONLY[0]
@POSTGRES_ONLY[1]
async def test_a_heading_row_of_millions_of_columns_leaves_the_server_answering(
    live: LiveSession, kind: str
) -> None:
    """The file of issue 25: 5 MiB, one heading row of 2.6 million `x` columns, uploaded by a
    location admin as a dry run (once: 26 s, a 529 MB answer, /healthz waiting 22 s)."""
    world = await live.start()
    headers = world["location_admin_l1"].headers if kind == "users" else world.a.admin.headers
    body = ("x," * (MAX_UPLOAD_BYTES // 2 - 1) + "x").encode()
    assert MAX_UPLOAD_BYTES - 2 <= len(body) <= MAX_UPLOAD_BYTES
    answers: list[httpx.Response] = []

    def send() -> None:
        with httpx.Client(base_url=live.server.base_url, timeout=120) as http:
            answers.append(
                http.post(
                    f"{world.a.path}/imports/{kind}",
                    params={"dry_run": "true"},
                    content=body,
                    headers={**headers, "Content-Type": "text/csv"},
                )
            )

    health: list[float] = []
    async with httpx.AsyncClient(base_url=live.server.base_url, timeout=30) as http:
        await http.get("/healthz")  # the connection is open before the upload starts
        uploader = threading.Thread(target=send)
        uploader.start()
        while uploader.is_alive() or not health:
            started = time.monotonic()
            assert (await http.get("/healthz")).status_code == 200
            health.append(time.monotonic() - started)
            await asyncio.sleep(0.02)
        uploader.join()
    (response,) = answers
    assert response.status_code == 422, response.text[:300]
    assert response.json()["code"] == "csv_too_many_columns"
    assert len(response.content) < MIB
    assert len(response.content) < 4096
    # /healthz answered while the upload was read, parsed and refused: never kept waiting.
    assert max(health) < 2.0, health
