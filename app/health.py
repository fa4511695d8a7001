"""Liveness, readiness and metrics, for load balancers and Prometheus (SPEC §6)."""

import hmac

from fastapi import APIRouter, Request, Response
from sqlalchemy import text

from app.http.errors import NotFound, ServiceUnavailable
from app.http.openapi import problems
from app.journal.listener import ChangeListener
from app.operations.metrics import CONTENT_TYPE
from app.runtime import RuntimeDep
from app.text.messages import register_messages

register_messages(
    {
        "draining": (
            "このインスタンスは停止処理中です。別のインスタンスに再試行してください。",
            "This instance is shutting down. Retry on another instance.",
        ),
    }
)

router = APIRouter(tags=["運用 (operations)"])


@router.get("/healthz", summary="死活確認", description="The process is alive (no database access).")
async def healthz() -> dict[str, str]:
    """Always ok while the process serves requests."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="稼働準備確認",
    description=(
        "The database answers and the instance is not shutting down; 503 otherwise. "
        "`change_feed` says how waiting feed readers learn of changes: `listening` (LISTEN/NOTIFY) "
        "or `polling` (every 0.5 s: SQLite, or while LISTEN does not work)."
    ),
    responses=problems(503),
)
async def readyz(request: Request, runtime: RuntimeDep) -> dict[str, str]:
    """Ok when the instance takes requests and a trivial query succeeds."""
    if runtime.drain.draining:
        raise ServiceUnavailable("draining", headers={"Retry-After": "1"})
    try:
        async with runtime.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:
        raise ServiceUnavailable(headers={"Retry-After": "5"}) from exc
    listener: ChangeListener | None = getattr(request.app.state, "change_listener", None)
    return {
        "status": "ok",
        "change_feed": "listening" if listener is not None and listener.live else "polling",
    }


@router.get(
    "/metrics",
    summary="メトリクス",
    description=(
        "The Prometheus text format of this instance, to `Authorization: Bearer <AINAS_METRICS_TOKEN>`. "
        "404 when metrics are off (no token configured) and to any other caller, so that the "
        "endpoint shows nothing to those who may not read it."
    ),
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {}}}, **problems(404)},
)
async def metrics(request: Request, runtime: RuntimeDep) -> Response:
    """The metrics, to the configured bearer token only."""
    token = runtime.settings.metrics_token
    given = request.headers.get("authorization", "")
    scheme, _, credential = given.partition(" ")
    if (
        token is None
        or not token.get_secret_value()
        or scheme.lower() != "bearer"
        or not hmac.compare_digest(credential.strip().encode(), token.get_secret_value().encode())
    ):
        raise NotFound()
    return Response(await runtime.metrics.render(), media_type=CONTENT_TYPE)
