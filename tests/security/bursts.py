"""Simultaneous requests from threads, each on a connection of its own, released together."""

import json
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx

from tests.reliability.live import LiveSession

Attempt = Callable[[httpx.Client, int], httpx.Response]


def at_once(base_url: str, attempts: list[Attempt], warm_headers: dict[str, str]) -> list[httpx.Response]:
    """Run every attempt in a thread of its own. Each thread first opens its connection and
    makes one authenticated read (so that the server's database pool is warm too), then all
    wait at a barrier and send together."""
    barrier = threading.Barrier(len(attempts))
    answers: list[httpx.Response | BaseException | None] = [None] * len(attempts)

    def run(index: int) -> None:
        try:
            with httpx.Client(base_url=base_url, timeout=60) as client:
                client.get("/api/v1/me", headers=warm_headers)
                barrier.wait(timeout=60)
                answers[index] = attempts[index](client, index)
        except BaseException as exc:  # reported below, in the test's thread
            answers[index] = exc

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(attempts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failed = [answer for answer in answers if not isinstance(answer, httpx.Response)]
    assert not failed, failed
    responses = [answer for answer in answers if isinstance(answer, httpx.Response)]
    server_errors = [f"{r.status_code} {r.text[:200]}" for r in responses if r.status_code >= 500]
    assert not server_errors, server_errors
    return responses


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
