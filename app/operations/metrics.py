"""Metrics for Prometheus (SPEC §6): `GET /metrics` with `AINAS_METRICS_TOKEN` (app/health.py).

Each process answers for itself: with several instances (or `--workers`), Prometheus scrapes each
instance on its own address, and sums across them (`sum by (route) (rate(...))`).

No label carries input: a request is counted under its route TEMPLATE (the path with its
parameters' names, never the path itself), a method outside the known ones as `OTHER`, and no
label holds a value a caller sent.

Process-wide counters live in `SHARED` (the requests here; packages above declare theirs there);
what belongs to one application (its connection pool, its hashing turns, and the gauges packages
above register with `Metrics.gauge`) is read at each scrape by `Metrics`, which an application
builds for itself (tests build many in one process).
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.db.prepared import waiting_callers

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"  # no route: one label for every unknown path
# A scrape waits at most this long for awaited gauges (Prometheus' own timeout is 10 s).
AWAITED_TIMEOUT_SECONDS = 3.0

logger = logging.getLogger("ainas.metrics")

SHARED = CollectorRegistry(auto_describe=True)
REQUESTS = Counter(
    "ainas_http_requests",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
    registry=SHARED,
)
REQUEST_SECONDS = Histogram(
    "ainas_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by route template and method.",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=SHARED,
)
ProcessCollector(registry=SHARED)
PlatformCollector(registry=SHARED)
GCCollector(registry=SHARED)


# Gauges a package above reads at each scrape (e.g. with one bounded query): {name: (help, value)}.
AwaitedGauges = Callable[[], Awaitable[Mapping[str, tuple[str, float]]]]


class Metrics:
    """One application's metrics: the process-wide ones and its own, read at each scrape."""

    def __init__(self, engines: Sequence[AsyncEngine], hash_load: Callable[[], tuple[int, int]]) -> None:
        self._engines = engines  # every pool of the process (the requests', the lists')
        self._hash_load = hash_load
        self._gauges: dict[str, tuple[str, Callable[[], float]]] = {}
        self._awaited: list[AwaitedGauges] = []
        self._awaited_now: dict[str, tuple[str, float]] = {}
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Forward(SHARED))
        self.registry.register(_Instance(self))

    def gauge(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        """A gauge of this application that a package above keeps: `read()` answers its value at
        each scrape without blocking (a value it keeps, not a query: a scrape must stay cheap).
        A gauge of the same name registered again replaces it."""
        self._gauges[name] = (documentation, read)

    def awaited_gauges(self, read: AwaitedGauges) -> None:
        """Gauges that a package above reads at each scrape, awaited (e.g. one bounded query of
        the database): `await read()` answers {name: (help, value)}. When it fails or takes longer
        than AWAITED_TIMEOUT_SECONDS, its gauges are left out of that scrape and the rest answer."""
        self._awaited.append(read)

    async def render(self) -> bytes:
        """The Prometheus text format; awaited gauges read now (see `awaited_gauges`)."""
        now: dict[str, tuple[str, float]] = {}
        for read in self._awaited:
            try:
                async with asyncio.timeout(AWAITED_TIMEOUT_SECONDS):
                    now.update(await read())
            except Exception:
                logger.warning("metrics: gauges could not be read", exc_info=True)
        self._awaited_now = now
        # No await from here on: a concurrent scrape cannot change the values being written.
        return generate_latest(self.registry)

    def collect(self) -> Iterator[Metric]:
        """The gauges of this application, read now."""
        in_use, waiting, size = (sum(counts) for counts in zip(*map(_pool_state, self._engines), strict=True))
        yield _gauge(
            "ainas_db_pool_connections_in_use", "Database connections checked out of the pool.", in_use
        )
        yield _gauge("ainas_db_pool_waiting", "Callers waiting for a database connection.", waiting)
        yield _gauge("ainas_db_pool_size", "Connections the pool keeps.", size)
        running, queued = self._hash_load()
        yield _gauge("ainas_password_hashes_running", "Password hashes computing now.", running)
        yield _gauge("ainas_password_hashes_queued", "Password checks waiting for a hashing turn.", queued)
        for name, (documentation, read) in self._gauges.items():
            yield _gauge(name, documentation, read())
        for name, (documentation, value) in self._awaited_now.items():
            yield _gauge(name, documentation, value)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _pool_state(engine: AsyncEngine) -> tuple[int, int, int]:
    """(checked out, waiting, size) of the engine's pool; SQLite's pool has no fixed size."""
    pool: Any = engine.sync_engine.pool
    checked_out = int(pool.checkedout()) if hasattr(pool, "checkedout") else 0
    size = int(pool.size()) if hasattr(pool, "size") else 0
    return checked_out, waiting_callers(pool), size


class _Forward(Collector):
    """The process-wide registry inside an application's own."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterable[Metric]:
        return self._registry.collect()


class _Instance(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        return self._metrics.collect()


class RequestMetrics:
    """ASGI middleware: counts each request under its route template, method and status, and
    observes its duration. Installed only when metrics are on (a few microseconds a request)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Time one request; the route is known once the router has matched it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path_format", None) or UNMATCHED
            method = scope["method"] if scope["method"] in KNOWN_METHODS else "OTHER"
            REQUESTS.labels(route, method, str(status)).inc()
            REQUEST_SECONDS.labels(route, method).observe(time.perf_counter() - started)
