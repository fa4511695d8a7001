"""A large users upload keeps its temporary passwords (issue 25, item 9): they are hashed at the
cost a generated secret needs, and a client that gave up waiting gets them by retrying with its
Idempotency-Key."""

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sqlalchemy import text

from app.config.settings import Settings
from tests.conftest import make_settings
from tests.exports.files import csv_text, upload
from tests.fixtures.database import TestDatabase
from tests.fixtures.principals import token_response
from tests.fixtures.world import World, first_login
from tests.reliability.live import POSTGRES_ONLY, LiveServer, LiveSession, started_server
from tests.security.leaks import LeakScanner

GENERATED_MEMORY_KIB = 128  # unlike the tests' 64 KiB for chosen passwords: the hash shows which


@pytest.fixture
def settings(database: TestDatabase) -> Settings:
    return make_settings(database.url, argon2_generated_memory_kib=GENERATED_MEMORY_KIB)


async def test_generated_passwords_are_hashed_at_their_own_cost(
    app: object, world: World, client: httpx.AsyncClient
) -> None:
    rows = [["login_id", "name", "role"]] + [[f"gen.{n}", f"生成 {n}", "担当者（送信可）"] for n in range(3)]
    response = await upload(client, world.a, "users", csv_text(rows), world.a.admin.headers)
    assert response.status_code == 200, response.text
    engine = app.state.runtime.engine  # type: ignore[attr-defined]
    async with engine.connect() as connection:
        hashes = (
            (await connection.execute(text("SELECT password_hash FROM users WHERE login_id LIKE 'gen.%'")))
            .scalars()
            .all()
        )
        chosen = await connection.scalar(text("SELECT password_hash FROM users WHERE login_id = 'la.l1'"))
    assert len(hashes) == 3
    assert all(value.startswith(f"$argon2id$v=19$m={GENERATED_MEMORY_KIB},t=1,p=1$") for value in hashes)
    assert chosen.startswith("$argon2id$v=19$m=64,t=1,p=1$")
    # The temporary password works, and the password chosen at first login gets the full cost.
    password = response.json()["temporary_passwords"][0]["password"]
    await first_login(client, "gen.0", password)
    async with engine.connect() as connection:
        changed = await connection.scalar(text("SELECT password_hash FROM users WHERE login_id = 'gen.0'"))
    assert changed.startswith("$argon2id$v=19$m=64,t=1,p=1$")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with started_server("postgresql", tmp_path_factory.mktemp("csv-passwords")) as server:
        yield server


@pytest.fixture
async def live(server: LiveServer, leaks: LeakScanner) -> AsyncIterator[LiveSession]:
    async with LiveSession(server, leaks) as session:
        yield session


@POSTGRES_ONLY[0]
@POSTGRES_ONLY[1]
async def test_a_client_that_timed_out_gets_the_passwords_by_retrying(live: LiveSession) -> None:
    world = await live.start()
    count = 300
    rows = [["login_id", "name", "role"]] + [
        [f"bulk.{n}", f"一括 {n}", "担当者（送信可）"] for n in range(count)
    ]
    body = csv_text(rows).encode()
    headers = {**world.a.admin.headers, "Content-Type": "text/csv", "Idempotency-Key": "bulk-2026-04-01"}
    path = f"{world.a.path}/imports/users"
    # The client (or a proxy) gives up long before the upload is done; the upload goes on.
    with pytest.raises(httpx.TimeoutException):
        await live.http.post(path, content=body, headers=headers, timeout=0.05)
    answer = None
    for _ in range(600):
        retry = await live.http.post(path, content=body, headers=headers)
        if retry.status_code != 409:  # idempotency_in_progress while the first one runs
            answer = retry
            break
        assert retry.json()["code"] == "idempotency_in_progress"
        await asyncio.sleep(0.1)
    assert answer is not None
    assert answer.status_code == 200, answer.text
    assert answer.headers["idempotent-replayed"] == "true"
    passwords = answer.json()["temporary_passwords"]
    assert sorted(item["login_id"] for item in passwords) == sorted(f"bulk.{n}" for n in range(count))
    assert await live.scalar("SELECT count(*) FROM users WHERE login_id LIKE 'bulk.%'") == count
    # The recovered password is the one that was stored.
    password = next(item["password"] for item in passwords if item["login_id"] == "bulk.7")
    response = await token_response(live.http, "bulk.7", password)
    assert response.status_code == 200, response.text
