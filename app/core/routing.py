"""The route class of every API route: strict JSON bodies, and the request's unit of work."""

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from app.core.db import begin_unit_of_work, end_unit_of_work
from app.core.errors import Unprocessable

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json.loads hook: a member named twice is ambiguous (parsers disagree on which wins)."""
    members: dict[str, Any] = {}
    for name, value in pairs:
        if name in members:
            raise Unprocessable("duplicate_member", context={"name": name[:64]})
        members[name] = value
    return members


async def check_json_body(request: Request) -> None:
    """Refuse a JSON body that is not UTF-8, not JSON, or names a member twice, before FastAPI reads it.

    The body is cached on the request, so FastAPI's own parsing does not read it again.
    """
    content_type = request.headers.get("content-type")
    # FastAPI reads a body without a Content-Type as JSON too.
    if request.method not in _BODY_METHODS or (content_type is not None and "json" not in content_type):
        return
    body = await request.body()
    if not body:
        return
    try:
        json.loads(body.decode("utf-8"), object_pairs_hook=_refuse_duplicates)
    except UnicodeDecodeError as exc:
        raise Unprocessable("malformed_json", context={"position": exc.start}) from None
    except json.JSONDecodeError as exc:
        raise Unprocessable("malformed_json", context={"position": exc.pos}) from None
    except RecursionError:
        raise Unprocessable("malformed_json", context={"position": 0}) from None


class ApiRoute(APIRoute):
    """Every route of the API: strict JSON bodies."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap the handler in the request's unit of work: its session (if it used one) is
        committed after the handler and the `after` hook, before the answer is sent."""
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            begin_unit_of_work(request)
            try:
                await check_json_body(request)
                response = await self.after(request, await handler(request))
            except Exception as exc:
                await end_unit_of_work(request, exc)
                raise
            await end_unit_of_work(request, None)
            return response

        return handle

    async def after(self, request: Request, response: Response) -> Response:
        """Hook run with the answer, before the session commits."""
        return response
