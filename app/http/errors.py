"""Errors as exceptions with a status and a stable code, rendered once as RFC 9457 problem+json."""

import logging
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any, ClassVar

import asyncpg
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError
from python_multipart.exceptions import DecodeError as FormDecodeError
from python_multipart.exceptions import ParseError as FormParseError
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException

from app.db.faults import is_connection_failure
from app.text.messages import Language, listed_values, message, preferred_language, title

logger = logging.getLogger("ainas.errors")

PROBLEM_MEDIA_TYPE = "application/problem+json"
RETRY_AFTER_UNAVAILABLE_SECONDS = 5
MAX_BODY_BYTES = 1024 * 1024
# What the form parsers raise for a body they cannot read: the client's fault, wherever the form is
# read (FastAPI's File/Form parameters, request.form() in a dependency or a route).
UNREADABLE_FORM = (FormParseError, FormDecodeError, MultiPartException)
# A value quoted in pydantic's list of expected values.
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'")


@dataclass(frozen=True, slots=True)
class FieldError:
    """One rejected field: its name, a stable code, the message context and extra members."""

    field: str
    code: str
    context: dict[str, Any] = dataclass_field(default_factory=dict)
    extra: dict[str, Any] = dataclass_field(default_factory=dict)
    fallback: str | None = None

    def render(self, language: Language) -> dict[str, Any]:
        """The entry of the problem's `errors` list."""
        return {
            "field": self.field,
            "code": self.code,
            "message": message(self.code, language, self.context, self.fallback),
            **self.extra,
        }


class ProblemError(Exception):
    """Base of every error the service answers on purpose."""

    status: ClassVar[int] = 400
    default_code: ClassVar[str] = "bad_request"
    # When True the request's database work is committed although the request fails.
    persist_changes: ClassVar[bool] = False
    # RFC 6749 §5.2 `error` for the token endpoint, when this problem answers it.
    oauth_error: str | None = None

    def __init__(
        self,
        code: str | None = None,
        *,
        context: dict[str, Any] | None = None,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        members: dict[str, Any] | None = None,
        persist: bool | None = None,
    ) -> None:
        self.code = code or self.default_code
        self.context = context or {}
        self.errors = errors or []
        self.headers = headers or {}
        self.members = members or {}
        if persist is not None:
            self.persist_changes = persist  # type: ignore[misc]
        super().__init__(self.code)


class Unauthorized(ProblemError):
    """401: missing or bad credentials; tells the client how to authenticate."""

    status = 401
    default_code = "not_authenticated"

    def __init__(self, code: str | None = None, **kwargs: Any) -> None:
        super().__init__(code, **kwargs)
        self.headers.setdefault("WWW-Authenticate", 'Bearer realm="ainas"')


class Forbidden(ProblemError):
    """403."""

    status = 403
    default_code = "forbidden"


class NotFound(ProblemError):
    """404, also for what the caller may not see."""

    status = 404
    default_code = "not_found"


class Conflict(ProblemError):
    """409."""

    status = 409
    default_code = "conflict"


class Gone(ProblemError):
    """410: what the request needs existed once and was removed for good."""

    status = 410
    default_code = "gone"


class PreconditionFailed(ProblemError):
    """412: If-Match names a version that is no longer current."""

    status = 412
    default_code = "precondition_failed"


class PayloadTooLarge(ProblemError):
    """413: a body over its limit (an upload's size or rows; the middleware refuses the rest)."""

    status = 413
    default_code = "payload_too_large"


class UnsupportedMediaType(ProblemError):
    """415: the body is not in a form the endpoint reads (JSON in UTF-8, or a form)."""

    status = 415
    default_code = "json_required"


class Unprocessable(ProblemError):
    """422: the request is well-formed but its content is not acceptable."""

    status = 422
    default_code = "validation_failed"


class TooManyRequests(ProblemError):
    """429 with Retry-After."""

    status = 429
    default_code = "rate_limited"

    def __init__(
        self,
        retry_after: int,
        code: str | None = None,
        *,
        context: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(code, context={**(context or {}), "retry_after": retry_after}, **kwargs)
        self.headers["Retry-After"] = str(retry_after)


class OAuthError(ProblemError):
    """An answer of the token endpoint, with RFC 6749's `error` member (400 unless stated)."""

    def __init__(self, oauth_error: str, code: str, *, status: int = 400, **kwargs: Any) -> None:
        super().__init__(code, **kwargs)
        self.oauth_error = oauth_error
        self.status = status  # type: ignore[misc]
        if status == 401:
            self.headers.setdefault("WWW-Authenticate", 'Basic realm="ainas"')


class ServiceUnavailable(ProblemError):
    """503 with Retry-After."""

    status = 503
    default_code = "service_unavailable"


def field_errors(code: str, *fields: str, **context: Any) -> Unprocessable:
    """A 422 naming the given fields with one code."""
    return Unprocessable(errors=[FieldError(name, code, context) for name in fields])


def problem_response(
    request: Request,
    status: int,
    code: str,
    *,
    context: dict[str, Any] | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    members: dict[str, Any] | None = None,
    oauth_error: str | None = None,
) -> Response:
    """Render one problem in the caller's language."""
    language = preferred_language(request.headers.get("accept-language"))
    body = problem_body(
        status,
        code,
        language,
        context=context,
        errors=errors,
        members=members,
        oauth_error=oauth_error,
        instance=request.url.path,
    )
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    return Response(orjson.dumps(body), status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def problem_body(
    status: int,
    code: str,
    language: Language,
    *,
    context: dict[str, Any] | None = None,
    errors: list[FieldError] | None = None,
    members: dict[str, Any] | None = None,
    oauth_error: str | None = None,
    instance: str | None = None,
) -> dict[str, Any]:
    """The members of one problem in one language (answers, and the OpenAPI document's examples)."""
    body: dict[str, Any] = {
        "type": f"urn:ainas:problem:{code}",
        "title": title(status, language),
        "status": status,
        "detail": message(code, language, context),
        "code": code,
    }
    if instance is not None:
        body["instance"] = instance
    if errors:
        body["errors"] = [error.render(language) for error in errors]
    if members:
        body.update(members)
    if oauth_error:
        body["error"] = oauth_error
        if language == "en":
            # RFC 6749 limits error_description to ASCII: an English answer carries it, a Japanese
            # one does not (its `detail` says it), so that every message is in one language.
            body["error_description"] = message(code, "en", context)
    return body


def _field_name(loc: tuple[int | str, ...]) -> str:
    """`("body", "items", 0, "name")` -> `items[0].name`, without the part saying where (body, query)."""
    parts = list(loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc)
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "body"


def immutable_fields(model: object) -> frozenset[str]:
    """The fields that identify the resource a body model changes, as the model declares them
    (`immutable_fields: ClassVar[frozenset[str]]` on an update schema): sending one is an attempt
    to change it, refused as `immutable_field` rather than as an unknown field."""
    return frozenset(getattr(model, "immutable_fields", ()))


def from_pydantic(error: Mapping[str, Any], immutable: Collection[str] = frozenset()) -> FieldError:
    """Translate one pydantic error into a FieldError, keeping §3.2's character details."""
    context = dict(error.get("ctx") or {})
    field_name = _field_name(tuple(error.get("loc", ())))
    code = str(error.get("type", "validation_failed"))
    if code == "extra_forbidden" and field_name in immutable:
        code = "immutable_field"
    if code in ("too_short", "too_long") and "field_type" in context:
        # pydantic's own length errors of lists: counted in items, not characters.
        code = f"{code}_list"
    extra: dict[str, Any] = {}
    if "invalid_characters" in context:
        extra["invalid_characters"] = context.pop("invalid_characters")
    if code in ("enum", "literal_error") and isinstance(context.get("expected"), str):
        # pydantic writes "'a', 'b' or 'c'": the values are listed anew in the answer's language.
        values = [match.group(1) for match in _QUOTED.finditer(context.pop("expected"))]
        context["expected_ja"] = listed_values(values, "ja")
        context["expected_en"] = listed_values(values, "en")
        extra["allowed"] = values
    context = {key: value for key, value in context.items() if isinstance(value, str | int | float)}
    return FieldError(field_name, code, context, extra, fallback=str(error.get("msg", "")))


def from_validation_error(exc: ValidationError) -> list[FieldError]:
    """The errors of a model validated outside a request body (a CSV row), as a body's would be."""
    return [from_pydantic(dict(error)) for error in exc.errors()]


async def _problem_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    return problem_response(
        request,
        exc.status,
        exc.code,
        context=exc.context,
        errors=exc.errors,
        headers=exc.headers,
        members=exc.members,
        oauth_error=exc.oauth_error,
    )


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    for error in errors:
        if error.get("type") == "json_invalid":
            position = (error.get("loc") or ("body", 0))[-1]
            return problem_response(request, 422, "malformed_json", context={"position": position})
    route = request.scope.get("route")
    body_field = getattr(route, "body_field", None)
    immutable = immutable_fields(body_field.field_info.annotation) if body_field is not None else frozenset()
    return problem_response(
        request, 422, "validation_failed", errors=[from_pydantic(error, immutable) for error in errors]
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    codes = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
    code = codes.get(exc.status_code, "bad_request" if exc.status_code < 500 else "internal_error")
    if exc.status_code == 400 and isinstance(exc.__cause__ or exc.__context__, UNREADABLE_FORM):
        code = "malformed_multipart"  # FastAPI's and Starlette's 400 around a form parser's error
    # The limit that applied to this path (see RequestContextMiddleware).
    context = (
        {"limit": getattr(request.state, "body_limit", MAX_BODY_BYTES)} if exc.status_code == 413 else None
    )
    return problem_response(request, exc.status_code, code, context=context, headers=dict(exc.headers or {}))


async def _unreadable_form(request: Request, exc: Exception) -> Response:
    return problem_response(request, 400, "malformed_multipart")


async def _stale_data(request: Request, exc: Exception) -> Response:
    # The row's version moved between our read and our UPDATE: someone else won the race.
    return problem_response(request, 412, "precondition_failed")


async def _database_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, IntegrityError):
        # A unique or foreign key rule that a service could not see coming (a race): 409.
        logger.warning("integrity error answered as 409: %s", type(exc.orig).__name__)
        return problem_response(request, 409, "conflict")
    if is_connection_failure(exc):
        return await _database_unavailable(request, exc)
    return await _unexpected(request, exc)


async def _database_unavailable(request: Request, exc: Exception) -> Response:
    logger.error("database unavailable: %s", type(exc).__name__)
    return problem_response(
        request,
        503,
        "service_unavailable",
        headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE_SECONDS)},
    )


async def render_unexpected(request: Request, exc: Exception) -> Response:
    """The answer to an error nobody handled: 503 when the database is away, else a bare 500."""
    return await _unexpected(request, exc)


async def _unexpected(request: Request, exc: Exception) -> Response:
    if is_connection_failure(exc):
        # The driver's own error, not wrapped by SQLAlchemy (e.g. asyncpg while the server starts).
        return await _database_unavailable(request, exc)
    logger.error("unhandled error", exc_info=exc)
    return problem_response(request, 500, "internal_error")


def install_error_handlers(app: FastAPI) -> None:
    """Render every error, FastAPI's own included, as problem+json."""
    app.add_exception_handler(ProblemError, _problem_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for unreadable in UNREADABLE_FORM:
        app.add_exception_handler(unreadable, _unreadable_form)
    app.add_exception_handler(StaleDataError, _stale_data)
    app.add_exception_handler(DBAPIError, _database_error)
    # Driver errors that escape SQLAlchemy's wrapping; handled here rather than by the catch-all,
    # which Starlette re-raises to the server after answering.
    app.add_exception_handler(asyncpg.PostgresError, _unexpected)
    app.add_exception_handler(asyncpg.InterfaceError, _unexpected)
    app.add_exception_handler(OSError, _database_unavailable)
    app.add_exception_handler(PoolTimeoutError, _database_unavailable)
    app.add_exception_handler(Exception, _unexpected)
