"""SPEC §5.1: logins, lockout, and what a failure tells (and does not tell)."""

from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from app.config.clock import ManualClock
from app.models import AuditEvent
from tests.fixtures.hashing import CountingContext
from tests.fixtures.principals import OPERATOR_PASSWORD, create_operator, token_response


async def audit_actions(app: FastAPI) -> list[str]:
    async with app.state.runtime.sessionmaker() as session:
        return list((await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id))).all())


async def test_login_success_answers_tokens(app: FastAPI, client: httpx.AsyncClient) -> None:
    await create_operator(app)
    response = await token_response(client, "operator1", OPERATOR_PASSWORD)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 1800
    assert body["password_change_required"] is False
    assert body["refresh_token"]
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["login_id"] == "operator1"
    assert me.json()["kind"] == "operator"
    assert "auth.login" in await audit_actions(app)


async def test_login_id_ignores_case(app: FastAPI, client: httpx.AsyncClient) -> None:
    await create_operator(app, "Operator.One")
    response = await token_response(client, "OPERATOR.one", OPERATOR_PASSWORD)
    assert response.status_code == 200


async def test_wrong_password_and_unknown_login_id_answer_alike(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await create_operator(app)
    wrong = await token_response(client, "operator1", "not-the-password")
    unknown = await token_response(client, "nobody-here", "not-the-password")
    assert wrong.status_code == unknown.status_code == 400
    assert wrong.headers["content-type"] == unknown.headers["content-type"] == "application/problem+json"
    strip = lambda body: {k: v for k, v in body.items() if k != "request_id"}  # noqa: E731
    assert strip(wrong.json()) == strip(unknown.json())
    assert wrong.json()["error"] == "invalid_grant"
    assert wrong.json()["code"] == "invalid_credentials"
    assert (await audit_actions(app)).count("auth.login_failed") == 2


async def test_lockout_after_threshold_and_its_end(
    app: FastAPI, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    await create_operator(app)
    for attempt in range(1, 5):
        response = await token_response(client, "operator1", f"wrong-{attempt}")
        assert response.json()["code"] == "invalid_credentials", attempt
    fifth = await token_response(client, "operator1", "wrong-5")
    assert fifth.json()["code"] == "account_locked"
    # Locked: even the right password is refused, and says for how long.
    locked = await token_response(client, "operator1", OPERATOR_PASSWORD)
    assert locked.status_code == 400
    assert locked.json()["code"] == "account_locked"
    assert "900" in locked.json()["detail"]
    assert "user.lockout" in await audit_actions(app)

    clock.advance(timedelta(minutes=14, seconds=59))
    assert (await token_response(client, "operator1", OPERATOR_PASSWORD)).json()["code"] == "account_locked"
    clock.advance(timedelta(seconds=2))
    assert (await token_response(client, "operator1", OPERATOR_PASSWORD)).status_code == 200


async def test_a_lock_keeps_the_tokens_issued_before_it(app: FastAPI, client: httpx.AsyncClient) -> None:
    """Guessing at someone's login ID must not throw them out (SPEC §5.1): the lock stops new
    logins only; the access token and the refresh token of a login before it keep working."""
    await create_operator(app)
    tokens = (await token_response(client, "operator1", OPERATOR_PASSWORD)).json()
    for attempt in range(5):
        await token_response(client, "operator1", f"wrong-{attempt}")
    assert (await token_response(client, "operator1", OPERATOR_PASSWORD)).json()["code"] == "account_locked"
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200
    refreshed = await client.post(
        "/api/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 200, refreshed.text


async def test_while_locked_no_password_is_checked(app: FastAPI, client: httpx.AsyncClient) -> None:
    """Refused unchecked: a locked account costs no hash, whatever is sent (also the right one)."""
    await create_operator(app)
    for attempt in range(5):
        await token_response(client, "operator1", f"wrong-{attempt}")
    counting = CountingContext.install(app)
    for password in ("wrong-6", OPERATOR_PASSWORD, "wrong-7"):
        assert (await token_response(client, "operator1", password)).json()["code"] == "account_locked"
    assert counting.calls == 0
    actions = await audit_actions(app)
    assert actions.count("user.lockout") == 1
    assert actions.count("auth.login_failed") == 8


async def test_unknown_login_ids_cost_one_hash_like_known_ones(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await create_operator(app)
    counting = CountingContext.install(app)
    await token_response(client, "operator1", "a wrong password")
    known = counting.calls
    await token_response(client, "nobody-here", "a wrong password")
    await token_response(client, "not a login id!", "a wrong password")
    assert known == 1
    assert counting.calls == 3


async def test_success_resets_the_failure_count(app: FastAPI, client: httpx.AsyncClient) -> None:
    await create_operator(app)
    for attempt in range(4):
        await token_response(client, "operator1", f"wrong-{attempt}")
    assert (await token_response(client, "operator1", OPERATOR_PASSWORD)).status_code == 200
    for attempt in range(4):
        response = await token_response(client, "operator1", f"wrong-again-{attempt}")
        assert response.json()["code"] == "invalid_credentials"


async def test_token_endpoint_errors_follow_rfc6749(client: httpx.AsyncClient) -> None:
    unsupported = await client.post("/api/v1/auth/token", data={"grant_type": "implicit"})
    assert unsupported.status_code == 400
    assert unsupported.json()["error"] == "unsupported_grant_type"
    missing = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": "x"},
        headers={"Accept-Language": "en"},
    )
    assert missing.status_code == 400
    assert missing.json()["error"] == "invalid_request"
    assert "password" in missing.json()["error_description"]
    no_grant = await client.post("/api/v1/auth/token", data={})
    assert no_grant.json()["error"] == "invalid_request"
