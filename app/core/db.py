"""Engine, sessions, and the one commit point of a request."""

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from app.core.config import Settings

READ_METHODS = frozenset({"GET", "HEAD"})


def create_engine(settings: Settings, *, for_migrations: bool = False) -> AsyncEngine:
    """An engine for `DATABASE_URL`; SQLite gets foreign keys and a busy timeout on every connection.

    Requests give up on a statement after twice the database timeout; migrations do not (an
    index over a million rows takes longer, and must not be cut off halfway).
    """
    if settings.is_sqlite:
        engine = create_async_engine(
            settings.database_url,
            connect_args={"timeout": settings.db_timeout_seconds},
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    return create_async_engine(
        settings.database_url,
        # A fixed pool: overflow connections would be opened and closed under load, each costing
        # a TCP and TLS handshake; requests beyond the pool wait up to db_timeout_seconds instead.
        pool_size=settings.db_pool_size,
        max_overflow=0,
        pool_timeout=settings.db_timeout_seconds,
        # No pre-ping (a round trip per request): a connection that died while the database
        # restarted fails its request once, with 503, and SQLAlchemy then renews the whole pool.
        connect_args={
            "timeout": settings.db_timeout_seconds,
            "command_timeout": None if for_migrations else settings.db_timeout_seconds * 2,
            # asyncpg prepares statements; a generic plan cannot see that one organization has
            # 58 users and another 200,000, or that a needle is too short for a trigram index.
            "server_settings": {"plan_cache_mode": "force_custom_plan"},
        },
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit (answers are built from them)."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session per request, committed once after the handler and before the answer is sent.

    GET and HEAD run without a transaction (autocommit): they read, and the only writes they can
    make are authentication bookkeeping (failure counters, last use) that must persist anyway.

    An exception rolls everything back, unless it says its work must persist
    (`persist_changes`, e.g. a failed login's counter and audit event).
    """
    runtime = request.app.state.runtime
    reads_only = request.method in READ_METHODS
    async with (runtime.read_sessionmaker if reads_only else runtime.sessionmaker)() as session:
        try:
            yield session
        except Exception as exc:
            if getattr(exc, "persist_changes", False):
                await session.commit()
            else:
                await session.rollback()
            raise
        else:
            if session.in_transaction():  # a commit would otherwise begin one first, to end it
                await session.commit()


# scope="function": the commit runs before the answer is sent, so a failed commit is never a 2xx.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
