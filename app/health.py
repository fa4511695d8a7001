"""Liveness and readiness for load balancers."""

from fastapi import APIRouter
from sqlalchemy import text

from app.http.errors import ServiceUnavailable
from app.http.openapi import problems
from app.runtime import RuntimeDep

router = APIRouter(tags=["運用 (operations)"])


@router.get("/healthz", summary="Liveness", description="The process is alive (no database access).")
async def healthz() -> dict[str, str]:
    """Always ok while the process serves requests."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness",
    description="The database answers; 503 otherwise.",
    responses=problems(503),
)
async def readyz(runtime: RuntimeDep) -> dict[str, str]:
    """Ok when a trivial query succeeds."""
    try:
        async with runtime.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:
        raise ServiceUnavailable(headers={"Retry-After": "5"}) from exc
    return {"status": "ok"}
