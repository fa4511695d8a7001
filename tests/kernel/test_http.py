"""SPEC §5.3 conventions every endpoint shares: problem+json, languages, limits, request ids, probes."""

import httpx
import pytest
from fastapi import FastAPI

from tests.fixtures.principals import operator
from tests.fixtures.world import World


async def test_unknown_path_is_problem_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "not_found"
    assert body["status"] == 404
    assert body["type"] == "urn:ainas:problem:not_found"
    assert body["title"]
    assert body["detail"]


async def test_wrong_method_is_problem_json(client: httpx.AsyncClient) -> None:
    response = await client.delete("/api/v1/me")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


async def test_messages_are_japanese_by_default_and_english_on_request(client: httpx.AsyncClient) -> None:
    japanese = await client.get("/api/v1/me")
    english = await client.get("/api/v1/me", headers={"Accept-Language": "en-US,en;q=0.9,ja;q=0.5"})
    prefers_japanese = await client.get("/api/v1/me", headers={"Accept-Language": "ja,en;q=0.8"})
    assert japanese.json()["detail"] == "認証が必要です。アクセストークンを指定してください。"
    assert english.json()["detail"] == "Authentication is required. Send an access token."
    assert prefers_japanese.json()["detail"] == japanese.json()["detail"]


async def test_request_id_is_echoed_or_made(client: httpx.AsyncClient) -> None:
    given = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = await client.get("/healthz")
    assert len(made.headers["x-request-id"]) == 32
    hostile = await client.get("/healthz", headers={"X-Request-ID": "evil\tid with spaces"})
    assert hostile.headers["x-request-id"] != "evil\tid with spaces"
    problem = await client.get("/api/v1/me", headers={"X-Request-ID": "trace-42"})
    assert problem.json()["request_id"] == "trace-42"


async def test_body_over_one_mebibyte_gets_413(app: FastAPI, client: httpx.AsyncClient) -> None:
    caller = await operator(app, client)
    big = b'{"current_password": "' + b"x" * (1024 * 1024) + b'", "new_password": "y"}'
    response = await client.put(
        "/api/v1/me/password", content=big, headers={**caller.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


async def test_streamed_body_over_limit_gets_413(app: FastAPI, client: httpx.AsyncClient) -> None:
    caller = await operator(app, client)

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b"x" * 65536

    response = await client.put(
        "/api/v1/me/password",
        content=chunks(),
        headers={**caller.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("body", [b"{", b'{"current_password": }', b"[1, 2"])
async def test_malformed_json_gets_problem_422(app: FastAPI, client: httpx.AsyncClient, body: bytes) -> None:
    caller = await operator(app, client)
    response = await client.put(
        "/api/v1/me/password", content=body, headers={**caller.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] in {"malformed_json", "validation_failed"}


async def test_a_null_body_is_refused_not_read_as_no_body(world: World, client: httpx.AsyncClient) -> None:
    # PUT api-password with no body generates a new password; `null` must not do the same.
    response = await client.put(
        f"{world.a.path}/api-password",
        content=b"null",
        headers={**world.a.admin.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["code"] == "body_not_object"
    assert (await client.get("/api/v1/me", headers=world.a.basic())).status_code == 200  # unchanged


async def test_unknown_fields_are_rejected(app: FastAPI, client: httpx.AsyncClient) -> None:
    caller = await operator(app, client)
    response = await client.put(
        "/api/v1/me/password",
        json={"current_password": "a", "new_password": "b", "role": "admin"},
        headers=caller.headers,
    )
    assert response.status_code == 422
    assert {"field": "role", "code": "extra_forbidden"}.items() <= response.json()["errors"][0].items()


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    # Without the application's lifespan no listener runs: waiting feed readers would poll.
    assert ready.json() == {"status": "ok", "change_feed": "polling"}
