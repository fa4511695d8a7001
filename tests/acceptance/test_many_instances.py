"""Two server processes on one PostgreSQL database: what must hold across instances holds."""

import base64
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.cli import migrate
from tests.acceptance.server import AINAS, ROOT, free_port, new_secret, run, server_env
from tests.fixtures.database import (
    TestDatabase,
    create_postgres_database,
    drop_postgres_database,
    postgres_available,
)


@pytest.fixture(scope="module")
def two_instances() -> Iterator[tuple[str, str, TestDatabase]]:
    available, why = postgres_available()
    if not available:
        pytest.skip(f"PostgreSQL not available: {why}")
    database = create_postgres_database("ainas_instances")
    try:
        migrate(database.url)
        env = server_env(database.url, new_secret())
        first_port, second_port = free_port(), free_port()
        with (
            run(["serve", "--port", str(first_port)], env, first_port) as first,
            run(["serve", "--port", str(second_port)], env, second_port) as second,
        ):
            yield first.base_url, second.base_url, database
    finally:
        drop_postgres_database(database)


def operator_headers(base: str, database: TestDatabase) -> dict[str, str]:
    """Create an operator with `ainas create-operator` (password on standard input) and log in."""
    env = server_env(database.url, new_secret())
    subprocess.run(  # noqa: S603
        [AINAS, "create-operator", "ops"],
        input="instances passphrase\n",
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
        timeout=60,
        capture_output=True,
    )
    token = httpx.post(
        f"{base}/api/v1/auth/token",
        data={"grant_type": "password", "username": "ops", "password": "instances passphrase"},
    )
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def test_lockout_idempotency_and_revocation_hold_across_instances(
    two_instances: tuple[str, str, TestDatabase],
) -> None:
    first, second, database = two_instances
    op = operator_headers(first, database)
    onboarded = httpx.post(
        f"{first}/api/v1/organizations",
        json={
            "name": "株式会社二台構成",
            "short_name": "二台構成",
            "admins": [{"login_id": "twin.admin", "name": "二台 管理"}],
        },
        headers=op,
    )
    assert onboarded.status_code == 201
    notice: dict[str, Any] = onboarded.json()["registration_notice"]
    org = f"/api/v1/organizations/{notice['organization_id']}"

    # Lockout: failures spread over both instances lock the account on both.
    for attempt in range(5):
        base = first if attempt % 2 else second
        httpx.post(
            f"{base}/api/v1/auth/token",
            data={"grant_type": "password", "username": "twin.admin", "password": f"wrong {attempt}"},
        )
    for base in (first, second):
        right = httpx.post(
            f"{base}/api/v1/auth/token",
            data={
                "grant_type": "password",
                "username": "twin.admin",
                "password": notice["admins"][0]["initial_password"],
            },
        )
        assert right.json()["code"] == "account_locked"

    # Idempotency: a retry on the other instance replays the first answer.
    body = {"code": "TWIN", "name": "二台拠点", "short_name": "二台"}
    key = {"Idempotency-Key": "twin-create-1"}
    created = httpx.post(f"{first}{org}/locations", json=body, headers={**op, **key})
    replayed = httpx.post(f"{second}{org}/locations", json=body, headers={**op, **key})
    assert created.status_code == replayed.status_code == 201
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.content == created.content

    # Revocation: a key revoked through one instance fails at once on the other, cached path included.
    basic = {
        "Authorization": "Basic "
        + base64.b64encode(f"{notice['api_key']}:{notice['api_initial_password']}".encode()).decode()
    }
    assert httpx.get(f"{second}{org}/locations", headers=basic).status_code == 200
    keys = httpx.get(f"{first}{org}/api-keys", headers=op).json()["items"]
    assert httpx.delete(f"{first}{org}/api-keys/{keys[0]['id']}", headers=op).status_code == 204
    assert httpx.get(f"{second}{org}/locations", headers=basic).status_code == 401
