"""create_app(): settings, engine, middleware, error handlers, routers."""

import asyncio
import gc
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import ORJSONResponse

from app.api import api_router
from app.auth.dependencies import SECURITY_SCHEMES, authenticated_principal
from app.certificates.instances import announce_periodically, withdraw
from app.config.clock import Clock
from app.config.logging import configure_logging
from app.config.settings import Settings, get_settings
from app.csv.upload import MAX_UPLOAD_BODY_BYTES
from app.docs import install_docs
from app.health import router as health_router
from app.http.dispatch import index_routes
from app.http.errors import install_error_handlers
from app.http.middleware import RequestContextMiddleware
from app.http.openapi import install_openapi
from app.idempotency.service import IdempotentReplay, replay
from app.journal.feed_reader import prune_periodically
from app.journal.listener import ChangeListener
from app.operations.metrics import RequestMetrics
from app.runtime import build_runtime
from app.security.sealing import sealing_keys
from app.webhooks.backlog import report_backlog
from app.webhooks.worker import WebhookWorker

DESCRIPTION = """
The requester-side administration of AINAS, the shared system for OSS filings: organizations,
locations, users, API keys and the API password, and the operator's onboarding of new
organizations.

Each operation's summary is the screen's Japanese name, and each parameter's and field's title
its Japanese label; descriptions are English.

Errors are RFC 9457 `application/problem+json` with a stable `code`; messages are Japanese by
default and English when `Accept-Language` prefers `en`.
"""

# The CSV uploads' paths (SPEC §5.6): their bodies may be larger than any other.
UPLOAD_PATHS = re.compile(r"^/api/v1/organizations/[^/]+/imports/")

# What a status means across this API's operations, where it is more than the generic meaning
# (the OpenAPI document's response descriptions).
STATUS_DESCRIPTIONS = {
    400: "Bad request (token endpoint: RFC 6749 error; change feed: invalid_cursor)",
    410: "The cursor needs changes older than the retention period (cursor_expired): list again, then follow",
}


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    """Build the application; tests pass their own settings and clock."""
    settings = settings or get_settings()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # What start-up built lives as long as the process: kept out of the collector's sweeps,
        # which otherwise walk every schema, route and mapper again and again under load.
        gc.collect()
        gc.freeze()
        # Fails the start when no sealing key can be had, rather than the first registration.
        sealing_keys(settings)
        listener = app.state.change_listener = ChangeListener(settings)
        listener.start()
        drain = app.state.runtime.drain
        drain.on_drain(listener.release)
        restore_signals = drain.begin_on_exit_signals()
        pruning = asyncio.get_running_loop().create_task(prune_periodically(app.state.runtime))
        # Webhook delivery (SPEC §5.7), woken by the same listener.
        webhooks = app.state.webhook_worker = (
            WebhookWorker(app.state.runtime, listener=listener) if settings.webhook_worker else None
        )
        if webhooks is not None:
            webhooks.start()
            # On SIGTERM: no new message is claimed; attempts in flight finish within the grace.
            drain.on_drain(webhooks.stop_claiming)
        instance_id = secrets.token_hex(16)
        announcing = asyncio.get_running_loop().create_task(
            announce_periodically(app.state.runtime, instance_id, sealing_keys(settings))
        )
        yield
        if webhooks is not None:
            await webhooks.stop(grace=drain.remaining())
        pruning.cancel()
        announcing.cancel()
        await withdraw(app.state.runtime, instance_id)
        restore_signals()
        await listener.stop()
        await app.state.runtime.engine.dispose()
        app.state.runtime.hasher.close()

    app = FastAPI(
        title="AINAS requester administration API",
        version="1.0.0",
        description=DESCRIPTION,
        default_response_class=ORJSONResponse,
        lifespan=lifespan,
        swagger_ui_parameters={"persistAuthorization": True},
        # Operation ids a client generator turns into method names: `list_locations`, not
        # `list_locations_api_v1_organizations__org_id__locations_get` (handler names are unique).
        generate_unique_id_function=lambda route: route.name,
        # Served by app/docs.py with their own assets (no CDN), or not at all.
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        # A path with a trailing slash is not found, rather than redirected to a URL built from
        # the request's Host header (which the client chooses).
        redirect_slashes=False,
    )
    app.state.runtime = build_runtime(settings, clock)
    report_backlog(app.state.runtime)  # the webhook gauges of /metrics

    install_error_handlers(app)
    install_openapi(
        app,
        authenticate=authenticated_principal,
        security_schemes=SECURITY_SCHEMES,
        descriptions=STATUS_DESCRIPTIONS,
    )
    app.add_exception_handler(IdempotentReplay, replay)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "If-Match",
                "Idempotency-Key",
                "X-Request-ID",
                "Accept-Language",
            ],
            expose_headers=["ETag", "Location", "X-Request-ID", "Retry-After", "Content-Disposition"],
        )
    # CSV uploads take up to 5 MiB (SPEC §5.6); every other body 1 MiB.
    app.add_middleware(RequestContextMiddleware, body_limits=[(UPLOAD_PATHS, MAX_UPLOAD_BODY_BYTES)])
    if settings.metrics_token is not None:
        app.add_middleware(RequestMetrics)  # outermost: times the whole request
    app.include_router(api_router)
    app.include_router(health_router)
    install_docs(app, enabled=settings.docs_enabled)
    index_routes(app.router)  # a request's route by the shape of its path (app/http/dispatch.py)
    return app
