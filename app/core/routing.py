"""The route class of resource routers: every POST takes an Idempotency-Key."""

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from app.core.idempotency import IdempotencyDep, PendingIdempotency


class ResourceRoute(APIRoute):
    """Adds the idempotency dependency to POST routes and stores their successful answer
    inside the request's transaction, before the session dependency commits."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if "POST" in (kwargs.get("methods") or ()):
            kwargs["dependencies"] = [*(kwargs.get("dependencies") or []), IdempotencyDep]
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap the handler; it runs while the request's session is still open."""
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            response = await handler(request)
            pending: PendingIdempotency | None = getattr(request.state, "idempotency", None)
            if pending is not None and 200 <= response.status_code < 300:
                await pending.store(response)
            return response

        return handle
