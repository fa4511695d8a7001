"""Two server processes on one PostgreSQL database: what must hold across instances holds."""

import base64
from collections.abc import Iterator

import httpx
import pytest

from tests.acceptance.server import onboard, operator_headers, two_instances


@pytest.fixture(scope="module")
def instances() -> Iterator[tuple[str, str, dict[str, str]]]:
    with two_instances("ainas_instances") as started:
        yield started


def test_lockout_idempotency_and_revocation_hold_across_instances(
    instances: tuple[str, str, dict[str, str]],
) -> None:
    first, second, env = instances
    op = operator_headers(first, env, "ops", "instances passphrase")
    notice = onboard(first, op, "株式会社二台構成", "二台構成", "twin.admin", "二台 管理")
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
