"""The route index (app/http/dispatch.py): every request reaches the route Starlette's router would
have chosen, trying only the routes of its path's shape."""

import itertools
import uuid

import httpx
from fastapi import APIRouter, FastAPI
from starlette.convertors import FloatConvertor, IntegerConvertor, PathConvertor, UUIDConvertor
from starlette.routing import BaseRoute, Match, Mount, Route, Router
from starlette.types import Scope

from app.http.dispatch import RouteIndex
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
