"""The route class of every API route: strict JSON bodies, and the request's unit of work."""

import json
from collections.abc import Callable, Coroutine
from enum import Enum
from typing import Any, ClassVar

from fastapi import Request, Response, params
from fastapi.dependencies.utils import get_parameterless_sub_dependant
from fastapi.routing import APIRoute

from app.db.session import begin_unit_of_work, end_unit_of_work
from app.http.errors import ProblemError, Unprocessable, UnsupportedMediaType
from app.http.handler import planned_handler

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
    FORM = "form"  # urlencoded (multipart is read too)
    MULTIPART = "multipart"  # files: multipart/form-data only


def body_kind(body_field: Any) -> BodyKind:
    """The kind of body a route declares (FastAPI's body field: Form and File are forms)."""
    if body_field is None:
        return BodyKind.NONE
    info = body_field.field_info
    if not isinstance(info, params.Form):
        return BodyKind.JSON
    return BodyKind.MULTIPART if getattr(info, "media_type", "") == "multipart/form-data" else BodyKind.FORM


def _media_type(content_type: str) -> str:
    return content_type.partition(";")[0].strip().lower()


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


_FORM_MEDIA_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def media_type_problem(request: Request, kind: BodyKind) -> ProblemError | None:
    """415 for a body in another media type than the route reads, saying what to send; None when
    the route reads it (or there is no body: an optional body may be left out)."""
    if kind is BodyKind.NONE or request.method not in _BODY_METHODS:
        return None
    content_type = request.headers.get("content-type")
    media_type = _media_type(content_type) if content_type is not None else None
    shown = {"media_type": (media_type or "")[:80]}
    if kind is BodyKind.MULTIPART and media_type != "multipart/form-data":
        return UnsupportedMediaType("multipart_required", context=shown)
    if kind is BodyKind.FORM and media_type is not None and media_type not in _FORM_MEDIA_TYPES:
        return UnsupportedMediaType("form_required", context=shown)
    # FastAPI reads a body without a Content-Type as JSON too.
    if kind is BodyKind.JSON and media_type is not None and not _is_json(media_type):
        return UnsupportedMediaType("json_required", context=shown)
    return None


async def check_json_text(request: Request, kind: BodyKind) -> None:
    """Refuse a JSON body that is not UTF-8 (415), not JSON, or names a member twice (422), before
    FastAPI reads it. The body is cached on the request: FastAPI does not read it again."""
    if kind is not BodyKind.JSON or request.method not in _BODY_METHODS:
        return
    content_type = request.headers.get("content-type")
    if content_type is not None and not _is_json(_media_type(content_type)):
        return  # another media type: refused after authentication (see ApiRoute)
    body = await request.body()
    if not body:
        return
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnsupportedMediaType("body_not_utf8", context={"position": exc.start}) from None
    try:
        value = json.loads(text, object_pairs_hook=_refuse_duplicates)
    except json.JSONDecodeError as exc:
        raise Unprocessable("malformed_json", context={"position": exc.pos}) from None
    except RecursionError:
        raise Unprocessable("malformed_json", context={"position": 0}) from None
    if value is None:
        # Every body is an object; `null` would otherwise read as "no body" where one may be left out.
        raise Unprocessable("body_not_object")


class ApiRoute(APIRoute):
    """Every route of the API: strict JSON bodies."""

    # RFC 6749's `error` for a refused body, on the routes of an OAuth 2.0 endpoint.
    body_oauth_error: ClassVar[str | None] = None

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap the handler in the request's unit of work: its session (if it used one) is
        committed after the handler and the `after` hook, before the answer is sent.

        Called once, at the end of FastAPI's `__init__`, when the route's dependant is known:
        the media type's check is added to it here, before its dependencies are planned."""
        self.body_kind = body_kind(self.body_field)
        if self.body_kind is not BodyKind.NONE:
            # The last dependency: a caller who is not authenticated (or may not do this) hears
            # that first, and only a caller who may hears which media type to send.
            self.dependant.dependencies.append(
                get_parameterless_sub_dependant(
                    depends=params.Depends(self._refuse_media_type), path=self.path_format
                )
            )
        handler = planned_handler(self, super().get_route_handler())

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
        """Refuse a JSON text that cannot be read (see `check_json_text`)."""
        try:
            await check_json_text(request, self.body_kind)
        except ProblemError as exc:
            exc.oauth_error = exc.oauth_error or self.body_oauth_error
            raise

    async def _refuse_media_type(self, request: Request) -> None:
        problem = media_type_problem(request, self.body_kind)
        if problem is not None:
            problem.oauth_error = problem.oauth_error or self.body_oauth_error
            raise problem

    async def after(self, request: Request, response: Response) -> Response:
        """Hook run with the answer, before the session commits."""
        return response


class OAuthRoute(ApiRoute):
    """The routes of an OAuth 2.0 endpoint (RFC 6749): a refused body is an `invalid_request`."""

    body_oauth_error = "invalid_request"
