"""The route class of every API route: strict JSON bodies, and the request's unit of work."""

import json
from collections.abc import Callable, Coroutine
from enum import Enum
from typing import Any, ClassVar

from fastapi import Request, Response, params
from fastapi.routing import APIRoute

from app.core.db import begin_unit_of_work, end_unit_of_work
from app.core.errors import ProblemError, Unprocessable, UnsupportedMediaType

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json.loads hook: a member named twice is ambiguous (parsers disagree on which wins)."""
    members: dict[str, Any] = {}
    for name, value in pairs:
        if name in members:
            raise Unprocessable("duplicate_member", context={"name": name[:64]})
        members[name] = value
    return members


class BodyKind(Enum):
    """What a route's request body is: none, a JSON document, or form fields."""

    NONE = "none"
    JSON = "json"
    FORM = "form"


def body_kind(body_field: Any) -> BodyKind:
    """The kind of body a route declares (FastAPI's body field: Form and File are forms)."""
    if body_field is None:
        return BodyKind.NONE
    return BodyKind.FORM if isinstance(body_field.field_info, params.Form) else BodyKind.JSON


def _media_type(content_type: str) -> str:
    return content_type.partition(";")[0].strip().lower()


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


_FORM_MEDIA_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


async def check_body(request: Request, kind: BodyKind) -> None:
    """Refuse a body the route cannot read, with a message that says what to send, before FastAPI
    reads it: another media type (415), a JSON body that is not UTF-8 (415), not JSON, or names a
    member twice (422). An empty body is left to the route (an optional body may be left out).

    The body is cached on the request, so FastAPI's own parsing does not read it again.
    """
    if kind is BodyKind.NONE or request.method not in _BODY_METHODS:
        return
    content_type = request.headers.get("content-type")
    body = await request.body()
    if not body:
        return
    media_type = _media_type(content_type) if content_type is not None else None
    if kind is BodyKind.FORM:
        if media_type is not None and media_type not in _FORM_MEDIA_TYPES:
            raise UnsupportedMediaType("form_required", context={"media_type": media_type[:80]})
        return
    # FastAPI reads a body without a Content-Type as JSON too.
    if media_type is not None and not _is_json(media_type):
        raise UnsupportedMediaType("json_required", context={"media_type": media_type[:80]})
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnsupportedMediaType("body_not_utf8", context={"position": exc.start}) from None
    try:
        json.loads(text, object_pairs_hook=_refuse_duplicates)
    except json.JSONDecodeError as exc:
        raise Unprocessable("malformed_json", context={"position": exc.pos}) from None
    except RecursionError:
        raise Unprocessable("malformed_json", context={"position": 0}) from None


class ApiRoute(APIRoute):
    """Every route of the API: strict JSON bodies."""

    # RFC 6749's `error` for a refused body, on the routes of an OAuth 2.0 endpoint.
    body_oauth_error: ClassVar[str | None] = None

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        self.body_kind = body_kind(self.body_field)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap the handler in the request's unit of work: its session (if it used one) is
        committed after the handler and the `after` hook, before the answer is sent."""
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            begin_unit_of_work(request)
            try:
                await self.check_body(request)
                response = await self.after(request, await handler(request))
            except Exception as exc:
                await end_unit_of_work(request, exc)
                raise
            await end_unit_of_work(request, None)
            return response

        return handle

    async def check_body(self, request: Request) -> None:
        """Refuse a body this route cannot read (see `check_body`)."""
        try:
            await check_body(request, self.body_kind)
        except ProblemError as exc:
            exc.oauth_error = exc.oauth_error or self.body_oauth_error
            raise

    async def after(self, request: Request, response: Response) -> Response:
        """Hook run with the answer, before the session commits."""
        return response


class OAuthRoute(ApiRoute):
    """The routes of an OAuth 2.0 endpoint (RFC 6749): a refused body is an `invalid_request`."""

    body_oauth_error = "invalid_request"
