"""Finding a request's route by the shape of its path, instead of trying every route in turn.

Starlette's router tries each route's pattern in order until one matches: the API's read of one
resource was tried against eleven routes first, a tenth of its instructions (callgrind,
docs/performance.md). `RouteIndex` answers the same question from a dict. A route's path
(`/api/v1/things/{thing_id}/parts/{code}`) has a fixed number of segments, and some of
them are literal; a request can only match the routes whose segment count and literal segments
it has. So the index keeps, for each segment count, the positions that are literal in every
route of that count, and under the values there the routes in their original order. A request's
path picks its candidates with one lookup; Starlette's own `matches` then decides among them
exactly as it would have (parameters, converters, methods).

The answer is Starlette's in every case: a route whose pattern the index cannot reason about (a
mount, a host, a route class with its own `matches`, a parameter of a converter other than
Starlette's str, int, float and uuid) is a candidate for every path, and any request the
candidates do not fully match (a wrong method's 405, a redirect to the path with or without its
trailing slash, a 404) goes to Starlette's router, which tries every route as before. So does a
path with a newline (a pattern's `$` matches before a final one) and a request under a root
path. The routes are indexed again whenever the router's list of routes changes.
"""

import re
from collections.abc import Iterable, Sequence
from typing import Any, SupportsIndex

from fastapi.routing import APIRoute
from starlette.convertors import FloatConvertor, IntegerConvertor, StringConvertor, UUIDConvertor
from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

_PARAMETER = re.compile(r"{[^}]*}")
# The `matches` that decide by the path's pattern (and the method), nothing else.
_PATTERN_MATCHES = (Route.matches, APIRoute.matches)
# Converters whose values never contain `/`: a parameter of one is exactly one segment.
_ONE_SEGMENT = (StringConvertor, IntegerConvertor, FloatConvertor, UUIDConvertor)


def _segments(route: BaseRoute) -> tuple[str | None, ...] | None:
    """The route's path as segments (None where a parameter is), or None when the index cannot
    reason about it: not a route matched by its path pattern alone (Starlette's or FastAPI's
    `matches`), or a parameter that may span segments."""
    if not isinstance(route, Route) or type(route).matches not in _PATTERN_MATCHES:
        return None
    if any(type(convertor) not in _ONE_SEGMENT for convertor in route.param_convertors.values()):
        return None
    return tuple(None if _PARAMETER.search(part) else part for part in route.path_format.split("/"))


class _Routes(list[BaseRoute]):
    """A router's list of routes that counts its changes, so that the index knows when it is stale."""

    changes = 0

    def _changed(self) -> None:
        self.changes += 1

    def __setitem__(self, index: Any, value: Any) -> None:
        super().__setitem__(index, value)
        self._changed()

    def __delitem__(self, index: SupportsIndex | slice) -> None:
        super().__delitem__(index)
        self._changed()

    def __iadd__(self, values: Iterable[BaseRoute]) -> "_Routes":  # type: ignore[override,misc]
        super().__iadd__(values)
        self._changed()
        return self

    def __imul__(self, count: SupportsIndex) -> "_Routes":
        super().__imul__(count)
        self._changed()
        return self

    def append(self, value: BaseRoute) -> None:
        """As list.append."""
        super().append(value)
        self._changed()

    def extend(self, values: Iterable[BaseRoute]) -> None:
        """As list.extend."""
        super().extend(values)
        self._changed()

    def insert(self, index: SupportsIndex, value: BaseRoute) -> None:
        """As list.insert."""
        super().insert(index, value)
        self._changed()

    def pop(self, index: SupportsIndex = -1) -> BaseRoute:
        """As list.pop."""
        value = super().pop(index)
        self._changed()
        return value

    def remove(self, value: BaseRoute) -> None:
        """As list.remove."""
        super().remove(value)
        self._changed()

    def clear(self) -> None:
        """As list.clear."""
        super().clear()
        self._changed()

    def sort(self, *args: Any, **kwargs: Any) -> None:
        """As list.sort."""
        super().sort(*args, **kwargs)
        self._changed()

    def reverse(self) -> None:
        """As list.reverse."""
        super().reverse()
        self._changed()


class _Shapes:
    """The routes by segment count and the literal values at that count's fixed positions."""

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self.routes = routes  # the router's own list, to tell when it was replaced
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
    candidate routes that fully matches it; every other request to the router itself."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self.dispatch: ASGIApp = router.middleware_stack
        if not isinstance(router.routes, _Routes):
            router.routes = _Routes(router.routes)
        self._shapes = _Shapes(router.routes)
        self._indexed = router.routes.changes

    def candidates(self, path: str) -> Sequence[BaseRoute]:
        """The routes tried for this path (the root path not included)."""
        routes = self.router.routes
        if not isinstance(routes, _Routes):  # the list itself was replaced
            routes = self.router.routes = _Routes(routes)
            self._indexed = -1
        if routes.changes != self._indexed or routes is not self._shapes.routes:
            self._shapes, self._indexed = _Shapes(routes), routes.changes
        return self._shapes.of(path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Dispatch one request."""
        if scope["type"] == "http" and not scope.get("root_path") and "\n" not in scope["path"]:
            for route in self.candidates(scope["path"]):
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    scope.setdefault("router", self.router)
                    scope.update(child_scope)
                    await route.handle(scope, receive, send)
                    return
        await self.dispatch(scope, receive, send)


def index_routes(router: Any) -> None:
    """Put a RouteIndex in front of the router's own dispatch (once). Not in front of a router's
    own middleware (`Router(middleware=...)`): the requests it answers would skip it."""
    if isinstance(router.middleware_stack, RouteIndex):
        return
    if router.middleware_stack != router.app:
        raise ValueError("the route index goes in front of a router without middleware of its own")
    router.middleware_stack = RouteIndex(router)
