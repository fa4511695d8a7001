"""`ainas rotate-certificate-key` reseals webhook endpoints' signing secrets too (they are sealed
under the same keys): afterwards, with the new key alone, every endpoint still signs with the
secrets its organization was shown, and nothing a client sees of it changed."""

import asyncio
import base64
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from standardwebhooks import Webhook

from app.config.clock import ManualClock
from app.config.settings import Settings
from app.main import create_app
from app.operators import rotate_certificate_key
from app.security.sealing import sealing_keys
from tests.acceptance.server import AINAS, ROOT
from tests.conftest import make_settings
from tests.fixtures.database import TestDatabase
from tests.fixtures.world import World
from tests.webhooks.helpers import add_location, create_endpoint, drain
from tests.webhooks.receiver import receiving

KIND = "webhook_endpoint"


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@asynccontextmanager
async def instance(settings: Settings, clock: ManualClock) -> AsyncIterator[FastAPI]:
    """Another instance of the service on the same database, with other key settings."""
    app = create_app(settings, clock)
    try:
        yield app
    finally:
        await app.state.runtime.engine.dispose()


async def stored(app: FastAPI) -> dict[str, dict[str, Any]]:
    async with app.state.runtime.engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT id, key_id, sealed_secret, sealed_previous_secret, version FROM webhook_endpoints")
        )
        return {row.id: dict(row._mapping) for row in rows}


async def test_a_rotation_reseals_every_endpoint_secret_and_messages_still_verify(
    app: FastAPI,
    client: httpx.AsyncClient,
    world: World,
    clock: ManualClock,
    database: TestDatabase,
    settings: Settings,
) -> None:
    old_key = settings.certificate_key
    assert old_key is not None
    new = new_key()
    same = {"secret_key": settings.secret_key}  # instances of one service share the signing key
    during = make_settings(
        database.url, certificate_key=new, certificate_previous_keys=[old_key.get_secret_value()], **same
    )
    after = make_settings(database.url, certificate_key=new, **same)
    with receiving() as receiver:
        plain = await create_endpoint(client, world.a, receiver.url)
        rotated = await create_endpoint(client, world.b, receiver.url)
        answer = await client.post(
            f"{world.b.path}/webhook-endpoints/{rotated['id']}/rotate-secret", headers=world.b.admin.headers
        )
        assert answer.status_code == 200, answer.text
        secrets = {
            plain["id"]: [plain["secret"]],
            rotated["id"]: [answer.json()["secret"], rotated["secret"]],
        }
        before = await stored(app)

        report = await rotate_certificate_key(during)
        assert report.kinds[KIND].resealed == 2
        assert report.kinds[KIND].unreadable == []
        assert report.kinds[KIND].remaining == 0
        assert report.complete
        rows = await stored(app)
        assert {row["key_id"] for row in rows.values()} == {sealing_keys(after).current_id}
        for endpoint_id, row in rows.items():
            assert row["sealed_secret"] != before[endpoint_id]["sealed_secret"]
            assert row["version"] == before[endpoint_id]["version"]  # nothing a client sees changed
        assert rows[plain["id"]]["sealed_previous_secret"] is None
        assert rows[rotated["id"]]["sealed_previous_secret"] is not None

        await add_location(client, world.a, 1)
        await add_location(client, world.b, 2)
        async with instance(after, clock) as new_only:
            await drain(new_only)
    by_endpoint = {message.webhook_id.split("_")[1]: message for message in receiver.received}
    assert len(receiver.received) == 2
    for endpoint_id, shown in secrets.items():
        message = by_endpoint[endpoint_id]
        signatures = message.headers["webhook-signature"].split(" ")
        assert len(signatures) == len(shown)  # the rotated endpoint signs with both for 24 h
        for secret in shown:
            Webhook(secret).verify(message.body, message.headers)

    again = await rotate_certificate_key(during)
    assert (again.kinds[KIND].resealed, again.kinds[KIND].remaining) == (0, 0)


async def test_an_endpoint_secret_that_opens_under_no_key_is_reported_and_left_alone(
    app: FastAPI, client: httpx.AsyncClient, world: World, database: TestDatabase, settings: Settings
) -> None:
    with receiving() as receiver:
        good = await create_endpoint(client, world.a, receiver.url)
        bad = await create_endpoint(client, world.b, receiver.url)
    async with app.state.runtime.engine.begin() as connection:
        await connection.execute(
            text(
                "UPDATE webhook_endpoints SET sealed_secret = "
                "(SELECT sealed_secret FROM webhook_endpoints WHERE id = :good) WHERE id = :bad"
            ),
            {"good": good["id"], "bad": bad["id"]},
        )
    old_key = settings.certificate_key
    assert old_key is not None
    during = make_settings(
        database.url, certificate_key=new_key(), certificate_previous_keys=[old_key.get_secret_value()]
    )
    before = await stored(app)
    code, output = await command(during)
    assert code == 1, output
    key_id = sealing_keys(during).current_id
    assert output.splitlines() == [
        f"Re-encrypted 0 certificate(s) under key {key_id}.",
        f"Re-encrypted 1 webhook endpoint secret(s) under key {key_id}.",
        f"Webhook endpoint {bad['id']} of organization {world.b.id} opens under no configured key: left as "
        "it is (not delivered to until its secret is rotated: POST .../rotate-secret).",
        "1 webhook endpoint secret(s) are still sealed under another key (written by an instance still on "
        "the old settings?): restart every instance, then run this again.",
    ]
    after = await stored(app)
    assert after[bad["id"]] == before[bad["id"]]
    assert after[good["id"]]["key_id"] == key_id


async def command(settings: Settings) -> tuple[int, str]:
    """`ainas rotate-certificate-key` run as an operator would, with these settings."""
    assert settings.certificate_key is not None
    env = {name: value for name, value in os.environ.items() if not name.startswith("AINAS_")}
    env.update(
        DATABASE_URL=settings.database_url,
        AINAS_ENVIRONMENT="test",
        AINAS_SECRET_KEY=settings.secret_key,
        AINAS_CERTIFICATE_KEY=settings.certificate_key.get_secret_value(),
        AINAS_CERTIFICATE_PREVIOUS_KEYS=json.dumps(
            [key.get_secret_value() for key in settings.certificate_previous_keys]
        ),
        AINAS_LOG_LEVEL="WARNING",
    )
    process = await asyncio.create_subprocess_exec(
        AINAS,
        "rotate-certificate-key",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_an_endpoint_whose_secret_opens_under_no_key_waits_and_resumes_once_rotated(
    client: httpx.AsyncClient, world: World, clock: ManualClock, database: TestDatabase, settings: Settings
) -> None:
    other_keys = make_settings(database.url, certificate_key=new_key(), secret_key=settings.secret_key)
    with receiving() as receiver:
        endpoint = await create_endpoint(client, world.a, receiver.url)
        await add_location(client, world.a, 1)
        async with instance(other_keys, clock) as other:
            # Not delivered, and not tried again and again: the worker comes back to it later.
            await asyncio.wait_for(drain(other), timeout=10)
            await asyncio.wait_for(drain(other), timeout=10)
            assert receiver.received == []
            # A new secret, sealed under the key this instance has: delivered at once.
            transport = httpx.ASGITransport(app=other)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
                rotated = await http.post(
                    f"{world.a.path}/webhook-endpoints/{endpoint['id']}/rotate-secret",
                    headers=world.a.admin.headers,
                )
            assert rotated.status_code == 200, rotated.text
            await asyncio.wait_for(drain(other), timeout=10)
    (message,) = receiver.received
    Webhook(rotated.json()["secret"]).verify(message.body, message.headers)
    assert len(message.headers["webhook-signature"].split(" ")) == 1  # the old secret did not open
