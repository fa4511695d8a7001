"""The change feed's long poll across instances: two `ainas serve` processes on one PostgreSQL; a
reader waiting on one answers soon after a change is made through the other (LISTEN/NOTIFY)."""

import base64
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.cli import migrate
from tests.acceptance.server import AINAS, ROOT, free_port, new_secret, run, server_env
from tests.fixtures.database import create_postgres_database, drop_postgres_database, postgres_available

WAIT_SECONDS = 20


@pytest.fixture(scope="module")
def instances() -> Iterator[tuple[str, str, dict[str, str]]]:
    """Two instances and the environment they share."""
    available, why = postgres_available()
    if not available:
        pytest.skip(f"PostgreSQL not available: {why}")
    database = create_postgres_database("ainas_feed_instances")
    try:
        migrate(database.url)
        env = server_env(database.url, new_secret())
        first_port, second_port = free_port(), free_port()
        with (
            run(["serve", "--port", str(first_port)], env, first_port) as first,
            run(["serve", "--port", str(second_port)], env, second_port) as second,
        ):
            yield first.base_url, second.base_url, env
    finally:
        drop_postgres_database(database)


def operator_headers(base: str, env: dict[str, str]) -> dict[str, str]:
    subprocess.run(  # noqa: S603 (our own executable, fixed arguments)
        [AINAS, "create-operator", "feed.ops"],
        input="feed instances passphrase\n",
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
        timeout=60,
        capture_output=True,
    )
    token = httpx.post(
        f"{base}/api/v1/auth/token",
        data={"grant_type": "password", "username": "feed.ops", "password": "feed instances passphrase"},
    )
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def test_a_reader_waiting_on_one_instance_wakes_for_a_change_made_on_the_other(
    instances: tuple[str, str, dict[str, str]],
) -> None:
    first, second, env = instances
    op = operator_headers(first, env)
    onboarded = httpx.post(
        f"{first}/api/v1/organizations",
        json={
            "name": "株式会社二台追跡",
            "short_name": "二台追跡",
            "admins": [{"login_id": "feed.admin", "name": "追跡 管理"}],
        },
        headers=op,
    )
    assert onboarded.status_code == 201
    notice: dict[str, Any] = onboarded.json()["registration_notice"]
    org = f"/api/v1/organizations/{notice['organization_id']}"
    raw = f"{notice['api_key']}:{notice['api_initial_password']}".encode()
    basic = {"Authorization": f"Basic {base64.b64encode(raw).decode()}"}
    cursor = httpx.get(f"{first}{org}/changes", headers=basic).json()["next_cursor"]

    for round_number, (reader, writer) in enumerate([(first, second), (second, first), (first, second)]):
        answer: dict[str, Any] = {}

        def wait(reader: str = reader, after: str = cursor, answer: dict[str, Any] = answer) -> None:
            response = httpx.get(
                f"{reader}{org}/changes",
                params={"after": after, "wait": WAIT_SECONDS},
                headers=basic,
                timeout=60,
            )
            answer["body"] = response.json()
            answer["at"] = time.monotonic()

        waiting = threading.Thread(target=wait)
        waiting.start()
        time.sleep(1.0)
        assert "body" not in answer  # nothing yet: it waits
        code = f"TWIN{round_number}"
        created = httpx.post(
            f"{writer}{org}/locations",
            json={"code": code, "name": "二台拠点", "short_name": "二台"},
            headers=op,
        )
        written_at = time.monotonic()
        assert created.status_code == 201
        waiting.join(timeout=WAIT_SECONDS + 10)
        items = answer["body"]["items"]
        assert [(item["action"], item["resource"]["id"]) for item in items] == [("location.created", code)]
        assert items[0]["data"] == created.json()
        # Woken by the other instance's commit, long before the wait would have ended.
        assert answer["at"] - written_at < WAIT_SECONDS / 2
        cursor = answer["body"]["next_cursor"]
