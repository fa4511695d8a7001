"""What a process builds once at start-up and every request shares."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.config.clock import Clock
from app.config.local_secrets import local_secret
from app.config.settings import Settings
from app.db.session import create_engine, create_sessionmaker, engines_of
from app.operations.drain import Drain
from app.operations.metrics import Metrics
from app.security.credentials import PasswordHasher, TokenCodec


@dataclass(frozen=True, slots=True)
class Runtime:
    """Settings, database, clock, hasher and token codec of one process."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    # Same pool, no BEGIN/COMMIT round trips: for requests that only read (GET, HEAD).
    read_sessionmaker: async_sessionmaker[AsyncSession]
    clock: Clock
    hasher: PasswordHasher
    tokens: TokenCodec
    # Begun on SIGTERM: readiness, long polls and background work react to it.
    drain: Drain
    # Read at each scrape of /metrics; packages above register their gauges here.
    metrics: Metrics


def build_runtime(settings: Settings, clock: Clock | None = None) -> Runtime:
    """Create the engine and the helpers for these settings."""
    if not settings.secret_key:
        # Generated on first start and kept beside the SQLite database (app/config/local_secrets.py).
        secret_key = local_secret("secret-key", settings.secret_key, settings.database_url)
        settings = settings.model_copy(update={"secret_key": secret_key})
    engine = create_engine(settings)
    hasher = PasswordHasher(settings)
    return Runtime(
        settings=settings,
        engine=engine,
        sessionmaker=create_sessionmaker(engine),
        read_sessionmaker=create_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT")),
        clock=clock or Clock(),
        hasher=hasher,
        tokens=TokenCodec(settings),
        drain=Drain(settings.shutdown_grace_s),
        metrics=Metrics(engines_of(engine), hasher.load),
    )


def runtime_of(request: Request) -> Runtime:
    """The runtime of the application serving this request (a plain call: hot paths avoid one
    more dependency to resolve)."""
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_runtime(request: Request) -> Runtime:
    """The runtime of the application serving this request, as a dependency."""
    return runtime_of(request)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
