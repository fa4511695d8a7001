"""SPEC §5.3 conventions every endpoint shares: problem+json, languages, limits, request ids, probes."""

import json
import logging
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI

from app.config.logging import JsonFormatter
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


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def access_lines() -> Iterator[_Lines]:
    """The access log's lines, as the service formats them, through an ordinary logging handler."""
    logger = logging.getLogger("ainas.access")
    handler, level = _Lines(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


async def test_every_request_writes_one_access_line(
    world: World, client: httpx.AsyncClient, access_lines: _Lines
) -> None:
    response = await client.get(
        f"{world.a.path}/locations?limit=2", headers={**world.a.admin.headers, "X-Request-ID": "line-1"}
    )
    assert response.status_code == 200
    missing = await client.get("/api/v1/no-such-thing", headers={"X-Request-ID": "line-2"})
    assert missing.status_code == 404
    assert [
        {
            key: line[key]
            for key in ("logger", "level", "message", "request_id", "method", "path", "status", "client_ip")
        }
        for line in access_lines.lines
    ] == [
        {
            "logger": "ainas.access",
            "level": "INFO",
            "message": "request",
            "request_id": request_id,
            "method": "GET",
            "path": path,
            "status": status,
            "client_ip": "127.0.0.1",
        }
        for request_id, path, status in (
            ("line-1", f"{world.a.path}/locations", 200),
            ("line-2", "/api/v1/no-such-thing", 404),
        )
    ]
    assert all(
        isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0 for line in access_lines.lines
    )


async def test_the_access_log_obeys_its_logger_level_and_filters(
    client: httpx.AsyncClient, access_lines: _Lines
) -> None:
    logger = logging.getLogger("ainas.access")
    logger.setLevel(logging.WARNING)
    assert (await client.get("/healthz")).status_code == 200
    assert access_lines.lines == []
    logger.setLevel(logging.INFO)
    only_errors = logging.Filter()
    only_errors.filter = lambda record: record.status >= 400  # type: ignore[method-assign,attr-defined]
    logger.addFilter(only_errors)
    try:
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/api/v1/me")).status_code == 401
    finally:
        logger.removeFilter(only_errors)
    assert [(line["path"], line["status"]) for line in access_lines.lines] == [("/api/v1/me", 401)]


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
