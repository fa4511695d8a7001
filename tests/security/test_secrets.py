"""Secrets never leak (issue 5, item 6).

Every test of tests/security and tests/reliability runs under the `leaks` scanner (see leaks.py):
each answer and each service log line is checked for every password, API password, token,
password hash and the JWT signing key that the test sent or was issued. This file drives every
operation that handles a secret through the scanner, checks the stored audit trail too, and
proves that the scanner itself notices a leak.
"""

import base64

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from app.models import Base
from tests.fixtures.principals import token_response
from tests.fixtures.world import PASSWORD, World
from tests.security.leaks import LeakScanner


async def all_stored_text(app: FastAPI) -> str:
    """Every value of every table, as text (to search it for secrets)."""
    chunks = []
    async with app.state.runtime.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            rows = (await connection.execute(text(f"SELECT * FROM {table.name}"))).all()  # noqa: S608 (own table names)
            for row in rows:
                for value in row:
                    chunks.append(
                        value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
                    )
    return "\n".join(chunks)


async def test_every_secret_handling_operation_under_the_scanner(
    app: FastAPI, client: httpx.AsyncClient, world: World, leaks: LeakScanner
) -> None:
    a = world.a
    # Failed logins with real-looking passwords: the failure is audited, the password is not.
    for attempt in ("a wrong passphrase 1", "a wrong passphrase 2"):
        assert (await token_response(client, "a.admin", attempt)).status_code == 400
        assert (await token_response(client, "no.such.user", attempt)).status_code == 400
    # Refresh and revoke: the new refresh token is issued once; the old one never reappears.
    refreshed = await client.post(
        "/api/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": a.admin.refresh_token}
    )
    assert refreshed.status_code == 200
    assert (
        await client.post("/api/v1/auth/revoke", data={"token": refreshed.json()["refresh_token"]})
    ).status_code == 200
    # A linked system: token by client credentials (form and Basic), and Basic on each request.
    form = {"grant_type": "client_credentials", "client_id": a.api_key, "client_secret": a.api_password}
    assert (await client.post("/api/v1/auth/token", data=form)).status_code == 200
    basic = await client.post(
        "/api/v1/auth/token", data={"grant_type": "client_credentials"}, headers=a.basic()
    )
    assert basic.status_code == 200
    assert (await client.get(f"{a.path}/locations", headers=a.basic())).status_code == 200
    wrong_basic = {
        "Authorization": "Basic " + base64.b64encode(f"{a.api_key}:not the api password".encode()).decode()
    }
    assert (await client.get("/api/v1/me", headers=wrong_basic)).status_code == 401
    # A password reset and a generated API password are answered once.
    reset = await client.post(f"{a.path}/users/submitter.l2/password-reset", headers=a.admin.headers)
    assert reset.status_code == 200
    generated = await client.put(f"{a.path}/api-password", json={}, headers=a.admin.headers)
    assert generated.status_code == 200
    assert generated.json()["api_password"]
    # Changing one's own password, right and wrong.
    preparer = world["staff_preparer_l1"]
    wrong = await client.put(
        "/api/v1/me/password",
        json={"current_password": "not my passphrase", "new_password": "a brand new passphrase"},
        headers=preparer.headers,
    )
    assert wrong.status_code == 422
    changed = await client.put(
        "/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": "a brand new passphrase"},
        headers=preparer.headers,
    )
    assert changed.status_code == 204
    # The audit trail, as answered and as stored, holds no secret and no hash.
    events = await client.get(f"{a.path}/audit-events", params={"limit": 200}, headers=a.admin.headers)
    assert events.status_code == 200
    assert events.json()["total"] > 20
    async with app.state.runtime.engine.connect() as connection:
        audit_rows = (
            await connection.execute(text("SELECT changes, actor_id, resource_id FROM audit_events"))
        ).all()
    stored_audit = "\n".join(str(value) for row in audit_rows for value in row)
    in_audit = [kind for value, kind in leaks.secrets.items() if value in stored_audit]
    assert not in_audit, f"the stored audit trail holds secrets: {in_audit}"
    assert "$argon2" not in stored_audit
    # The scanner saw the traffic it is meant to judge (it fails this test when it ends, on a leak).
    kinds = set(leaks.secrets.values())
    assert {
        "issued secret",
        "JSON field new_password",
        "form field password",
        "API password (Basic)",
    } <= kinds
    assert len(leaks.answers) > 40


async def test_issued_secrets_are_not_stored_in_plain_text(
    app: FastAPI, client: httpx.AsyncClient, world: World
) -> None:
    onboarded = await client.post(
        "/api/v1/organizations",
        json={
            "name": "株式会社秘密",
            "short_name": "秘密",
            "admins": [{"login_id": "secret.admin", "name": "秘密 管理者"}],
        },
        headers={**world.operator.headers, "Idempotency-Key": "onboard-secret-1"},
    )
    assert onboarded.status_code == 201
    reset = await client.post(
        f"{world.a.path}/users/submitter.l2/password-reset",
        headers={**world.a.admin.headers, "Idempotency-Key": "reset-secret-1"},
    )
    assert reset.status_code == 200
    notice = onboarded.json()["registration_notice"]
    issued = [
        notice["api_initial_password"],
        notice["admins"][0]["initial_password"],
        reset.json()["temporary_password"],
    ]
    stored = await all_stored_text(app)
    kept = [index for index, secret in enumerate(issued) if secret in stored]
    assert kept == [], f"issued secrets number {kept} are stored in plain text"


def test_the_scanner_notices_leaks() -> None:
    """The guard itself: a secret in a second answer, a hash, or a password in a log line is reported."""
    scanner = LeakScanner()
    request = httpx.Request(
        "POST", "http://t/api/v1/me/password", json={"new_password": "a secret passphrase"}
    )
    scanner.learn_from_request(request)
    issued = httpx.Headers({"content-type": "application/json"})
    scanner.record_answer("POST /reset", 200, issued, b'{"temporary_password": "issued-once-secret"}')
    assert scanner.leaks() == []
    scanner.record_answer("GET /users", 200, issued, b'{"note": "issued-once-secret"}')
    scanner.record_answer("GET /me", 200, httpx.Headers({"x-debug": "a secret passphrase"}), b"{}")
    scanner.record_answer("GET /x", 500, issued, b'{"hash": "$argon2id$v=19$m=64"}')
    scanner.record_log_line('{"message": "login with a secret passphrase"}')
    found = scanner.leaks()
    assert len(found) == 4, found
    with pytest.raises(AssertionError):
        scanner.assert_clean()
