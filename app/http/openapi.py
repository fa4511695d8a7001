"""The problem+json answers as they appear in the OpenAPI document: each operation's own examples.

Routes declare the problems they answer with `responses=problems(...)`: a status stands for the
problems every operation with that status answers (401: no or a bad token), a ProblemError is one
exact problem of that operation (`Conflict("name_taken", ...)`), and `invalid(Model,
...)` is the answer to a body that breaks one of the model's rules, found by validating it. What
follows from the route itself is added when the document is built: a JSON body can be too large
(413), not JSON or not UTF-8 (415, 422), or break its model (422); a form route wants a form
(415); `If-Match` and `Idempotency-Key` can be malformed (422), a list's paging out of range.
Every example is rendered by the same code that renders answers, so it is true to the service.
"""

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from fastapi import FastAPI, params
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_flat_dependant
from fastapi.encoders import jsonable_encoder
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from fastapi.security.base import SecurityBase
from pydantic import BaseModel, Field, ValidationError

from app.http.errors import (
    MAX_BODY_BYTES,
    PROBLEM_MEDIA_TYPE,
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    ProblemError,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    Unprocessable,
    UnsupportedMediaType,
    from_pydantic,
    immutable_fields,
    problem_body,
)
from app.http.pagination import MAX_LIMIT


class InvalidCharacterDetail(BaseModel):
    """One offending character of a rejected text (SPEC §3.2)."""

    position: int = Field(title="位置", description="Position from 0 in the normalized, trimmed value")
    character: str = Field(title="文字", description="The offending character")
    code_point: str = Field(title="コードポイント", description="Written like `U+FF71`")
    suggestion: str | None = Field(
        title="置き換える文字",
        description='The character to use instead (`""`: delete it), when there is one',
    )


class FieldProblem(BaseModel):
    """One rejected field."""

    field: str | None = Field(
        title="項目", description="The field; null where the error is of a whole CSV row or file"
    )
    code: str = Field(title="エラーコード", description="Stable code of the rule the field breaks")
    message: str = Field(title="メッセージ", description="What is wrong, in the language asked for")
    invalid_characters: list[InvalidCharacterDetail] | None = Field(
        default=None, title="使用できない文字", description="Each offending character (SPEC §3.2)"
    )
    allowed: list[str] | None = Field(
        default=None, title="使用できる値", description="The values allowed, when they are few"
    )


class Problem(BaseModel):
    """RFC 9457 problem details, with a stable `code` (and RFC 6749 members on the token endpoint)."""

    type: str = Field(title="種類", description="`urn:ainas:problem:` and the code")
    title: str = Field(title="見出し", description="Short, the same for every problem of a status")
    status: int = Field(title="ステータスコード", description="The HTTP status")
    detail: str = Field(title="詳細", description="What happened and what to do, in the language asked for")
    code: str = Field(title="エラーコード", description="Stable code; see each operation's examples")
    instance: str | None = Field(default=None, title="発生箇所", description="The request's path")
    request_id: str | None = Field(
        default=None, title="リクエストID", description="The answer's `X-Request-ID`, for the logs"
    )
    errors: list[FieldProblem] | None = Field(
        default=None, title="項目ごとのエラー", description="Each rejected field (422)"
    )
    error: str | None = Field(
        default=None, title="OAuthエラーコード", description="RFC 6749 error code (token endpoint only)"
    )
    error_description: str | None = Field(
        default=None, title="OAuthエラーの説明", description="RFC 6749, ASCII only: in English answers only"
    )


# What a status means in the document; the application may say it of its own operations
# (install_openapi's `descriptions`).
_DESCRIPTIONS = {
    400: "Bad request",
    401: "Missing, invalid or expired credentials",
    403: "Not allowed for this caller, or the password must be changed first",
    404: "Not found, or not visible to this caller",
    409: "Conflict with existing data, or the same Idempotency-Key still in progress",
    410: "Gone: what the request needs was removed for good",
    412: "If-Match names an outdated version",
    413: "Request body over 1 MiB",
    415: "Unsupported media type: the operation names the one it takes",
    422: "Validation failed; each field's error is listed",
    429: "Too many attempts; see Retry-After",
    503: "Database unavailable, or too many password checks at once; see Retry-After",
}

# Headers of problem answers that the document describes, wherever an example carries them.
_HEADERS: dict[str, dict[str, Any]] = {
    "Retry-After": {
        "description": "Seconds to wait before asking again",
        "schema": {"type": "integer", "minimum": 1},
    },
}

# What a status alone stands for: the problems every operation that answers it can answer.
_COMMON: dict[int, Callable[[], list[ProblemError]]] = {
    401: lambda: [Unauthorized("not_authenticated"), Unauthorized("invalid_token")],
    403: lambda: [Forbidden()],
    404: lambda: [NotFound()],
    409: lambda: [Conflict()],
    412: lambda: [PreconditionFailed()],
    429: lambda: [TooManyRequests(60)],
    503: lambda: [ServiceUnavailable("service_unavailable")],
}

# Kept on the responses of a route until the document is built (see `_examples`).
_DECLARED = "x-ainas-problems"


CallT = TypeVar("CallT", bound=Callable[..., Any])


def raises(*problems: ProblemError) -> Callable[[CallT], CallT]:
    """Declare the problems a dependency answers: every operation that depends on it documents
    them (an authenticating dependency: 401; an If-Match reader: 412 and 422)."""

    def declare(call: CallT) -> CallT:
        call.__problems__ = problems  # type: ignore[attr-defined]
        return call

    return declare


def invalid(model: type[BaseModel], **values: Any) -> Unprocessable:
    """The 422 of a body that breaks the model's rules: `values` validated as the model."""
    try:
        model.model_validate(values)
    except ValidationError as exc:
        immutable = immutable_fields(model)
        errors = [
            from_pydantic({**error, "loc": ("body", *error["loc"])}, immutable) for error in exc.errors()
        ]
        return Unprocessable(errors=errors)
    raise ValueError(f"{values} is a valid {model.__name__}: not an example of a refusal")


def problems(*declared: int | ProblemError) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for the statuses and problems an operation answers (see the module's
    docstring), plus 503 and 422 (kept when the operation has something to validate); all as
    problem+json, in place of FastAPI's default 422 document."""
    by_status: dict[int, list[ProblemError]] = {422: [], 503: [ServiceUnavailable("service_unavailable")]}
    for item in declared:
        if isinstance(item, int):
            by_status.setdefault(item, []).extend(_COMMON.get(item, list)())
        else:
            by_status.setdefault(item.status, []).append(item)
    return {
        status: {
            "model": Problem,
            "description": _DESCRIPTIONS[status],
            "content": {PROBLEM_MEDIA_TYPE: {}},
            _DECLARED: given,
        }
        for status, given in sorted(by_status.items())
    }


def install_openapi(
    app: FastAPI,
    *,
    authenticate: Callable[..., Any],
    security_schemes: Sequence[SecurityBase],
    descriptions: Mapping[int, str] | None = None,
) -> None:
    """Serve an OpenAPI document whose error answers are described as what they are:
    `application/problem+json` with the Problem schema (FastAPI would file the schema under
    application/json) and examples of that operation's own problems, and whose operations that
    depend on `authenticate` name the security schemes it accepts. `descriptions` say what a
    status means in this application, in place of the generic ones."""
    described = {**_DESCRIPTIONS, **(descriptions or {})}

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            declared = _take_declared(app)
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            for route in app.routes:
                if isinstance(route, APIRoute) and route.include_in_schema:
                    for method in route.methods:
                        operation = schema["paths"][route.path_format].get(method.lower())
                        if operation is not None:
                            _document_problems(operation, route, declared.get(id(route), {}), described)
            _document_security(schema, app, authenticate, security_schemes)
            app.openapi_schema = _name_generic_schemas(schema)
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]


def _take_declared(app: FastAPI) -> dict[int, dict[int, list[ProblemError]]]:
    """The problems each route declared, taken off its responses (FastAPI would print them).

    The app's routes get responses of their own without them: the inner dicts are shared with
    the module-level routers (and so with every other app built from them), and stay as they are.
    """
    found: dict[int, dict[int, list[ProblemError]]] = {}
    for route in app.routes:
        if isinstance(route, APIRoute):
            found[id(route)] = {
                int(status): answer[_DECLARED]
                for status, answer in route.responses.items()
                if _DECLARED in answer
            }
            route.responses = {
                status: {key: value for key, value in answer.items() if key != _DECLARED}
                for status, answer in route.responses.items()
            }
    return found


def _document_problems(
    operation: dict[str, Any],
    route: APIRoute,
    declared: dict[int, list[ProblemError]],
    descriptions: Mapping[int, str],
) -> None:
    examples = {status: list(given) for status, given in declared.items()}
    for status, derived in _derived(route).items():
        examples.setdefault(status, []).extend(derived)
    responses = operation.setdefault("responses", {})
    for status, given in sorted(examples.items()):
        shown = list({_name(problem): problem for problem in given}.values())
        if not shown:
            # Declared for every operation (422, so that FastAPI adds no document of its own),
            # but nothing about this one can cause it.
            responses.pop(str(status), None)
            continue
        answer = responses.setdefault(str(status), {"description": _DESCRIPTIONS[status]})
        if answer["description"] == _DESCRIPTIONS[status]:  # not the operation's own
            answer["description"] = descriptions[status]
        answer["content"] = {
            PROBLEM_MEDIA_TYPE: {
                "schema": _declared_schema(answer),
                "examples": {_name(problem): _example(problem) for problem in shown},
            }
        }
        sent = sorted({name for problem in shown for name in problem.headers if name in _HEADERS})
        if sent:
            answer["headers"] = {name: _HEADERS[name] for name in sent}
    for status, answer in responses.items():
        if status[:1] in "45" and "application/json" in answer.get("content", {}):
            answer["content"] = {PROBLEM_MEDIA_TYPE: {"schema": _declared_schema(answer)}}


def _declared_schema(answer: dict[str, Any]) -> dict[str, Any]:
    """The schema of a problem answer: the model the route declared for it (a subclass of
    Problem, e.g. the CSV problem with its rows), which FastAPI files under application/json,
    else Problem."""
    for content in answer.get("content", {}).values():
        if "schema" in content:
            return dict(content["schema"])
    return {"$ref": "#/components/schemas/Problem"}


def _derived(route: APIRoute) -> dict[int, list[ProblemError]]:
    """The problems that follow from the route's own parameters and body."""
    found: dict[int, list[ProblemError]] = {}
    flat = get_flat_dependant(route.dependant, skip_repeats=True)
    queries: set[str] = set()
    for param in flat.query_params:
        annotation = param.field_info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):  # a query model
            queries.update(annotation.model_fields)
        else:
            queries.add(param.alias)
    paths = flat.path_params
    values: list[FieldError] = []  # a malformed parameter: each its own answer
    for dependant in _dependants(route.dependant):
        for problem in getattr(dependant.call, "__problems__", ()):
            found.setdefault(problem.status, []).append(problem)
    if route.body_field is not None:
        found[413] = [PayloadTooLarge(context={"limit": MAX_BODY_BYTES})]  # as the middleware answers
        if _is_form(route):
            multipart = getattr(route.body_field.field_info, "media_type", "") == "multipart/form-data"
            code = "multipart_required" if multipart else "form_required"
            found[415] = [UnsupportedMediaType(code, context={"media_type": "application/json"})]
            if multipart:  # a body its parser cannot read (app/http/errors.py)
                found[400] = [ProblemError("malformed_multipart")]
        else:
            found[415] = [
                UnsupportedMediaType(
                    "json_required", context={"media_type": "application/x-www-form-urlencoded"}
                ),
                UnsupportedMediaType("body_not_utf8", context={"position": 12}),
            ]
            found.setdefault(422, []).append(Unprocessable("malformed_json", context={"position": 12}))
            found[422].append(Unprocessable("body_not_object"))
            model = route.body_field.field_info.annotation
            if isinstance(model, type) and issubclass(model, BaseModel):
                found[422].append(invalid(model, unexpected_field=True))
    if "limit" in queries:
        values.append(FieldError("limit", "less_than_equal", {"le": MAX_LIMIT}))
    if "sort" in queries:
        values.append(FieldError("sort", "string_too_long", {"max_length": 40}))
    longest = [(param.alias, _max_length(param)) for param in paths]
    for alias, limit in longest:
        if not values and limit is not None and 422 not in found:
            values.append(FieldError(alias, "string_too_long", {"max_length": limit}))
    found.setdefault(422, [])[:0] = [Unprocessable(errors=[value]) for value in values]
    return found


def _max_length(param: Any) -> int | None:
    """A parameter's declared maximum length (`Path(max_length=...)`), if any."""
    limits = [getattr(item, "max_length", None) for item in param.field_info.metadata]
    return next((limit for limit in limits if isinstance(limit, int)), None)


def _dependants(dependant: Dependant) -> list[Dependant]:
    """The dependant and every dependency under it, each call once (FastAPI runs it once)."""
    found: dict[int, Dependant] = {}
    pending = [dependant]
    while pending:
        current = pending.pop(0)
        if id(current.call) not in found:
            found[id(current.call)] = current
            pending.extend(current.dependencies)
    return list(found.values())


def _is_form(route: APIRoute) -> bool:
    return route.body_field is not None and isinstance(route.body_field.field_info, params.Form)


def _name(problem: ProblemError) -> str:
    if problem.errors:
        return f"{problem.code}: " + ", ".join(f"{error.field} {error.code}" for error in problem.errors)
    return problem.code


def _example(problem: ProblemError) -> dict[str, Any]:
    return {
        "summary": _name(problem),
        "value": problem_body(
            problem.status,
            problem.code,
            "ja",
            context=problem.context,
            errors=problem.errors,
            members=problem.members,
            oauth_error=problem.oauth_error,
        ),
    }


def _name_generic_schemas(schema: dict[str, Any]) -> dict[str, Any]:
    """File generic models under their own title (`ItemPage`, see Page.model_parametrized_name)
    instead of pydantic's reference name (`Page_Item_`), and point every `$ref` there."""
    components = schema.get("components", {}).get("schemas", {})
    renamed = {
        name: definition["title"]
        for name, definition in components.items()
        if name.endswith("_") and "title" in definition and definition["title"] not in components
    }
    if not renamed:
        return schema
    text = json.dumps(schema)
    for old, new in renamed.items():
        text = text.replace(f'"#/components/schemas/{old}"', f'"#/components/schemas/{new}"')
    document: dict[str, Any] = json.loads(text)
    document["components"]["schemas"] = {
        renamed.get(name, name): definition for name, definition in document["components"]["schemas"].items()
    }
    return document


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
