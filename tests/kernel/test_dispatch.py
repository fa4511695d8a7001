"""The route index (app/http/dispatch.py): every request reaches the route Starlette's router would
have chosen, trying only the routes of its path's shape."""

import itertools
import uuid
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from starlette.convertors import (
    Convertor,
    FloatConvertor,
    IntegerConvertor,
    PathConvertor,
    UUIDConvertor,
    register_url_convertor,
)
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Match, Mount, Route, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http.dispatch import RouteIndex, index_routes
from tests.fixtures.world import World

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
SAMPLES = {
    IntegerConvertor: "12",
    FloatConvertor: "1.5",
    UUIDConvertor: str(uuid.UUID(int=7)),
    PathConvertor: "a/b",
}


def _sample_path(route: Route) -> str:
    path = route.path
    for name, convertor in route.param_convertors.items():
        start = path.index("{" + name)
        path = path[:start] + SAMPLES.get(type(convertor), "L1") + path[path.index("}", start) + 1 :]
    return path


def _paths(routes: list[BaseRoute]) -> set[str]:
    """Each route's path with sample values, and near misses: a trailing slash added or taken
    away, a segment more or less, another letter case, another value."""
    paths = {"/", "", "//", "/api/v1/", "/api/v1/organizations//locations"}
    for route in routes:
        if isinstance(route, Mount):
            paths |= {route.path, route.path + "/x.js", route.path + "/a/b.css"}
        if not isinstance(route, Route):
            continue
        path = _sample_path(route)
        paths |= {path, path + "/", path.rstrip("/"), path + "/extra", path.rsplit("/", 1)[0], path.upper()}
        paths.add(path.replace("L1", "12"))
    return paths


def _linear(routes: list[BaseRoute], scope: Scope) -> tuple[BaseRoute | None, BaseRoute | None]:
    """Starlette's choice: the first full match, else the first partial one."""
    partial = None
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return route, None
        if match is Match.PARTIAL and partial is None:
            partial = route
    return None, partial


def _assert_same_choices(router: Router) -> int:
    index = RouteIndex(router)
    compared = 0
    for path, method in itertools.product(sorted(_paths(router.routes)), METHODS):
        if "\n" in path:
            continue  # never looked up: such a request goes to Starlette's router (below)
        scope: Scope = {"type": "http", "path": path, "root_path": "", "method": method}
        candidates = index.candidates(path)
        # Every route that matches at all (fully or but for the method) is a candidate, in order.
        assert [route for route in router.routes if route.matches(scope)[0] is not Match.NONE] == [
            route for route in candidates if route.matches(scope)[0] is not Match.NONE
        ], (method, path)
        assert _linear(list(candidates), scope) == _linear(router.routes, scope), (method, path)
        compared += 1
    return compared


def test_every_route_of_the_service_is_found_as_starlette_finds_it(app: FastAPI) -> None:
    assert isinstance(app.router.middleware_stack, RouteIndex)
    assert _assert_same_choices(app.router) > 1000


async def _endpoint() -> None:
    """Never called: only the routes' patterns matter here."""


class AnyCaseRoute(Route):
    """A route that decides by more than its pattern: the index must try it for every path."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        return super().matches({**scope, "path": scope["path"].lower()})


def test_routes_the_index_cannot_reason_about_are_tried_for_every_path() -> None:
    router = Router(
        routes=[
            Route("/files/{name}.txt", _endpoint),
            Route("/files/{rest:path}", _endpoint),
            Route("/files/{number:int}", _endpoint, methods=["POST"]),
            Route("/files/{number:float}", _endpoint),
            Route("/files/{key:uuid}", _endpoint, methods=["DELETE"]),
            Route("/files/", _endpoint),
            Mount("/static", routes=[Route("/{name}", _endpoint)]),
            Route("/files/{a}/{b}", _endpoint),
            Route("/{first}/{second}", _endpoint, methods=["PUT"]),
            AnyCaseRoute("/files/{a}/{b}/c", _endpoint),
        ]
    )
    assert _assert_same_choices(router) > 100


async def test_routes_added_after_the_first_request_are_found(
    app: FastAPI, client: httpx.AsyncClient, world: World
) -> None:
    assert (await client.get("/late/x")).status_code == 404
    router = APIRouter()

    @router.get("/late/{name}")
    async def late(name: str) -> dict[str, str]:
        return {"name": name}

    app.include_router(router)
    index = app.router.middleware_stack
    assert isinstance(index, RouteIndex)
    assert [getattr(route, "path", "") for route in index.candidates("/late/x")] == [
        "/docs/assets",
        "/late/{name}",
    ]
    response = await client.get("/late/x")
    assert response.status_code == 200
    assert response.json() == {"name": "x"}


async def test_a_read_is_tried_against_the_routes_of_its_path_only(
    app: FastAPI, client: httpx.AsyncClient, world: World
) -> None:
    index = app.router.middleware_stack
    assert isinstance(index, RouteIndex)
    tried = index.candidates(f"{world.a.path}/locations/L1")
    assert [sorted(route.methods or ()) for route in tried if isinstance(route, Route)] == [
        ["GET"],
        ["PATCH"],
        ["DELETE"],
    ]
    assert len(tried) <= 4  # and the docs' assets, a mount
    assert (
        await client.get(f"{world.a.path}/locations/L1", headers=world.a.admin.headers)
    ).status_code == 200
    assert (
        await client.put(f"{world.a.path}/locations/L1", headers=world.a.admin.headers)
    ).status_code == 405
    assert (
        await client.get(f"{world.a.path}/locations/L1/more", headers=world.a.admin.headers)
    ).status_code == 404


# Through the index's dispatch, side by side with Starlette's router: the same answers.


class _Dates(Convertor[str]):
    """A converter whose values span segments (the index must not take it for one segment)."""

    regex = r"[0-9]{4}/[0-9]{2}/[0-9]{2}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("test_dispatch_date", _Dates())


def _named(name: str) -> Any:
    async def endpoint(request: Request) -> Response:
        return PlainTextResponse(f"{name} {sorted(request.path_params.items())}")

    return endpoint


def _routes() -> list[BaseRoute]:
    return [
        Route("/static/index", _named("static index")),
        Mount("/static", app=PlainTextResponse("mount")),
        Route("/d/{day:test_dispatch_date}", _named("date")),
        Route("/d/{a}/{b}/{c}", _named("a b c")),
        Route("/files/{name}.txt", _named("txt")),
        Route("/files/{rest:path}", _named("path"), methods=["PATCH"]),
        Route("/files/{number:int}", _named("int"), methods=["POST"]),
        Route("/files/{key:uuid}", _named("uuid"), methods=["DELETE"]),
        Route("/files/", _named("files/")),
        Route("/files/{a}/{b}", _named("a b")),
        Route("/{first}/{second}", _named("first second"), methods=["PUT"]),
        AnyCaseRoute("/any/{a}/c", _named("any case")),
        Route("/items/{item}", _named("item"), methods=["GET", "PATCH"]),
        Route("/items", _named("items")),
    ]


def _few_routes() -> list[BaseRoute]:
    """Few routes: each segment count has literal positions that tell its routes apart."""
    return [
        Route("/static/index", _named("static index")),
        Mount("/static", app=PlainTextResponse("mount")),
        Route("/d/{day:test_dispatch_date}", _named("date")),
        Route("/d/{a}/{b}/{c}", _named("a b c")),
        Route("/files/{rest:path}", _named("path"), methods=["PATCH"]),
    ]


REQUESTS = [
    "/static/index",
    "/static/app.js",
    "/d/2024/01/02",
    "/d/x/y/z",
    "/files/a.txt",
    "/files/a/b",
    "/files/12",
    "/files/1.5",
    f"/files/{uuid.UUID(int=7)}",
    "/files/",
    "/files",
    "/x/y",
    "/ANY/X/C",
    "/items/7",
    "/items/7/",
    "/items",
    "/items/",
    "/",
    "/nothing/at/all",
]


async def _answer(app: ASGIApp, method: str, path: str, root_path: str = "") -> tuple[int, str, bytes]:
    """Status, Location and body."""
    scope: Scope = {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": root_path + path,
        "raw_path": (root_path + path).encode(),
        "query_string": b"",
        "root_path": root_path,
        "headers": [(b"host", b"testserver")],
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 1),
    }
    messages: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        messages.append(message)

    try:
        await app(scope, receive, send)
    except Exception as exc:  # Starlette's router raises for some (a 404 inside a mount's app)
        return 0, type(exc).__name__, b""
    start = messages[0]
    headers = dict(start.get("headers", []))
    body = b"".join(message.get("body", b"") for message in messages[1:])
    return start["status"], headers.get(b"location", b"").decode(), body


@pytest.mark.parametrize("routes", [_routes, _few_routes])
async def test_every_answer_is_starlettes(routes: Any) -> None:
    plain, indexed = Router(routes=routes()), Router(routes=routes())
    index_routes(indexed)
    assert isinstance(indexed.middleware_stack, RouteIndex)
    compared = 0
    for path, method, root_path in itertools.product(REQUESTS, METHODS, ("", "/prefix")):
        for variant in (path, path + "\n"):  # `$` matches before a final line feed
            expected = await _answer(plain, method, variant, root_path)
            assert await _answer(indexed, method, variant, root_path) == expected, (
                method,
                variant,
                root_path,
            )
            compared += 1
    assert compared == len(REQUESTS) * len(METHODS) * 4
    assert (await _answer(indexed, "GET", "/d/2024/01/02"))[2].startswith(b"date")
    assert (await _answer(indexed, "GET", "/static/index\n"))[2].startswith(b"static index")


async def test_routes_replaced_or_removed_are_indexed_again() -> None:
    router = Router(routes=[Route("/x", _named("old")), Route("/y", _named("y"))])
    index_routes(router)
    assert (await _answer(router, "GET", "/x"))[2].startswith(b"old")
    router.routes.pop(0)
    router.routes.insert(0, Route("/z", _named("z")))
    assert (await _answer(router, "GET", "/x"))[0] == 404
    router.routes[0] = Route("/x", _named("new"))
    assert (await _answer(router, "GET", "/x"))[2].startswith(b"new")
    del router.routes[0]
    assert (await _answer(router, "GET", "/x"))[0] == 404
    router.routes = [Route("/x", _named("newest"))]
    assert (await _answer(router, "GET", "/x"))[2].startswith(b"newest")
    router.routes += [Route("/w", _named("w"))]
    assert (await _answer(router, "GET", "/w"))[2].startswith(b"w")


class _Tagging:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def test_a_router_with_middleware_of_its_own_is_not_indexed() -> None:
    router = Router(routes=[Route("/x", _named("x"))], middleware=[Middleware(_Tagging)])
    with pytest.raises(ValueError, match="without middleware"):
        index_routes(router)
