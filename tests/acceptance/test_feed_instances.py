"""The change feed's long poll across instances: two `ainas serve` processes on one PostgreSQL; a
reader waiting on one answers soon after a change is made through the other (LISTEN/NOTIFY)."""

import base64
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.acceptance.server import onboard, operator_headers, two_instances

WAIT_SECONDS = 20


@pytest.fixture(scope="module")
def instances() -> Iterator[tuple[str, str, dict[str, str]]]:
    """Two instances and the environment they share."""
    with two_instances("ainas_feed_instances") as started:
        yield started


def test_a_reader_waiting_on_one_instance_wakes_for_a_change_made_on_the_other(
    instances: tuple[str, str, dict[str, str]],
) -> None:
    first, second, env = instances
    op = operator_headers(first, env, "feed.ops", "feed instances passphrase")
    notice = onboard(first, op, "株式会社二台追跡", "二台追跡", "feed.admin", "追跡 管理")
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
