"""app/http/handler.py: every API route's dependencies are solved by a plan made once, and the
plan answers exactly as FastAPI's own handler does (the same statuses, bodies and headers for
the same requests, errors included)."""

import ast
import sys
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Annotated, Any
from urllib.parse import quote

import fastapi
import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.routing import BaseRoute

from app.http.handler import PINNED_FASTAPI, plannable, planned_handler
from app.http.routing import ApiRoute
from tests.fixtures.world import World

APP = Path(__file__).resolve().parents[2] / "app"
PRIVATE_HOME = APP / "http" / "handler.py"


def test_the_installed_fastapi_is_the_one_the_handler_was_written_for() -> None:
    assert fastapi.__version__ == PINNED_FASTAPI, (
        f"FastAPI is {fastapi.__version__}, but app/http/handler.py follows FastAPI {PINNED_FASTAPI}'s "
        "request_params_to_args, solve_dependencies and get_request_handler, and uses its private "
        "_validate_value_with_model_field, get_cached_model_fields, field_annotation_is_sequence and "
        "_extract_endpoint_context: compare them with the new release, then set PINNED_FASTAPI"
    )


def _fastapi_private_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("fastapi"):
            private_module = any(part.startswith("_") for part in (node.module or "").split("."))
            private_names = [alias.name for alias in node.names if alias.name.startswith("_")]
            if private_module or private_names:
                found.append(f"{path.relative_to(APP.parent)}:{node.lineno} from {node.module}")
    return found


def test_no_module_but_handler_py_imports_fastapi_private_api() -> None:
    outside = [
        use
        for path in sorted(APP.rglob("*.py"))
        if path != PRIVATE_HOME
        for use in _fastapi_private_imports(path)
    ]
    assert not outside, f"FastAPI's private API outside app/http/handler.py: {outside}"
    assert _fastapi_private_imports(PRIVATE_HOME), "the check finds what it looks for"


def _routes(routes: list[BaseRoute]) -> Iterator[BaseRoute]:
    for route in routes:
        yield route
        yield from _routes(getattr(route, "routes", []))


def test_every_api_route_is_planned(app: FastAPI) -> None:
    api_routes = [route for route in _routes(app.routes) if isinstance(route, ApiRoute)]
    assert len(api_routes) > 50
    unplanned = [route.path for route in api_routes if not plannable(route)]
    assert not unplanned, f"routes answered by FastAPI's handler instead of the plan: {unplanned}"

    # The check can fail: a dependency with `yield` is not planned.
    async def with_yield() -> Any:
        yield None

    route = APIRoute("/x", lambda: None, dependencies=[fastapi.Depends(with_yield)])
    assert not plannable(route)


def _never_overridden() -> None:
    """Not a dependency of any route: overriding it changes nothing but the handler."""


def _requests(world: World) -> list[tuple[str, str, dict[str, Any]]]:
    """Requests of every kind a route reads (path, query, query model, headers, JSON and form
    bodies, the response model), each good and bad, and none that changes anything."""
    admin = world.a.admin.headers
    org = world.a.path
    json_admin = {**admin, "Content-Type": "application/json"}
    location = {"code": "L1", "name": "ガレージ", "short_name": "ガレージ"}  # taken: 409
    return [
        ("GET", f"{org}/locations", {"headers": admin}),
        ("GET", f"{org}/locations?limit=2&offset=1", {"headers": admin}),
        ("GET", f"{org}/locations?limit=0", {"headers": admin}),
        ("GET", f"{org}/locations?limit=abc&offset=-1", {"headers": admin}),
        ("GET", f"{org}/locations?limit=2&limit=3", {"headers": admin}),
        ("GET", f"{org}/locations?unknown=1&name={quote('ｶﾞﾚｰｼﾞ')}", {"headers": admin}),
        ("GET", f"{org}/locations?sort=nonsense", {"headers": admin}),
        ("GET", f"{org}/locations", {}),
        ("GET", f"{org}/locations", {"headers": {"Authorization": "Bearer nonsense"}}),
        ("GET", f"{org}/locations", {"headers": world.a.basic()}),
        ("GET", "/api/v1/organizations/abc/locations", {"headers": admin}),
        ("GET", f"{org}/locations/L1", {"headers": admin}),
        ("GET", f"{org}/locations/{'X' * 65}", {"headers": admin}),
        ("GET", f"{org}/locations/NOPE", {"headers": admin}),
        ("GET", f"{org}/users?role=nobody", {"headers": admin}),
        ("GET", f"{org}/users?limit=5", {"headers": admin}),
        ("GET", f"{org}/audit-events?limit=3", {"headers": admin}),
        ("GET", f"{org}/changes?after=nonsense", {"headers": admin}),
        ("GET", f"{org}/changes?wait=999", {"headers": admin}),
        ("GET", "/api/v1/me", {"headers": admin}),
        ("GET", "/api/v1/organizations?limit=1", {"headers": world.operator.headers}),
        ("POST", f"{org}/locations", {"headers": json_admin, "content": b'{"code": '}),
        ("POST", f"{org}/locations", {"headers": json_admin, "content": b"[]"}),
        ("POST", f"{org}/locations", {"headers": json_admin, "content": b"null"}),
        ("POST", f"{org}/locations", {"headers": json_admin, "content": b""}),
        ("POST", f"{org}/locations", {"headers": json_admin, "json": {"code": 5, "extra": True}}),
        ("POST", f"{org}/locations", {"headers": json_admin, "json": location}),
        (
            "POST",
            f"{org}/locations",
            {"headers": {**json_admin, "Idempotency-Key": "x" * 300}, "json": location},
        ),
        ("POST", f"{org}/locations", {"headers": {**admin, "Content-Type": "text/plain"}, "content": b"{}"}),
        ("PATCH", f"{org}/locations/NOPE", {"headers": json_admin, "json": {"name": "名前"}}),
        ("PATCH", f"{org}/locations/L1", {"headers": {**json_admin, "If-Match": "nonsense"}, "json": {}}),
        (
            "PATCH",
            f"{org}/locations/L1",
            {"headers": {**json_admin, "If-Match": '"v99"'}, "json": {"name": 1}},
        ),
        ("DELETE", f"{org}/locations/L1", {"headers": {**admin, "If-Match": '"v99"'}}),
        # Sub-dependencies whose own parameters fail: neither they nor the endpoint are called.
        ("DELETE", f"{org}/locations/NOPE", {"headers": {**admin, "If-Match": "1" * 1100}}),
        ("GET", f"{org}/api-keys?limit=0&offset=x", {"headers": admin}),
        ("GET", f"{org}/api-keys?limit=2", {"headers": admin}),
        ("POST", "/api/v1/auth/token", {"data": {"grant_type": "password", "username": "a.admin"}}),
        ("POST", "/api/v1/auth/token", {"data": {"grant_type": "nonsense"}}),
        ("POST", "/api/v1/auth/token", {"json": {"grant_type": "password"}}),
    ]


def _answer(response: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = sorted((name, value) for name, value in response.headers.items() if name != "x-request-id")
    body = response.content
    request_id = response.headers.get("x-request-id", "")
    return response.status_code, headers, body.replace(request_id.encode(), b"<id>") if request_id else body


async def test_the_plan_answers_as_fastapis_handler(
    world: World, app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    solved_by_fastapi = 0
    fastapis_solver = fastapi.routing.solve_dependencies

    async def counted(**kwargs: Any) -> Any:
        nonlocal solved_by_fastapi
        solved_by_fastapi += 1
        return await fastapis_solver(**kwargs)

    # FastAPI's handler finds its solver in its module when it runs: counted, it says which
    # handler answered.
    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counted)
    requests = _requests(world)
    planned = [_answer(await client.request(method, url, **kwargs)) for method, url, kwargs in requests]
    assert solved_by_fastapi == 0, "every request answered by the plan"
    app.dependency_overrides[_never_overridden] = _never_overridden  # every route: FastAPI's handler
    try:
        fastapis = [_answer(await client.request(method, url, **kwargs)) for method, url, kwargs in requests]
    finally:
        app.dependency_overrides.clear()
    # Every request under FastAPI's handler, but the two refused before any handler runs (the
    # malformed JSON text and the JSON `null`, app/http/routing.py `check_json_text`).
    assert solved_by_fastapi == len(requests) - 2, solved_by_fastapi
    statuses = {answer[0] for answer in planned}
    assert {200, 400, 401, 404, 409, 415, 422} <= statuses, statuses  # every kind of answer
    for (method, url, _), ours, theirs in zip(requests, planned, fastapis, strict=True):
        assert ours == theirs, (method, url)


def _app_of(route_class: type[APIRoute], calls: list[str]) -> FastAPI:
    """A small app using what the plan must do like FastAPI: cached and uncached, async and sync
    dependencies, one whose parameters fail under one that records being called, parameter models
    from the query and the headers, Response and BackgroundTasks parameters, a JSON body, a form
    body, and return values that FastAPI serializes."""
    app = FastAPI()
    router = fastapi.APIRouter(route_class=route_class)

    async def counted() -> int:
        calls.append("counted")
        return 1

    def in_thread(x: int = 0) -> int:
        calls.append("in_thread")
        return x

    async def strict(n: Annotated[int, fastapi.Query(ge=1)] = 1) -> int:
        calls.append("strict")
        return n

    async def parent(
        s: Annotated[int, fastapi.Depends(strict)], c: Annotated[int, fastapi.Depends(counted)]
    ) -> int:
        calls.append("parent")
        return s + c

    async def uncached(c: Annotated[int, fastapi.Depends(counted, use_cache=False)]) -> int:
        return c

    class Filters(BaseModel):
        model_config = ConfigDict(extra="forbid")
        tags: list[str] = []
        name: str | None = Field(default=None, max_length=3)

    class Tokens(BaseModel):
        x_token: str | None = None

    class Out(BaseModel):
        total: int
        tags: list[str]
        token: str | None

    class Item(BaseModel):
        code: str = Field(max_length=4)
        count: int = 0

    @router.get("/a", response_model=Out)
    async def a(
        p: Annotated[int, fastapi.Depends(parent)],
        c: Annotated[int, fastapi.Depends(counted)],
        u: Annotated[int, fastapi.Depends(uncached)],
        s: Annotated[int, fastapi.Depends(in_thread)],
        filters: Annotated[Filters, fastapi.Query()],
        tokens: Annotated[Tokens, fastapi.Header()],
        response: fastapi.Response,
        tasks: fastapi.BackgroundTasks,
    ) -> Any:
        response.headers["X-Extra"] = "yes"
        tasks.add_task(calls.append, "task")
        return {"total": p + c + u + s, "tags": filters.tags, "token": tokens.x_token, "dropped": True}

    @router.post("/b", status_code=201)
    async def b(
        item: Item,
        ids: Annotated[list[int], fastapi.Query(default_factory=list)],
        q: Annotated[int | None, fastapi.Query()] = None,
    ) -> Item:
        calls.append(f"b {q} {ids}")
        return item

    @router.post("/f")
    async def f(
        name: Annotated[str, fastapi.Form(max_length=5)], n: Annotated[int, fastapi.Form()] = 0
    ) -> dict[str, Any]:
        return {"name": name, "n": n}

    @router.delete("/d", status_code=204)
    async def d(x_key: Annotated[str | None, fastapi.Header(max_length=3)] = None) -> None:
        calls.append(f"d {x_key}")

    app.include_router(router)
    return app


class _Planned(APIRoute):
    def get_route_handler(self) -> Any:
        return planned_handler(self, super().get_route_handler())


KERNEL_REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/a", {}),
    ("GET", "/a?n=3&x=2&tags=p&tags=q", {"headers": {"X-Token": "t"}}),
    ("GET", "/a?n=0", {}),
    ("GET", "/a?n=zero&x=y&name=long", {}),
    ("GET", "/a?unknown=1&other=2&other=3", {}),
    ("GET", "/a?tags=", {"headers": {"x_token": "underscored"}}),
    ("POST", "/b", {"json": {"code": "AB", "count": 2}}),
    ("POST", "/b?q=1&ids=1&ids=2", {"json": {"code": "ABCDE", "count": "x"}}),
    ("POST", "/b?q=x", {"content": b'{"code": '}),
    ("POST", "/b", {"content": b'{"code": "A"}', "headers": {"Content-Type": "text/plain"}}),
    ("POST", "/b", {"content": b'{"code": "A"}', "headers": {"Content-Type": "application/vnd.x+json"}}),
    ("POST", "/b", {}),
    ("POST", "/f", {"data": {"name": "abc", "n": "2"}}),
    ("POST", "/f", {"data": {"name": "", "n": "x"}}),
    ("POST", "/f", {"data": {"name": "toolong"}}),
    ("DELETE", "/d", {"headers": {"X-Key": "abc"}}),
    ("DELETE", "/d", {"headers": {"X-Key": "abcd"}}),
]


async def _answers(app: FastAPI) -> list[tuple[int, list[tuple[str, str]], bytes]]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        return [_answer(await http.request(method, url, **kwargs)) for method, url, kwargs in KERNEL_REQUESTS]


async def test_the_plan_calls_and_answers_as_fastapi_does_for_what_it_plans() -> None:
    planned_calls: list[str] = []
    fastapi_calls: list[str] = []
    planned_app = _app_of(_Planned, planned_calls)
    assert all(plannable(route) for route in planned_app.routes if isinstance(route, APIRoute))
    planned = await _answers(planned_app)
    theirs = await _answers(_app_of(APIRoute, fastapi_calls))
    for (method, url, _), ours, expected in zip(KERNEL_REQUESTS, planned, theirs, strict=True):
        assert ours == expected, (method, url)
    assert planned_calls == fastapi_calls
    # What the comparison covers happened: a cached dependency called once per request and an
    # uncached one again, nothing called under failed parameters, tasks run, errors answered.
    assert planned_calls[:6] == ["strict", "counted", "parent", "counted", "in_thread", "task"]
    assert {answer[0] for answer in planned} >= {200, 201, 204, 422}


# Python calls the service makes for one list of locations on PostgreSQL, the caller's check and
# the access log included: 656 measured on 2026-12-06 with the plan, 1,013 with FastAPI's handler.
CALLS_PER_LIST = 750
LISTS = 20


@pytest.mark.postgres_only
async def test_a_list_request_is_cheap(app: FastAPI, world: World) -> None:
    calls = 0

    def counting(_frame: FrameType, event: str, _arg: object) -> None:
        nonlocal calls
        calls += event == "call"

    async def counted(scope: Any, receive: Any, send: Any) -> None:
        sys.setprofile(counting)  # from the app's first call to its last: not the client's
        try:
            await app(scope, receive, send)
        finally:
            sys.setprofile(None)

    transport = httpx.ASGITransport(app=counted)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        url, headers = f"{world.a.path}/locations?limit=50", world.a.admin.headers
        assert (await http.get(url, headers=headers)).status_code == 200  # statements prepared once
        calls = 0
        answers = [await http.get(url, headers=headers) for _ in range(LISTS)]

    assert all(answer.status_code == 200 for answer in answers)
    assert calls / LISTS < CALLS_PER_LIST, calls / LISTS
