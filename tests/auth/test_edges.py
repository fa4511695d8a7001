"""Edges found in review: each answered with a 4xx and the rule it guards, never a 500."""

import base64
from datetime import timedelta
from urllib.parse import quote_plus

import httpx
from fastapi import FastAPI

from app.config.clock import ManualClock
from tests.fixtures.principals import token_response
from tests.fixtures.world import PASSWORD, World


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def test_overlong_passwords_are_wrong_not_errors(world: World, client: httpx.AsyncClient) -> None:
    for login_id in ("a.admin", "nobody.here"):
        response = await token_response(client, login_id, "x" * 5000)
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_credentials"
    response = await client.get(f"{world.a.path}/locations", headers=basic(world.a.api_key, "y" * 5000))
    assert response.status_code == 401


async def test_time_filters_need_a_time_zone(world: World, client: httpx.AsyncClient) -> None:
    response = await client.get(
        f"{world.a.path}/audit-events", params={"since": "2020-01-01T00:00:00"}, headers=world.a.admin.headers
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "timezone_aware"


async def test_key_ids_that_no_row_can_have_are_not_found(world: World, client: httpx.AsyncClient) -> None:
    for key_id in ("%C2%B2", "%EF%BC%91", "99999999999", "3000000000", "0x1"):
        response = await client.delete(f"{world.a.path}/api-keys/{key_id}", headers=world.a.admin.headers)
        assert response.status_code == 404, key_id
    listed = await client.get(f"{world.a.path}/api-keys", headers=world.a.admin.headers)
    assert all(item["revoked_at"] is None for item in listed.json()["items"])


async def test_api_answers_are_never_cached(world: World, client: httpx.AsyncClient) -> None:
    token = await token_response(client, "a.admin", PASSWORD)
    assert token.headers["cache-control"] == "no-store"
    me = await client.get("/api/v1/me", headers=world.a.admin.headers)
    assert me.headers["cache-control"] == "no-store"
    assert "cache-control" not in (await client.get("/healthz")).headers


async def test_a_replay_is_refused_after_the_caller_lost_the_right(
    world: World, client: httpx.AsyncClient
) -> None:
    headers = {**world["location_admin_l1"].headers, "Idempotency-Key": "k-reset"}
    first = await client.post(f"{world.a.path}/users/submitter.l1/password-reset", headers=headers)
    assert first.status_code == 200
    demoted = await client.patch(
        f"{world.a.path}/users/la.l1", json={"role": "staff_submitter"}, headers=world.operator.headers
    )
    assert demoted.status_code == 200
    replay = await client.post(f"{world.a.path}/users/submitter.l1/password-reset", headers=headers)
    assert replay.status_code == 403
    assert first.json()["temporary_password"] not in replay.text


async def test_token_endpoint_speaks_rfc6749(world: World, client: httpx.AsyncClient) -> None:
    repeated = await client.post(
        "/api/v1/auth/token",
        content=b"grant_type=password&username=a.admin&username=nobody&password=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert repeated.status_code == 400
    assert repeated.json()["error"] == "invalid_request"
    both = await client.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": world.a.api_key,
            "client_secret": world.a.api_password,
        },
        headers=world.a.basic(),
    )
    assert both.json()["error"] == "invalid_request"
    # Client credentials in HTTP Basic are form-urlencoded first (RFC 6749 §2.3.1).
    odd = "p%ss:w+rd 1234 long enough"
    changed = await client.put(
        f"{world.a.path}/api-password", json={"new_password": odd}, headers=world.a.admin.headers
    )
    assert changed.status_code == 200
    encoded = basic(quote_plus(world.a.api_key), quote_plus(odd))
    granted = await client.post(
        "/api/v1/auth/token", data={"grant_type": "client_credentials"}, headers=encoded
    )
    assert granted.status_code == 200
    # Throttled at the token endpoint: 429 with Retry-After and RFC 6749's error member.
    for _ in range(5):
        await client.post(
            "/api/v1/auth/token",
            data={"grant_type": "client_credentials"},
            headers=basic(world.a.api_key, "nope nope"),
        )
    throttled = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "client_credentials"},
        headers=basic(world.a.api_key, "nope"),
    )
    assert throttled.status_code == 429
    assert throttled.headers["retry-after"]
    assert throttled.json()["error"] == "temporarily_unavailable"
    # The linked system that knows the password is not shut out by the guesses (SPEC §5.1).
    still = await client.post(
        "/api/v1/auth/token", data={"grant_type": "client_credentials"}, headers=encoded
    )
    assert still.status_code == 200


async def test_more_keys_do_not_mean_more_guesses(world: World, client: httpx.AsyncClient) -> None:
    second = await client.post(f"{world.a.path}/api-keys", json={}, headers=world.a.admin.headers)
    key = second.json()["key"]
    statuses = [
        (await client.get(world.a.path, headers=basic(world.a.api_key, f"guess {n}"))).status_code
        for n in range(5)
    ]
    assert statuses[-1] == 429
    other = await client.get(world.a.path, headers=basic(key, "guess 6"))
    assert other.status_code == 429


async def test_refresh_with_an_expired_password_only_allows_changing_it(
    app: FastAPI, world: World, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    app.state.runtime.settings.password_max_age_days = 1
    caller = world["staff_preparer_l1"]
    changed = await client.put(
        "/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": "a fresh passphrase"},
        headers=caller.headers,
    )
    assert changed.status_code == 204
    login = await token_response(client, caller.login_id, "a fresh passphrase")
    refresh_token = login.json()["refresh_token"]
    clock.advance(timedelta(days=2))
    refreshed = await client.post(
        "/api/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token}
    )
    assert refreshed.status_code == 200
    assert refreshed.json()["password_change_required"] is True
    assert refreshed.json().get("refresh_token") is None


async def test_guessing_the_current_password_locks_the_account(
    world: World, client: httpx.AsyncClient
) -> None:
    """A stolen token does not allow unthrottled guessing: wrong current passwords count as failed
    logins and lock the account; the token itself keeps working (a lock stops new logins only)."""
    caller = world["staff_submitter_l2"]
    statuses = []
    for attempt in range(5):
        response = await client.put(
            "/api/v1/me/password",
            json={"current_password": f"guess {attempt}", "new_password": "whatever passphrase"},
            headers=caller.headers,
        )
        statuses.append(response.status_code)
    assert statuses == [422, 422, 422, 422, 429]
    assert (await client.get("/api/v1/me", headers=caller.headers)).status_code == 200
    locked = await token_response(client, caller.login_id, PASSWORD)
    assert locked.json()["code"] == "account_locked"
    # While locked, the right current password is refused too, unchecked.
    right = await client.put(
        "/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": "whatever passphrase"},
        headers=caller.headers,
    )
    assert right.status_code == 429
    assert right.json()["code"] == "account_locked"
    assert int(right.headers["retry-after"]) > 0
