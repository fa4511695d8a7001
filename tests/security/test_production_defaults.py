"""Safe defaults (issue 10, item 4): no redirect built from Host, dates a database can hold,
statements' values kept out of error logs, a bound on request heads, and X-Forwarded-For
believed from configured proxies only. The last two run a real `ainas serve` process."""

import contextlib
import random
import re
import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.fixtures.world import World
from tests.reliability.live import LiveServer, fresh_database, new_server


async def test_a_trailing_slash_is_not_found_and_never_redirected(
    client: httpx.AsyncClient, world: World
) -> None:
    for path in (f"{world.a.path}/locations/", "/api/v1/organizations/", "/api/v1/me/", "/healthz/"):
        response = await client.get(path, headers={**world.a.admin.headers, "Host": "attacker.example"})
        assert response.status_code == 404, path
        assert "location" not in response.headers
        assert response.headers["content-type"] == "application/problem+json"
    # The same paths without the slash answer as usual.
    assert (await client.get(f"{world.a.path}/locations", headers=world.a.admin.headers)).status_code == 200


OUT_OF_RANGE = [
    "0001-01-01T00:00:00+14:00",  # before year 1 in UTC
    "0001-01-01T00:00:00+00:01",
    "9999-12-31T23:59:59-14:00",  # after year 9999 in UTC
    "9999-12-31T23:59:59.999999-00:01",
]
REPRESENTABLE = [
    "0001-01-01T00:00:00Z",
    "0001-01-01T14:00:00+14:00",
    "9999-12-31T23:59:59.999999Z",
    "9999-12-31T09:59:59-14:00",
    "2026-04-01T09:00:00+09:00",
]
MALFORMED = [
    "10000-01-01T00:00:00Z",
    "0000-01-01T00:00:00Z",
    "2026-04-01T09:00:00+24:00",
    "2026-04-01T09:00:00",
]


async def test_dates_outside_what_utc_can_hold_answer_422(client: httpx.AsyncClient, world: World) -> None:
    path = f"{world.a.path}/audit-events"
    for value in OUT_OF_RANGE:
        for name in ("since", "until"):
            response = await client.get(
                path, params={name: value}, headers={**world.a.admin.headers, "Accept-Language": "en"}
            )
            assert response.status_code == 422, (name, value, response.text)
            error = response.json()["errors"][0]
            assert (error["field"], error["code"]) == (name, "datetime_out_of_range")
            assert "years 1 to 9999" in error["message"]
    for value in REPRESENTABLE:
        response = await client.get(
            path, params={"since": value, "until": value}, headers=world.a.admin.headers
        )
        assert response.status_code == 200, (value, response.text)
    for value in MALFORMED:
        response = await client.get(path, params={"since": value}, headers=world.a.admin.headers)
        assert response.status_code == 422, (value, response.text)


async def test_no_date_filter_can_cause_a_500(client: httpx.AsyncClient, world: World) -> None:
    """Random years at the edges with random offsets: every answer is 200 or 422, never 5xx."""
    generator = random.Random(10)  # fixed: a failure can be replayed
    path = f"{world.a.path}/audit-events"
    statuses = set()
    for _ in range(60):
        day = generator.choice(["0001-01-01", "9999-12-31", f"{generator.randint(1, 9999):04d}-06-15"])
        minutes = generator.randint(-(24 * 60 - 1), 24 * 60 - 1)
        sign = "+" if minutes >= 0 else "-"
        value = (
            f"{day}T{generator.randint(0, 23):02d}:{generator.randint(0, 59):02d}:00"
            f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
        )
        response = await client.get(path, params={"since": value}, headers=world.a.admin.headers)
        assert response.status_code in (200, 422), (value, response.text)
        statuses.add(response.status_code)
    assert statuses == {200, 422}


async def test_database_errors_do_not_carry_the_statements_values(app: FastAPI) -> None:
    secret = "a-value-that-must-not-be-logged"
    async with app.state.runtime.engine.connect() as connection:
        with pytest.raises(DBAPIError) as raised:
            await connection.execute(text("SELECT * FROM no_such_table WHERE name = :name"), {"name": secret})
    assert secret not in str(raised.value)
    assert "parameters hidden" in str(raised.value)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two processes on one SQLite database: one with the defaults, one behind a trusted proxy."""
    directory = Path(tmp_path_factory.mktemp("defaults"))
    with fresh_database("sqlite", directory) as url:
        default, proxied = new_server(url, directory), new_server(url, directory)
        default.start()
        proxied.secret_key = default.secret_key
        proxied.start({"AINAS_TRUSTED_PROXIES": '["127.0.0.1"]'})
        try:
            yield default, proxied
        finally:
            default.stop()
            proxied.stop()


def raw_request(port: int, head: bytes) -> bytes:
    """Send bytes on a new connection and read the answer until the server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        # The server may close before it has read everything: its answer is still there.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            connection.sendall(head)
        chunks = []
        while True:
            try:
                chunk = connection.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def test_a_request_head_over_the_limit_is_refused(servers: tuple[LiveServer, LiveServer]) -> None:
    default, _ = servers
    limit = 16 * 1024  # AINAS_MAX_HEADER_BYTES's default
    within = raw_request(
        default.port,
        b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Padding: "
        + b"a" * (limit - 200)
        + b"\r\nConnection: close\r\n\r\n",
    )
    assert within.startswith(b"HTTP/1.1 200"), within[:200]
    for size in (limit + 100, 64 * 1024, 4 * 1024 * 1024):
        answer = raw_request(
            default.port, b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Padding: " + b"a" * size + b"\r\n\r\n"
        )
        if size <= 64 * 1024:  # small enough to be read whole: the answer is the 431
            assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
            assert b"application/problem+json" in answer
            assert b"request_header_too_large" in answer
        else:  # the connection is cut while the client still sends; the answer may be lost
            assert answer == b"" or answer.startswith(b"HTTP/1.1 431"), answer[:200]
    # A header split over many reads counts as a whole.
    with socket.create_connection(("127.0.0.1", default.port), timeout=10) as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for _ in range(40):
                connection.sendall(b"X-Part: " + b"b" * 1000 + b"\r\n")
                time.sleep(0.005)  # separate reads on the server's side
            connection.sendall(b"\r\n")
        assert connection.recv(65536).startswith(b"HTTP/1.1 431")
    # The server is still there, and keeps a connection alive over several requests.
    with httpx.Client(base_url=default.base_url) as http:
        assert [http.get("/healthz", headers={"X-Padding": "a" * 8000}).status_code for _ in range(3)] == [
            200
        ] * 3


@pytest.mark.parametrize("padding", [40 * 1024, 100 * 1024])
def test_the_head_limit_holds_for_every_request_of_a_connection(
    servers: tuple[LiveServer, LiveServer], padding: int
) -> None:
    """Pipelined requests in one write: the first ones are answered in order, the one whose head is
    over the limit gets the 431, and the connection is closed (nothing after it is read)."""
    default, _ = servers
    small = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
    with_body = b"POST /api/v1/auth/revoke HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\n\r\ntoken=x"
    large = b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Padding: " + b"a" * padding + b"\r\n\r\n"
    answer = raw_request(default.port, small + with_body + large + small)
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", answer)
    assert len(statuses) == 3, (statuses, answer[-3000:])
    assert statuses[0] == b"200"
    assert statuses[1] != b"431"  # the POST's own answer (whatever it is), in its turn
    assert statuses[2] == b"431"
    assert answer.rstrip().endswith(b"}")  # the 431's problem body, then the connection closed
    assert b"request_header_too_large" in answer


def test_forwarded_for_is_believed_from_configured_proxies_only(
    servers: tuple[LiveServer, LiveServer],
) -> None:
    default, proxied = servers
    forged = {"X-Forwarded-For": "203.0.113.9"}

    def recorded_ip(server: LiveServer, login_id: str) -> str:
        with httpx.Client(base_url=server.base_url) as http:
            http.post(
                "/api/v1/auth/token",
                data={"grant_type": "password", "username": login_id, "password": "whatever it is"},
                headers=forged,
            )
        database = server.database_url.split("///", 1)[1]
        with sqlite3.connect(database) as connection:
            row = connection.execute(
                "SELECT client_ip FROM audit_events WHERE actor_id = ? ORDER BY id DESC LIMIT 1", (login_id,)
            ).fetchone()
        return str(row[0])

    assert recorded_ip(default, "forger.one") == "127.0.0.1"
    assert recorded_ip(proxied, "behind.proxy") == "203.0.113.9"
