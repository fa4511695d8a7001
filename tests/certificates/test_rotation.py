"""Rotating the certificate key (SPEC §2.6): during a rotation both keys open; afterwards every
stored file opens with its password under the new key alone, and nothing a client sees changes."""

import asyncio
import base64
import os
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import pkcs12
from fastapi import FastAPI
from sqlalchemy import text

from app.certificates.instances import FRESH_SECONDS, announce, withdraw
from app.certificates.keys import associated_data
from app.certificates.rotation import ServersLackTheKey
from app.cli import migrate
from app.config.clock import ManualClock
from app.config.settings import Settings
from app.main import create_app
from app.operators import rotate_certificate_key
from app.runtime import build_runtime
from app.security.sealing import sealing_keys as certificate_keys
from tests.certificates.helpers import register
from tests.conftest import make_settings
from tests.fixtures import certificates as files
from tests.fixtures.database import TestDatabase
from tests.fixtures.world import World


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@asynccontextmanager
async def served(settings: Settings, clock: ManualClock) -> AsyncIterator[httpx.AsyncClient]:
    """Another instance of the service, on the same database, with other key settings."""
    app = create_app(settings, clock)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http
    finally:
        await app.state.runtime.engine.dispose()


async def verifications(
    http: httpx.AsyncClient, world: World, registered: list[tuple[Any, str]]
) -> list[int]:
    """The verification status of each (organization, certificate id)."""
    statuses = []
    for org, certificate_id in registered:
        response = await http.get(
            f"{org.path}/certificates/{certificate_id}/verification", headers=org.admin.headers
        )
        statuses.append(response.status_code)
    return statuses


async def stored(app: FastAPI) -> list[dict[str, Any]]:
    async with app.state.runtime.engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT id, organization_id, key_id, sealed_file, sealed_password, version FROM certificates"
            )
        )
        return [dict(row._mapping) for row in rows]


async def test_a_rotation_reseals_every_certificate_under_the_new_key(
    app: FastAPI,
    client: httpx.AsyncClient,
    world: World,
    clock: ManualClock,
    database: TestDatabase,
    settings: Settings,
) -> None:
    old_key = settings.certificate_key
    assert old_key is not None
    kept = {
        "a-replaced": files.rsa_2048(clock.now()),
        "a": files.ec_p256(clock.now()),
        "b": files.bmp_names(clock.now()),
    }
    registered = [
        (world.a, (await register(client, world.a, kept["a-replaced"]))["id"]),
        (world.a, (await register(client, world.a, kept["a"]))["id"]),
        (world.b, (await register(client, world.b, kept["b"]))["id"]),
    ]
    new = new_key()
    same = {"secret_key": settings.secret_key}  # instances of one service share the signing key
    during = make_settings(
        database.url, certificate_key=new, certificate_previous_keys=[old_key.get_secret_value()], **same
    )
    after = make_settings(database.url, certificate_key=new, **same)
    old_only = make_settings(database.url, certificate_key=old_key.get_secret_value(), **same)

    async with served(during, clock) as http:
        # Instances restarted with both keys still open what the old key sealed...
        assert await verifications(http, world, registered) == [200, 200, 200]
        # ...and seal new registrations under the new key.
        late = files.ec_p256(clock.now())
        response = await files.upload(http, world.b.path, world.b.admin, late)
        assert response.status_code == 201, response.text
        registered.append((world.b, response.json()["id"]))
        kept["b-late"] = late

    before = {row["id"]: row for row in await stored(app)}
    report = await rotate_certificate_key(during)
    certificates = report.kinds["certificate"]
    assert certificates.resealed == 3
    assert certificates.unreadable == []
    assert certificates.remaining == 0
    assert report.complete
    assert report.key_id == certificate_keys(after).current_id

    rows = {row["id"]: row for row in await stored(app)}
    assert {row["key_id"] for row in rows.values()} == {report.key_id}
    for certificate_id, row in before.items():
        if row["key_id"] != report.key_id:
            assert rows[certificate_id]["sealed_file"] != row["sealed_file"]
        assert rows[certificate_id]["version"] == row["version"]  # nothing a client sees changed
    # Every stored file opens with its stored password under the new key alone.
    ring = certificate_keys(after)
    fingerprints = {p12.fingerprint for p12 in kept.values()}
    for row in rows.values():
        data = ring.open(
            row["key_id"], row["sealed_file"], associated_data("file", row["organization_id"], row["id"])
        )
        password = ring.open(
            row["key_id"],
            row["sealed_password"],
            associated_data("password", row["organization_id"], row["id"]),
        )
        bundle = pkcs12.load_pkcs12(data, password)
        assert bundle.cert is not None
        assert bundle.cert.certificate.fingerprint(hashes.SHA256()).hex().upper() in fingerprints
    async with served(after, clock) as http:
        assert await verifications(http, world, registered) == [200, 200, 200, 200]
    async with served(old_only, clock) as http:
        assert await verifications(http, world, registered) == [409, 409, 409, 409]

    again = (await rotate_certificate_key(during)).kinds["certificate"]
    assert (again.resealed, again.unreadable, again.remaining) == (0, [], 0)
    async with app.state.runtime.engine.connect() as connection:
        events = (
            await connection.execute(
                text(
                    "SELECT actor_id, resource_id, changes FROM audit_events WHERE action = 'certificate_key.rotate'"
                )
            )
        ).all()
    assert len(events) == 2
    assert events[0][0] == "cli"
    assert events[0][1] == report.key_id


async def test_a_certificate_that_opens_under_no_key_is_reported_and_left_alone(
    app: FastAPI,
    client: httpx.AsyncClient,
    world: World,
    clock: ManualClock,
    database: TestDatabase,
    settings: Settings,
) -> None:
    a = await register(client, world.a, files.ec_p256(clock.now()))
    b = await register(client, world.b, files.rsa_2048(clock.now()))
    async with app.state.runtime.engine.begin() as connection:
        await connection.execute(
            text(
                "UPDATE certificates SET sealed_file = (SELECT sealed_file FROM certificates WHERE id = :a) "
                "WHERE id = :b"
            ),
            {"a": a["id"], "b": b["id"]},
        )
    old_key = settings.certificate_key
    assert old_key is not None
    during = make_settings(
        database.url, certificate_key=new_key(), certificate_previous_keys=[old_key.get_secret_value()]
    )
    before = {row["id"]: row for row in await stored(app)}
    report = await rotate_certificate_key(during)
    certificates = report.kinds["certificate"]
    assert certificates.resealed == 1
    assert certificates.unreadable == [(b["id"], int(world.b.id))]
    assert certificates.remaining == 1
    assert not report.complete
    after = {row["id"]: row for row in await stored(app)}
    assert after[b["id"]] == before[b["id"]]
    assert after[a["id"]]["key_id"] == report.key_id


async def test_a_rotation_is_refused_while_a_running_server_lacks_the_new_key(
    app: FastAPI, client: httpx.AsyncClient, world: World, clock: ManualClock, settings: Settings
) -> None:
    old_key = settings.certificate_key
    assert old_key is not None
    await register(client, world.a, files.ec_p256(clock.now()))
    rotating = make_settings(
        settings.database_url,
        certificate_key=new_key(),
        certificate_previous_keys=[old_key.get_secret_value()],
    )
    server = build_runtime(settings)  # a server still on the old settings, heard from just now
    try:
        await announce(server, "old-server", certificate_keys(settings))
        with pytest.raises(
            ServersLackTheKey, match=r"^1 running server\(s\) do not have the new certificate key"
        ):
            await rotate_certificate_key(rotating)
        assert {row["key_id"] for row in await stored(app)} == {certificate_keys(settings).current_id}
        # A server not heard from for a while has stopped: it holds nothing back.
        await announce(server, "crashed-server", certificate_keys(settings))
        async with server.engine.begin() as connection:
            await connection.execute(
                text("UPDATE service_instances SET seen_at = :long_ago WHERE id = 'crashed-server'"),
                {"long_ago": datetime.now(UTC) - timedelta(seconds=FRESH_SECONDS + 1)},
            )
        # Restarted with both keys, the server lets the rotation through.
        await announce(server, "old-server", certificate_keys(rotating))
        report = (await rotate_certificate_key(rotating)).kinds["certificate"]
        assert (report.resealed, report.remaining, report.unreadable) == (1, 0, [])
        assert {row["key_id"] for row in await stored(app)} == {certificate_keys(rotating).current_id}
    finally:
        await withdraw(server, "old-server")
        await withdraw(server, "crashed-server")
        await server.engine.dispose()


async def test_the_key_kept_beside_an_sqlite_database_becomes_the_new_key(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ainas.db'}"
    await asyncio.to_thread(migrate, url)  # Alembic runs its own event loop
    kept = tmp_path / "ainas.db.certificate-key"
    development = make_settings(url, certificate_key=None)
    old = certificate_keys(development)
    assert kept.exists()
    new = new_key()
    report = await rotate_certificate_key(
        make_settings(url, certificate_key=new, certificate_previous_keys=[kept.read_text().strip()])
    )
    assert report.key_id != old.current_id
    assert kept.read_text().strip() == new
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
