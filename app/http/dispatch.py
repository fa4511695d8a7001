"""Finding a request's route by the shape of its path, instead of trying every route in turn.

Starlette's router tries each route's pattern in order until one matches: a read of one
location was tried against eleven routes first, a tenth of its instructions (callgrind,
docs/performance.md). `RouteIndex` answers the same question from a dict. A route's path
(`/api/v1/organizations/{org_id}/locations/{code}`) has a fixed number of segments, and some of
them are literal; a request can only match the routes whose segment count and literal segments
it has. So the index keeps, for each segment count, the positions that are literal in every
route of that count, and under the values there the routes in their original order. A request's
path picks its candidates with one lookup; Starlette's own `matches` then decides among them
exactly as it would have (parameters, converters, methods).

The answer is Starlette's in every case: a route whose pattern the index cannot reason about (a
mount, a host, a parameter that may contain `/`) is a candidate for every path, and any request
the candidates do not fully match (a wrong method's 405, a redirect to the path with or without
its trailing slash, a 404) goes to Starlette's router, which tries every route as before.
"""

import re
from collections.abc import Sequence
from typing import Any

from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

_PARAMETER = re.compile(r"{[^}]*}")
# The `matches` that decide by the path's pattern (and the method), nothing else.
_PATTERN_MATCHES = (Route.matches, APIRoute.matches)


def _segments(route: BaseRoute) -> tuple[str | None, ...] | None:
    """The route's path as segments (None where a parameter is), or None when the index cannot
    reason about it: not a route matched by its path pattern alone (Starlette's or FastAPI's
    `matches`), or a parameter that may span segments."""
    if not isinstance(route, Route) or type(route).matches not in _PATTERN_MATCHES:
        return None
    for convertor in route.param_convertors.values():
        if re.fullmatch(convertor.regex, "a/b"):
            return None
    return tuple(None if _PARAMETER.search(part) else part for part in route.path_format.split("/"))


class _Shapes:
    """The routes by segment count and the literal values at that count's fixed positions."""

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self.routes = list(routes)
        everywhere: list[tuple[int, BaseRoute]] = []
        by_count: dict[int, list[tuple[int, BaseRoute, tuple[str | None, ...]]]] = {}
        for order, route in enumerate(self.routes):
            segments = _segments(route)
            if segments is None:
                everywhere.append((order, route))
            else:
                by_count.setdefault(len(segments), []).append((order, route, segments))
        self.everywhere = [route for _, route in everywhere]
        self.positions: dict[int, tuple[int, ...]] = {}
        self.candidates: dict[tuple[int, tuple[str, ...]], list[BaseRoute]] = {}
        for count, members in by_count.items():
            fixed = tuple(
                i for i in range(count) if all(segments[i] is not None for _, _, segments in members)
            )
            self.positions[count] = fixed
            grouped: dict[tuple[str, ...], list[tuple[int, BaseRoute]]] = {}
            for order, route, segments in members:
                grouped.setdefault(tuple(segments[i] or "" for i in fixed), []).append((order, route))
            for values, found in grouped.items():
                merged = sorted([*found, *everywhere], key=lambda entry: entry[0])
                self.candidates[(count, values)] = [route for _, route in merged]

    def of(self, path: str) -> Sequence[BaseRoute]:
        """The routes that may match this path, in the router's order."""
        parts = path.split("/")
        fixed = self.positions.get(len(parts))
        if fixed is None:
            return self.everywhere
        return self.candidates.get((len(parts), tuple(parts[i] for i in fixed)), self.everywhere)


class RouteIndex:
    """The router's dispatch (its `middleware_stack`): an HTTP request goes to the first of its
    candidate routes that fully matches it; every other request to the router itself. Routes added
    later (tests add some) are indexed at the next request."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self.dispatch: ASGIApp = router.middleware_stack
        self._shapes = _Shapes(router.routes)

    def candidates(self, path: str) -> Sequence[BaseRoute]:
        """The routes tried for this path (the root path not included)."""
        routes = self.router.routes
        shapes = self._shapes
        if len(routes) != len(shapes.routes) or (routes and routes[-1] is not shapes.routes[-1]):
            shapes = self._shapes = _Shapes(routes)
        return shapes.of(path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Dispatch one request."""
        if scope["type"] == "http" and not scope.get("root_path"):
            for route in self.candidates(scope["path"]):
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    scope.setdefault("router", self.router)
                    scope.update(child_scope)
                    await route.handle(scope, receive, send)
                    return
        await self.dispatch(scope, receive, send)


def index_routes(router: Any) -> None:
    """Put a RouteIndex in front of the router's own dispatch (once)."""
    if not isinstance(router.middleware_stack, RouteIndex):
        router.middleware_stack = RouteIndex(router)
