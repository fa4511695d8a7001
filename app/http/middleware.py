"""ASGI middleware: request id, request body limit, access log."""

import logging
import os
import re
import time
from collections.abc import Sequence

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config.logging import request_id_var
from app.http.errors import MAX_BODY_BYTES, problem_response, render_unexpected

_REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
access_log = logging.getLogger("ainas.access")


def _log_request(scope: Scope, status: int, seconds: float) -> None:
    """The request's access-log line. The record is made and handled directly (Logger.makeRecord,
    Logger.handle): `Logger.info` would first look up its caller's file and line by walking the
    stack (3 % of a read's instructions, docs/performance.md), and this line's origin is always
    here. Handlers, filters and levels apply as to any record."""
    if not access_log.isEnabledFor(logging.INFO):
        return
    record = access_log.makeRecord(
        access_log.name,
        logging.INFO,
        __file__,
        0,
        "request",
        (),
        None,
        "_log_request",
        {
            "method": scope["method"],
            "path": scope["path"],
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "client_ip": (scope.get("client") or ("", 0))[0],
        },
    )
    access_log.handle(record)


class RequestContextMiddleware:
    """Gives every request an id (the caller's when it sends a sane one), echoes it in
    `X-Request-ID`, refuses bodies over 1 MiB with 413 (or the limit of the first of
    `body_limits` whose pattern matches the path: CSV uploads), and writes one access-log line."""

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int = MAX_BODY_BYTES,
        body_limits: Sequence[tuple[re.Pattern[str], int]] = (),
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_limits = tuple(body_limits)

    def _limit_of(self, path: str) -> int:
        for pattern, limit in self.body_limits:
            if pattern.match(path):
                return limit
        return self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Wrap one HTTP request."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        # A caller's id that could break a log line or a header is replaced, not echoed.
        request_id = given if _REQUEST_ID_PATTERN.match(given) else os.urandom(16).hex()
        max_body_bytes = self._limit_of(scope["path"])
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["body_limit"] = max_body_bytes  # named by the 413 answer
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False
        # Answers of the API are one principal's data, some with secrets shown once: never cached.
        # No answer is sniffed into another type, and no page of the service may be framed.
        extra_headers = [(b"x-request-id", request_id.encode()), (b"x-content-type-options", b"nosniff")]
        if scope["path"].startswith("/api/"):
            extra_headers.append((b"cache-control", b"no-store"))

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                headers = [*message.get("headers", []), *extra_headers]
                if not any(name.lower() == b"content-security-policy" for name, _ in headers):
                    headers.append((b"content-security-policy", b"frame-ancestors 'none'"))
                message["headers"] = headers
            await send(message)

        try:
            declared = headers.get(b"content-length")
            if declared is not None and declared.isdigit() and int(declared) > max_body_bytes:
                await self._too_large(scope, send_with_id, max_body_bytes)
                return
            received = 0

            async def limited_receive() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > max_body_bytes:
                        # An HTTPException passes FastAPI's body parsing untouched and is
                        # rendered as problem+json by the app's handler.
                        raise HTTPException(413)
                return message

            try:
                await self.app(scope, limited_receive, send_with_id)
            except Exception as exc:
                # Rendered here, inside this middleware, so that even a 500 carries the request id.
                if response_started:
                    raise
                response = await render_unexpected(Request(scope), exc)
                await response(scope, self._empty_receive, send_with_id)
        finally:
            _log_request(scope, status, time.perf_counter() - started)
            request_id_var.reset(token)

    async def _too_large(self, scope: Scope, send: Send, limit: int) -> None:
        response = problem_response(Request(scope), 413, "payload_too_large", context={"limit": limit})
        await response(scope, self._empty_receive, send)

    @staticmethod
    async def _empty_receive() -> Message:
        return {"type": "http.disconnect"}
