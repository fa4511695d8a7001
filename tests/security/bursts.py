"""Guessing attempts for bursts, and what the audit trail says of them."""

import json
from collections import Counter
from typing import Any

from tests.fixtures.bursts import Attempt
from tests.reliability.live import LiveSession


def password_login(login_id: str, password: str) -> Attempt:
    """POST /auth/token with the password grant."""
    return lambda client, _: client.post(
        "/api/v1/auth/token", data={"grant_type": "password", "username": login_id, "password": password}
    )


def basic_read(path: str, key: str, password: str) -> Attempt:
    """GET path with HTTP Basic credentials."""
    return lambda client, _: client.get(path, auth=(key, password))


async def audit_reasons(live: LiveSession, action: str, resource_id: str | None = None) -> Counter[str]:
    """The reasons of the stored audit events of one action (and resource)."""
    sql = "SELECT changes FROM audit_events WHERE action = :action"
    params: dict[str, Any] = {"action": action}
    if resource_id is not None:
        sql += " AND resource_id = :resource_id"
        params["resource_id"] = resource_id
    async with live.runtime.engine.connect() as connection:
        from sqlalchemy import text

        rows = (await connection.execute(text(sql), params)).all()
    changes = [row[0] if isinstance(row[0], dict) else json.loads(row[0]) for row in rows]
    return Counter(change.get("reason", ["", "?"])[1] for change in changes)
