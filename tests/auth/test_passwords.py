"""SPEC §3.4 and §5.1: password rules, temporary passwords, changing one's own password."""

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from app.config.clock import ManualClock
from app.journal.audit_trail import Actor
from app.journal.context import command_context
from app.users.service import UserService
from tests.fixtures.principals import OPERATOR_PASSWORD, login, operator, token_response


async def _temporary_operator(app: FastAPI) -> str:
    runtime = app.state.runtime
    async with command_context(runtime) as context:
        _, generated = await UserService(context).create_operator(
            Actor("system", "test"), "newop", "新しい運用者", None
        )
    assert generated is not None
    return generated


async def test_a_generated_operator_password_is_temporary_but_never_expires(
    app: FastAPI, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    """The first operator may log in whenever the service is set up: long after 72 hours."""
    temporary = await _temporary_operator(app)
    clock.advance(timedelta(days=30))
    response = await token_response(client, "newop", temporary)
    assert response.status_code == 200, response.text
    assert response.json()["password_change_required"] is True


async def test_temporary_password_gives_a_change_only_token(app: FastAPI, client: httpx.AsyncClient) -> None:
    temporary = await _temporary_operator(app)
    response = await token_response(client, "newop", temporary)
    assert response.status_code == 200
    body = response.json()
    assert body["password_change_required"] is True
    assert body.get("refresh_token") is None
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    me = await client.get("/api/v1/me", headers=headers)
    assert me.status_code == 403
    assert me.json()["code"] == "password_change_required"

    changed = await client.put(
        "/api/v1/me/password",
        json={"current_password": temporary, "new_password": "my own passphrase"},
        headers=headers,
    )
    assert changed.status_code == 204
    fresh = await login(client, "newop", "my own passphrase")
    me = await client.get("/api/v1/me", headers=fresh.headers)
    assert me.status_code == 200
    assert me.json()["password_change_required"] is False


@pytest.mark.parametrize(
    ("new_password", "code"),
    [
        ("short", "password_too_short"),
        ("x" * 129, "password_too_long"),
        ("my-operator1-pass", "password_contains_login_id"),
        ("MY-OPERATOR1-PASS", "password_contains_login_id"),
        ("password123", "password_too_common"),
        ("iloveyou", "password_too_common"),
        (OPERATOR_PASSWORD, "password_unchanged"),
    ],
)
async def test_password_rules_answer_precise_errors(
    app: FastAPI, client: httpx.AsyncClient, new_password: str, code: str
) -> None:
    caller = await operator(app, client)
    response = await client.put(
        "/api/v1/me/password",
        json={"current_password": OPERATOR_PASSWORD, "new_password": new_password},
        headers=caller.headers,
    )
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [(error["field"], error["code"]) for error in errors] == [("new_password", code)]
    assert errors[0]["message"]
    # Nothing changed: the old password still logs in.
    assert (await token_response(client, "operator1", OPERATOR_PASSWORD)).status_code == 200


async def test_128_characters_of_anything_are_accepted_and_not_truncated(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    caller = await operator(app, client)
    long_password = ("パスワード🔑 " * 20)[:128]
    assert len(long_password) == 128
    changed = await client.put(
        "/api/v1/me/password",
        json={"current_password": OPERATOR_PASSWORD, "new_password": long_password},
        headers=caller.headers,
    )
    assert changed.status_code == 204
    assert (await token_response(client, "operator1", long_password)).status_code == 200
    assert (await token_response(client, "operator1", long_password[:-1])).status_code == 400


async def test_wrong_current_password_is_refused(app: FastAPI, client: httpx.AsyncClient) -> None:
    caller = await operator(app, client)
    response = await client.put(
        "/api/v1/me/password",
        json={"current_password": "not-it", "new_password": "a fine new passphrase"},
        headers=caller.headers,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "current_password_incorrect"


async def test_expired_password_needs_a_change(
    app: FastAPI, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    app.state.runtime.settings.password_max_age_days = 90
    caller = await operator(app, client)
    changed = await client.put(
        "/api/v1/me/password",
        json={"current_password": OPERATOR_PASSWORD, "new_password": "a fine new passphrase"},
        headers=caller.headers,
    )
    assert changed.status_code == 204
    clock.advance(timedelta(days=91))
    response = await token_response(client, "operator1", "a fine new passphrase")
    assert response.json()["password_change_required"] is True
