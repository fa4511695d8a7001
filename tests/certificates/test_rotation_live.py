"""`ainas rotate-certificate-key` against running servers, as an operator rotates in production:
instances restarted one by one with the new key (the old one still opening), the command run while
they serve, then instances with the new key alone; every stored file still opens with its password."""

import asyncio
import base64
import json
import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import pkcs12
from sqlalchemy import text

from app.certificates.keys import associated_data
from app.security.sealing import sealing_keys as certificate_keys
from tests.acceptance.server import AINAS, ROOT
from tests.conftest import _POSTGRES_OK, _POSTGRES_WHY, make_settings
from tests.fixtures import certificates as files
from tests.reliability.live import LiveServer, LiveSession, free_port, fresh_database
from tests.security.leaks import LeakScanner

BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(not _POSTGRES_OK, reason=f"PostgreSQL not available: {_POSTGRES_WHY}"),
    ),
]


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path) as url:
        yield url


def instance(
    url: str, secret: str, key: str, directory: Path, previous: list[str] | None = None
) -> LiveServer:
    """A started `ainas serve` with these certificate keys (the signing key shared by all)."""
    server = LiveServer(url, secret, free_port(), directory / f"server-{secrets.token_hex(4)}.log", key)
    server.start({"AINAS_CERTIFICATE_PREVIOUS_KEYS": json.dumps(previous or [])})
    return server


async def rotate(url: str, secret: str, key: str, previous: list[str]) -> tuple[int, str]:
    """Run the command as an operator would, with the settings of the restarted instances."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("AINAS_")}
    env.update(
        DATABASE_URL=url,
        AINAS_ENVIRONMENT="production",
        AINAS_SECRET_KEY=secret,
        AINAS_CERTIFICATE_KEY=key,
        AINAS_CERTIFICATE_PREVIOUS_KEYS=json.dumps(previous),
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


async def test_the_command_rotates_while_the_service_runs(database_url: str, tmp_path: Path) -> None:
    secret, old, new = secrets.token_urlsafe(48), new_key(), new_key()
    leaks = LeakScanner()
    first = instance(database_url, secret, old, tmp_path)
    live = LiveSession(first, leaks)
    servers = [first]
    try:
        world = await live.start()
        kept = [files.rsa_2048(datetime.now(UTC)), files.bmp_names(datetime.now(UTC))]
        registered = []
        for org, p12 in ((world.a, kept[0]), (world.b, kept[1])):
            response = await files.upload(live.http, org.path, org.admin, p12)
            assert response.status_code == 201, response.text
            registered.append((org, response.json()["id"]))

        # 0. The command run before the servers know the new key is refused, and changes nothing.
        for _ in range(300):  # the server announced its keys when it started (bounded wait)
            if await live.scalar("SELECT count(*) FROM service_instances"):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the server never announced its certificate keys:\n" + first.log_text())
        code, output = await rotate(database_url, secret, new, [old])
        assert code == 1, output
        (line,) = output.strip().splitlines()
        assert line.startswith("error: 1 running server(s) do not have the new certificate key yet: restart")
        for org, certificate_id in registered:
            verified = await live.http.get(
                f"{org.path}/certificates/{certificate_id}/verification", headers=org.admin.headers
            )
            assert verified.status_code == 200, verified.text

        # 1. A rolling restart: the new key seals, the old one still opens.
        second = instance(database_url, secret, new, tmp_path, previous=[old])
        servers.append(second)
        first.stop()
        async with httpx.AsyncClient(base_url=second.base_url, timeout=30) as http:
            late = files.ec_p256(datetime.now(UTC))
            response = await files.upload(http, world.a.path, world.a.admin, late)
            assert response.status_code == 201, response.text
            registered.append((world.a, response.json()["id"]))
            kept.append(late)

            # 2. The command runs while the restarted instance keeps answering.
            rotation = asyncio.create_task(rotate(database_url, secret, new, [old]))
            answers = []
            while not rotation.done():
                for org, certificate_id in registered:
                    read = await http.get(
                        f"{org.path}/certificates/{certificate_id}", headers=org.admin.headers
                    )
                    answers.append(read.status_code)
            code, output = await rotation
        assert code == 0, output
        assert "Re-encrypted 2 certificate(s)" in output
        assert answers
        assert set(answers) == {200}

        # 3. Instances with the new key alone: every certificate still opens.
        third = instance(database_url, secret, new, tmp_path)
        servers.append(third)
        second.stop()
        async with httpx.AsyncClient(base_url=third.base_url, timeout=30) as http:
            for org, certificate_id in registered:
                verified = await http.get(
                    f"{org.path}/certificates/{certificate_id}/verification", headers=org.admin.headers
                )
                assert verified.status_code == 200, verified.text

        ring = certificate_keys(make_settings(database_url, certificate_key=new))
        async with live.runtime.engine.connect() as connection:
            rows = (
                await connection.execute(
                    text("SELECT id, organization_id, key_id, sealed_file, sealed_password FROM certificates")
                )
            ).all()
        assert len(rows) == 3
        opened = set()
        for certificate_id, organization_id, key, sealed_file, sealed_password in rows:
            data = ring.open(key, sealed_file, associated_data("file", organization_id, certificate_id))
            password = ring.open(
                key, sealed_password, associated_data("password", organization_id, certificate_id)
            )
            bundle = pkcs12.load_pkcs12(data, password)
            assert bundle.cert is not None
            opened.add(bundle.cert.certificate.fingerprint(hashes.SHA256()).hex().upper())
        assert opened == {p12.fingerprint for p12 in kept}
        assert ring.current_id in output
        assert old not in output
        assert new not in output
    finally:
        await live.close()
        for server in servers:
            server.stop()
    for p12 in kept:
        leaks.learn(p12.password, "certificate password")
    for server in servers:
        for line in server.log_lines():
            leaks.record_log_line(line)
    leaks.assert_clean()
