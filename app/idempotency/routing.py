"""The route class of resource routes: every POST takes an Idempotency-Key."""

from collections.abc import Callable
from typing import Any

from fastapi import Request, Response

from app.http.routing import ApiRoute
from app.idempotency.service import IdempotencyDep, PendingIdempotency


class ResourceRoute(ApiRoute):
    """Resource routes: every POST takes an Idempotency-Key, and its successful answer is stored
    inside the request's transaction, before the session dependency commits."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        dependencies = list(kwargs.get("dependencies") or ())
        # Once: including a router builds its routes again, with the dependencies they have.
        if "POST" in (kwargs.get("methods") or ()) and IdempotencyDep not in dependencies:
            kwargs["dependencies"] = [*dependencies, IdempotencyDep]
        super().__init__(path, endpoint, **kwargs)

    async def after(self, request: Request, response: Response) -> Response:
        """Store the answer of a POST that carried an Idempotency-Key."""
        pending: PendingIdempotency | None = getattr(request.state, "idempotency", None)
        if pending is not None and 200 <= response.status_code < 300:
            await pending.store(response)
        return response
