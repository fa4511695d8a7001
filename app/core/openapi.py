"""The problem+json shapes as they appear in the OpenAPI document, and the `responses=` helper."""

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.encoders import jsonable_encoder
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from fastapi.security.base import SecurityBase
from pydantic import BaseModel, Field

from app.core.errors import PROBLEM_MEDIA_TYPE


class InvalidCharacterDetail(BaseModel):
    """One offending character of a rejected text (SPEC §3.2)."""

    position: int = Field(description="Position from 0 in the normalized, trimmed value")
    character: str
    code_point: str = Field(examples=["U+FF71"])
    suggestion: str | None = Field(description="The character to use instead, when there is one")


class FieldProblem(BaseModel):
    """One rejected field."""

    field: str = Field(examples=["name"])
    code: str = Field(examples=["not_full_width"])
    message: str
    invalid_characters: list[InvalidCharacterDetail] | None = None


class Problem(BaseModel):
    """RFC 9457 problem details, with a stable `code` (and RFC 6749 members on the token endpoint)."""

    type: str = Field(examples=["urn:ainas:problem:not_found"])
    title: str
    status: int
    detail: str
    code: str = Field(examples=["not_found"])
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldProblem] | None = None
    error: str | None = Field(default=None, description="RFC 6749 error code (token endpoint only)")
    error_description: str | None = None


_DESCRIPTIONS = {
    400: "Bad request (token endpoint: RFC 6749 error; change feed: invalid_cursor)",
    401: "Missing, invalid or expired credentials",
    403: "Not allowed for this caller, or the password must be changed first",
    404: "Not found, or not visible to this caller",
    409: "Conflict with existing data, or the same Idempotency-Key still in progress",
    410: "The cursor needs changes older than the retention period (cursor_expired): list again, then follow",
    412: "If-Match names an outdated version",
    413: "Request body over 1 MiB",
    415: "Unsupported media type: the operation names the one it takes",
    422: "Validation failed; each field's error is listed",
    429: "Too many attempts; see Retry-After",
    503: "Database unavailable, or too many password checks at once; see Retry-After",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for these statuses, plus 422 (any header, query or body can be
    malformed) and 503, all as problem+json; they replace FastAPI's default 422 document."""
    return {
        status: {
            "model": Problem,
            "description": _DESCRIPTIONS[status],
            "content": {PROBLEM_MEDIA_TYPE: {}},
        }
        for status in sorted({*statuses, 422, 503})
    }


def install_openapi(
    app: FastAPI, *, authenticate: Callable[..., Any], security_schemes: Sequence[SecurityBase]
) -> None:
    """Serve an OpenAPI document whose error answers are described as what they are:
    `application/problem+json` with the Problem schema (FastAPI would file the schema under
    application/json), and whose operations that depend on `authenticate` name the security
    schemes it accepts."""

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    for answer in operation.get("responses", {}).values():
                        content = answer.get("content", {})
                        if PROBLEM_MEDIA_TYPE in content and "application/json" in content:
                            content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")
            _document_security(schema, app, authenticate, security_schemes)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]


def _document_security(
    schema: dict[str, Any], app: FastAPI, authenticate: Callable[..., Any], schemes: Sequence[SecurityBase]
) -> None:
    """Name the schemes on each operation that authenticates, as FastAPI does for security
    dependencies, and describe them under components."""
    requirement: list[dict[str, list[str]]] = [{scheme.scheme_name: []} for scheme in schemes]
    for route in app.routes:
        if not isinstance(route, APIRoute) or not _depends_on(route.dependant, authenticate):
            continue
        for method in route.methods:
            operation = schema["paths"].get(route.path_format, {}).get(method.lower())
            if operation is not None:
                operation["security"] = requirement
    schema.setdefault("components", {})["securitySchemes"] = {
        scheme.scheme_name: jsonable_encoder(scheme.model, by_alias=True, exclude_none=True)
        for scheme in schemes
    }


def _depends_on(dependant: Dependant, call: Callable[..., Any]) -> bool:
    return dependant.call is call or any(_depends_on(sub, call) for sub in dependant.dependencies)
