"""SPEC §5.1: access tokens are checked strictly; refresh tokens rotate; revocation ends a login."""

import base64
import json
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from jose import jwt

from app.config.clock import ManualClock
from tests.fixtures.principals import OPERATOR_PASSWORD, Caller, login, operator


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(token: str) -> dict[str, object]:
    return jwt.get_unverified_claims(token)


async def _me(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})


async def test_valid_token_is_accepted(app: FastAPI, client: httpx.AsyncClient) -> None:
    caller = await operator(app, client)
    assert (await _me(client, caller.token)).status_code == 200


async def test_alg_none_is_rejected(app: FastAPI, client: httpx.AsyncClient) -> None:
    caller = await operator(app, client)
    forged = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(caller.token))}."
    response = await _me(client, forged)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_forged_signature_is_rejected(app: FastAPI, client: httpx.AsyncClient) -> None:
    caller = await operator(app, client)
    forged = jwt.encode(_claims(caller.token), "not-the-service-key-" * 3, algorithm="HS256")
    assert (await _me(client, forged)).status_code == 401
    header, _, signature = caller.token.split(".")
    tampered_claims = {**_claims(caller.token), "sub": "user:999"}
    tampered = f"{header}.{_b64(tampered_claims)}.{signature}"
    assert (await _me(client, tampered)).status_code == 401


async def test_another_algorithm_is_rejected(app: FastAPI, client: httpx.AsyncClient) -> None:
    caller = await operator(app, client)
    key = app.state.runtime.settings.secret_key
    other = jwt.encode(_claims(caller.token), key, algorithm="HS512")
    response = await _me(client, other)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


async def test_expired_token_is_rejected(app: FastAPI, client: httpx.AsyncClient, clock: ManualClock) -> None:
    caller = await operator(app, client)
    clock.advance(timedelta(minutes=29))
    assert (await _me(client, caller.token)).status_code == 200
    clock.advance(timedelta(minutes=1, seconds=1))
    response = await _me(client, caller.token)
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"


async def test_stale_security_stamp_is_rejected(app: FastAPI, client: httpx.AsyncClient) -> None:
    caller = await operator(app, client)
    changed = await client.put(
        "/api/v1/me/password",
        json={"current_password": OPERATOR_PASSWORD, "new_password": "a-brand-new-passphrase"},
        headers=caller.headers,
    )
    assert changed.status_code == 204
    assert (await _me(client, caller.token)).status_code == 401
    assert caller.refresh_token is not None
    refreshed = await client.post(
        "/api/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": caller.refresh_token}
    )
    assert refreshed.status_code == 400
    new_login = await login(client, "operator1", "a-brand-new-passphrase")
    assert (await _me(client, new_login.token)).status_code == 200


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Token abc", "Bearer not.a.jwt", "Basic !!!"])
async def test_malformed_credentials_get_401(client: httpx.AsyncClient, header: str) -> None:
    response = await client.get("/api/v1/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert "www-authenticate" in response.headers


async def _refresh(client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token}
    )


async def test_refresh_rotates_and_reuse_ends_the_family(app: FastAPI, client: httpx.AsyncClient) -> None:
    caller: Caller = await operator(app, client)
    assert caller.refresh_token is not None
    first = await _refresh(client, caller.refresh_token)
    assert first.status_code == 200
    second_refresh = first.json()["refresh_token"]
    assert second_refresh
    assert second_refresh != caller.refresh_token
    assert (await _me(client, first.json()["access_token"])).status_code == 200

    reused = await _refresh(client, caller.refresh_token)
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    # The reuse revoked the whole family: the newer refresh token is dead too.
    assert (await _refresh(client, second_refresh)).status_code == 400


async def test_refresh_token_expires(app: FastAPI, client: httpx.AsyncClient, clock: ManualClock) -> None:
    caller = await operator(app, client)
    assert caller.refresh_token is not None
    clock.advance(timedelta(days=14, seconds=1))
    assert (await _refresh(client, caller.refresh_token)).status_code == 400


async def test_revoke_logs_out(app: FastAPI, client: httpx.AsyncClient) -> None:
    caller = await operator(app, client)
    assert caller.refresh_token is not None
    revoked = await client.post("/api/v1/auth/revoke", data={"token": caller.refresh_token})
    assert revoked.status_code == 200
    assert (await _refresh(client, caller.refresh_token)).status_code == 400
    unknown = await client.post("/api/v1/auth/revoke", data={"token": "never-issued"})
    assert unknown.status_code == 200


async def test_a_token_checked_before_is_still_held_to_its_signature_and_expiry(
    app: FastAPI, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    """The service remembers tokens whose signature it checked (TokenCodec): only that exact
    string is remembered, and expiry is checked on every request."""
    caller = await operator(app, client)
    assert (await _me(client, caller.token)).status_code == 200
    header, claims, signature = caller.token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    assert (await _me(client, f"{header}.{claims}.{flipped}")).status_code == 401
    assert (await _me(client, caller.token + "A" * 3000)).status_code == 401
    assert (await _me(client, caller.token)).status_code == 200
    clock.advance(timedelta(minutes=app.state.runtime.settings.access_token_minutes, seconds=1))
    expired = await _me(client, caller.token)
    assert expired.status_code == 401
    assert expired.json()["code"] == "token_expired"
