"""The request handler of every API route: FastAPI's, with its dependencies solved by a plan.

FastAPI solves a route's dependencies anew on every request, and most of that work depends on
the route only: which sub-dependencies it has (a cached one is walked again wherever it occurs),
which parameters each reads, whether each parameter is a sequence, its alias, its default. On the
hottest list that was about a tenth of the service's CPU (docs/performance.md). `planned_handler`
does that once, when the route is built, and answers with its plan exactly as FastAPI's
`get_request_handler` answers: the same dependencies called in the same order and at most once
each where cached, the same values, the same validation errors in the same order (a dependency
whose own parameters or sub-dependencies fail is not called, and the errors are raised together
after every dependency that could be called was), the body read as FastAPI reads it and checked
by its own functions, and an endpoint's return value serialized by its own `serialize_response`.

A route whose dependencies need what the plan does not do (a dependency with `yield`, a
`SecurityScopes` parameter, a WebSocket) keeps FastAPI's handler; so does every request while
dependency overrides are set (`app.dependency_overrides`, which tests of other projects use and
ours do not). The plan is made from the route's dependant as it is when `get_route_handler` runs
(the end of the route's `__init__`): a dependency added to it later would reach FastAPI's
handler only, so the route class adds its own there (app/http/routing.py).

THE ONE MODULE OF FASTAPI'S PRIVATE API: the validation of one value as FastAPI does it
(`_validate_value_with_model_field`), the fields of a parameter model, and what makes a parameter
a sequence. Written for FastAPI PINNED_FASTAPI; tests/kernel/test_handler.py fails when the
installed release differs (check the functions below against the new `request_params_to_args`,
`solve_dependencies` and `get_request_handler`, then move the pin).
"""

import email.message
import json
from collections.abc import Callable, Coroutine, Mapping
from copy import deepcopy
from dataclasses import dataclass
from typing import Any

from fastapi import params
from fastapi._compat import ModelField, field_annotation_is_sequence
from fastapi._compat.v2 import get_cached_model_fields
from fastapi.background import BackgroundTasks
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import _validate_value_with_model_field, request_body_to_args
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, _extract_endpoint_context, serialize_response
from fastapi.utils import is_body_allowed_for_status_code
from pydantic import BaseModel, Json
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, ImmutableMultiDict
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

# The FastAPI release whose private API and request handling this module follows (see above).
PINNED_FASTAPI = "0.128.8"

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
_SOURCES = ("path", "query", "header", "cookie")


@dataclass(frozen=True, slots=True)
class _Value:
    """One value a parameter reads from its source: everything FastAPI's `_get_multidict_value`
    asks of the field on every request, asked once."""

    field: ModelField
    alias: str
    many: bool  # read with getlist (a sequence, not JSON)
    sequence: bool  # an empty one counts as absent
    form: bool  # an empty string counts as absent
    required: bool

    @classmethod
    def of(cls, field: ModelField, alias: str | None = None) -> "_Value":
        sequence = field_annotation_is_sequence(field.field_info.annotation)
        is_json = any(type(item) is Json for item in field.field_info.metadata)
        return cls(
            field=field,
            alias=alias or field.validation_alias or field.alias,
            many=sequence and not is_json,
            sequence=sequence,
            form=isinstance(field.field_info, params.Form),
            required=field.field_info.is_required(),
        )

    def read(self, received: Any) -> Any:
        """The value as FastAPI reads it: None when absent and required, else the default."""
        if self.many and isinstance(received, ImmutableMultiDict | Headers):
            value = received.getlist(self.alias)
        else:
            value = received.get(self.alias, None)
        if (
            value is None
            or (self.form and isinstance(value, str) and value == "")
            or (self.sequence and len(value) == 0)
        ):
            return None if self.required else deepcopy(self.field.default)
        return value


@dataclass(frozen=True, slots=True)
class _Source:
    """The parameters a dependant reads from one source (path, query, header or cookie)."""

    kind: str
    fields: tuple[ModelField, ...]
    values: tuple[_Value, ...]
    model: bool  # one parameter that is a model: its fields are read, then the model validated

    @classmethod
    def of(cls, kind: str, fields: list[ModelField]) -> "_Source":
        first = fields[0]
        annotation = first.field_info.annotation
        if len(fields) == 1 and isinstance(annotation, type) and issubclass(annotation, BaseModel):
            convert = getattr(first.field_info, "convert_underscores", True)
            members = []
            for member in get_cached_model_fields(annotation):
                alias = None
                if kind == "header" and getattr(member.field_info, "convert_underscores", convert):
                    validation = member.validation_alias or member.alias
                    alias = validation.replace("_", "-") if validation == member.name else validation
                members.append(_Value.of(member, alias))
            return cls(kind, tuple(fields), tuple(members), True)
        return cls(kind, tuple(fields), tuple(_Value.of(field) for field in fields), False)

    def read(self, received: Any, values: dict[str, Any], errors: list[Any]) -> None:
        """Put the parameters' values in `values`, or their errors in `errors`."""
        if self.model:
            self._read_model(received, values, errors)
            return
        for value in self.values:
            found, problems = _validate_value_with_model_field(
                field=value.field, value=value.read(received), values=values, loc=(self.kind, value.alias)
            )
            if problems:
                errors.extend(problems)
            else:
                values[value.field.name] = found

    def _read_model(self, received: Any, values: dict[str, Any], errors: list[Any]) -> None:
        given: dict[str, Any] = {}
        read = set()
        for member in self.values:
            value = member.read(received)
            if value is not None:
                given[member.field.validation_alias or member.field.alias] = value
            read.add(member.alias)
        for key in received:
            if key not in read:
                if hasattr(received, "getlist"):
                    listed = received.getlist(key)
                    given[key] = listed[0] if isinstance(listed, list) and len(listed) == 1 else listed
                else:
                    given[key] = received.get(key)
        field = self.fields[0]
        found, problems = _validate_value_with_model_field(
            field=field, value=given, values=values, loc=(self.kind,)
        )
        errors.extend(problems)
        # FastAPI's request_params_to_args answers the model even when it failed (as None).
        values[field.name] = found


def _received(request: Request, kind: str) -> Mapping[str, Any]:
    if kind == "path":
        return request.path_params
    if kind == "query":
        return request.query_params
    if kind == "header":
        return request.headers
    return request.cookies


@dataclass(frozen=True, slots=True)
class _Step:
    """A dependant (a dependency or the endpoint) with what it reads, planned."""

    dependant: Dependant
    subs: tuple["_Step", ...]
    sources: tuple[_Source, ...]
    coroutine: bool

    @classmethod
    def of(cls, dependant: Dependant) -> "_Step | None":
        """The plan of `dependant`, or None when it needs what the plan does not do."""
        if (
            dependant.is_gen_callable
            or dependant.is_async_gen_callable
            or dependant.websocket_param_name
            or dependant.security_scopes_param_name
        ):
            return None
        subs = []
        for sub in dependant.dependencies:
            step = cls.of(sub)
            if step is None:
                return None
            subs.append(step)
        sources = tuple(
            _Source.of(kind, fields)
            for kind, fields in zip(
                _SOURCES,
                (
                    dependant.path_params,
                    dependant.query_params,
                    dependant.header_params,
                    dependant.cookie_params,
                ),
                strict=True,
            )
            if fields
        )
        return cls(dependant, tuple(subs), sources, dependant.is_coroutine_callable)

    async def solve(self, solving: "_Solving") -> tuple[dict[str, Any], list[Any]]:
        """The values to call this dependant with, and the errors (`solve_dependencies`)."""
        values: dict[str, Any] = {}
        errors: list[Any] = []
        cache = solving.cache
        for sub in self.subs:
            dependant = sub.dependant
            sub_values, sub_errors = await sub.solve(solving)
            if sub_errors:
                errors.extend(sub_errors)
                continue
            key = dependant.cache_key
            if dependant.use_cache and key in cache:
                solved = cache[key]
            elif sub.coroutine:
                solved = await dependant.call(**sub_values)  # type: ignore[misc]
            else:
                solved = await run_in_threadpool(dependant.call, **sub_values)  # type: ignore[arg-type]
            if dependant.name is not None:
                values[dependant.name] = solved
            if key not in cache:
                cache[key] = solved
        request = solving.request
        for source in self.sources:
            source.read(_received(request, source.kind), values, errors)
        dependant = self.dependant
        if dependant.body_params:
            body_values, body_errors = await request_body_to_args(
                body_fields=dependant.body_params, received_body=solving.body, embed_body_fields=solving.embed
            )
            values.update(body_values)
            errors.extend(body_errors)
        if dependant.http_connection_param_name:
            values[dependant.http_connection_param_name] = request
        if dependant.request_param_name:
            values[dependant.request_param_name] = request
        if dependant.background_tasks_param_name:
            if solving.background_tasks is None:
                solving.background_tasks = BackgroundTasks()
            values[dependant.background_tasks_param_name] = solving.background_tasks
        if dependant.response_param_name:
            values[dependant.response_param_name] = solving.response
        return values, errors


class _Solving:
    """What one request's solving shares: the request, its body, the cache of solved
    dependencies, the background tasks and the response that dependencies may set headers on."""

    __slots__ = ("background_tasks", "body", "cache", "embed", "request", "response")

    def __init__(self, request: Request, body: Any, embed: bool) -> None:
        self.request = request
        self.body = body
        self.embed = embed
        self.cache: dict[Any, Any] = {}
        self.background_tasks: BackgroundTasks | None = None
        response = Response()
        del response.headers["content-length"]
        response.status_code = None  # type: ignore[assignment]
        self.response = response


async def _read_body(request: Request, form: bool) -> Any:
    """The body as FastAPI's handler reads it: form data, JSON, or the bytes of another type."""
    try:
        if form:
            body = await request.form()
            stack = request.scope.get("fastapi_middleware_astack")
            if stack is not None:
                stack.push_async_callback(body.close)
            return body
        body_bytes = await request.body()
        if not body_bytes:
            return None
        content_type = request.headers.get("content-type")
        if not content_type:
            return await request.json()
        message = email.message.Message()
        message["content-type"] = content_type
        if message.get_content_maintype() == "application":
            subtype = message.get_content_subtype()
            if subtype == "json" or subtype.endswith("+json"):
                return await request.json()
        return body_bytes
    except json.JSONDecodeError as exc:
        error = {
            "type": "json_invalid",
            "loc": ("body", exc.pos),
            "msg": "JSON decode error",
            "input": {},
            "ctx": {"error": exc.msg},
        }
        raise RequestValidationError([error], body=exc.doc) from exc
    except HTTPException:
        raise
    except Exception as exc:
        raise HTTPException(status_code=400, detail="There was an error parsing the body") from exc


def plannable(route: APIRoute) -> bool:
    """Whether `planned_handler` plans the route (else it keeps FastAPI's handler)."""
    return _Step.of(route.dependant) is not None


def planned_handler(route: APIRoute, fallback: Handler) -> Handler:
    """The route's handler with its dependencies planned, or `fallback` (FastAPI's) where the plan
    does not apply."""
    plan = _Step.of(route.dependant)
    if plan is None:
        return fallback
    endpoint = plan.dependant
    call: Callable[..., Any] = endpoint.call  # type: ignore[assignment]
    body_field = route.body_field
    form = body_field is not None and isinstance(body_field.field_info, params.Form)
    embed = route._embed_body_fields  # what FastAPI gives its handler
    overrides = route.dependency_overrides_provider
    response_class = route.response_class
    if isinstance(response_class, DefaultPlaceholder):
        response_class = response_class.value

    def context(request: Request) -> dict[str, Any]:
        found = dict(_extract_endpoint_context(call))
        found["path"] = (
            f"{request.method} {request.scope.get('root_path', '').rstrip('/')}{route.path_format}"
        )
        return found

    async def handle(request: Request) -> Response:
        if overrides is not None and getattr(overrides, "dependency_overrides", None):
            return await fallback(request)
        body = await _read_body(request, form) if body_field is not None else None
        solving = _Solving(request, body, embed)
        values, errors = await plan.solve(solving)
        if errors:
            raise RequestValidationError(errors, body=body, endpoint_ctx=context(request))  # type: ignore[arg-type]
        if plan.coroutine:
            raw = await call(**values)
        else:
            raw = await run_in_threadpool(call, **values)
        if isinstance(raw, Response):
            if raw.background is None:
                raw.background = solving.background_tasks
            return raw
        return await _serialized(route, raw, solving, response_class, context(request))

    return handle


async def _serialized(
    route: APIRoute, raw: Any, solving: _Solving, response_class: type[Response], endpoint_ctx: dict[str, Any]
) -> Response:
    """An endpoint's return value answered as FastAPI's handler answers it."""
    arguments: dict[str, Any] = {"background": solving.background_tasks}
    status_code = route.status_code if route.status_code else solving.response.status_code
    if status_code is not None:
        arguments["status_code"] = status_code
    if solving.response.status_code:
        arguments["status_code"] = solving.response.status_code
    content = await serialize_response(
        field=route.response_field,
        response_content=raw,
        include=route.response_model_include,
        exclude=route.response_model_exclude,
        by_alias=route.response_model_by_alias,
        exclude_unset=route.response_model_exclude_unset,
        exclude_defaults=route.response_model_exclude_defaults,
        exclude_none=route.response_model_exclude_none,
        is_coroutine=route.dependant.is_coroutine_callable,
        endpoint_ctx=endpoint_ctx,  # type: ignore[arg-type]
    )
    response = response_class(content, **arguments)
    if not is_body_allowed_for_status_code(response.status_code):
        response.body = b""
    response.headers.raw.extend(solving.response.headers.raw)
    return response
