"""Engine, sessions, and the one commit point of a request."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session

from app.config.local_secrets import create_private_database_file
from app.config.settings import Settings
from app.db.prepared import COMMITTED_ALONE, REPLAN_OPTION, ReadyFirstPool

READ_METHODS = frozenset({"GET", "HEAD"})


def create_engine(settings: Settings, *, for_migrations: bool = False) -> AsyncEngine:
    """An engine for `DATABASE_URL`; SQLite gets foreign keys and a busy timeout on every connection.

    Requests give up on a statement after twice the database timeout; migrations do not (an
    index over a million rows takes longer, and must not be cut off halfway).
    """
    if settings.is_sqlite:
        create_private_database_file(settings.database_url)
        engine = create_async_engine(
            settings.database_url,
            connect_args={"timeout": settings.db_timeout_seconds},
            hide_parameters=True,
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    if settings.database_pooler == "transaction" or for_migrations:
        return _postgres_engine(settings, settings.db_pool_size, for_migrations=for_migrations)
    # Lists have connections of their own, which plan every statement for its values: a quarter
    # of the pool (at least one), taken from it (app/db/prepared.py, "How PostgreSQL plans").
    list_pool_size = max(1, settings.db_pool_size // 4)
    lists = _postgres_engine(settings, list_pool_size, plan_cache_mode="force_custom_plan")
    engine = _postgres_engine(
        settings,
        max(1, settings.db_pool_size - list_pool_size),
        plan_cache_mode="auto",
        execution_options={REPLAN_OPTION: lists},
    )

    @event.listens_for(engine.sync_engine, "engine_disposed")
    def _dispose_lists(_engine: Any) -> None:
        lists.sync_engine.dispose()  # run by AsyncEngine.dispose, where the driver can be awaited

    return engine


def engines_of(engine: AsyncEngine) -> tuple[AsyncEngine, ...]:
    """The engine and the lists' engine it names, if any: every pool of the process."""
    lists: AsyncEngine | None = engine.get_execution_options().get(REPLAN_OPTION)
    return (engine,) if lists is None else (engine, lists)


def _postgres_engine(
    settings: Settings,
    pool_size: int,
    *,
    plan_cache_mode: str | None = None,
    for_migrations: bool = False,
    execution_options: dict[str, Any] | None = None,
) -> AsyncEngine:
    return create_async_engine(
        settings.database_url,
        # A failing statement's error (logged) must not carry its values: passwords' hashes,
        # secrets' digests, what a caller typed.
        hide_parameters=True,
        # A fixed pool: overflow connections would be opened and closed under load, each costing
        # a TCP and TLS handshake; requests beyond the pool wait up to db_timeout_seconds instead.
        poolclass=ReadyFirstPool,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=settings.db_timeout_seconds,
        # No pre-ping (a round trip per request): a connection that died while the database
        # restarted fails its request once, with 503, and SQLAlchemy then renews the whole pool.
        connect_args={
            "timeout": settings.db_timeout_seconds,
            "command_timeout": None if for_migrations else settings.db_timeout_seconds * 2,
            **_driver_arguments(settings, plan_cache_mode),
        },
        execution_options=execution_options or {},
    )


def _driver_arguments(settings: Settings, plan_cache_mode: str | None) -> dict[str, Any]:
    """How asyncpg prepares statements: cached and named on a direct connection; behind a pooler
    in transaction mode, unnamed and parsed again with each execution (`DATABASE_POOLER`)."""
    if settings.database_pooler == "transaction":
        # A named statement would outlive its transaction on a server connection that the
        # pooler then hands to another client. With a cache size of 0 asyncpg uses the unnamed
        # statement and sends Parse again with each Bind (asyncpg #1065: PgBouncer may route the
        # Bind to another server); SQLAlchemy's own cache is off and its statements unnamed too.
        # No server_settings: PgBouncer refuses startup parameters it does not know, and an
        # unnamed statement is planned for its values anyway (what force_custom_plan is for).
        return {
            "statement_cache_size": 0,
            "prepared_statement_cache_size": 0,
            "prepared_statement_name_func": _unnamed,
        }
    # asyncpg prepares statements. On the request's connections PostgreSQL's own choice (`auto`)
    # plans a statement once per connection when one plan serves every value: point reads,
    # writes, foreign-key checks, triggers. The lists' connections plan each execution for its
    # values (`force_custom_plan`): a list's plan depends on the tenant's size.
    # No JIT: it pays off for queries that run for seconds; compiling costs a list planned for
    # its values tens of milliseconds at every execution (docs/performance.md, "Against the targets").
    server_settings = {"jit": "off"}
    if plan_cache_mode is not None:
        server_settings["plan_cache_mode"] = plan_cache_mode
    return {"server_settings": server_settings}


def _unnamed() -> str:
    """The name SQLAlchemy gives asyncpg for a statement it prepares: none (the unnamed one)."""
    return ""


class _UnitOfWork(Session):
    """The sessions of requests and commands (see `_one_commit`)."""


@event.listens_for(_UnitOfWork, "after_begin")
def _one_commit(session: Session, _transaction: Any, _connection: Any) -> None:
    """A session whose change committed on its own (`PreparedWrite.alone`) writes nothing more:
    it would commit apart from that change."""
    if session.info.get(COMMITTED_ALONE):
        raise RuntimeError("the request's change has committed on its own: nothing more may join it")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit (answers are built from them)."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False, sync_session_class=_UnitOfWork)


@asynccontextmanager
async def separate_transaction(maker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A transaction of its own, committed when the block ends: for bookkeeping that must hold
    whatever the request does next and must not wait for it (counted password attempts)."""
    async with maker() as session:
        yield session
        await session.commit()


# Where a request's session lives while its handler runs (see ApiRoute, app/http/routing.py).
_SESSION = "ainas.session"
_UNIT_OF_WORK = "ainas.unit_of_work"


def begin_unit_of_work(request: Request) -> None:
    """Mark the request as one whose session `end_unit_of_work` will end (the API's route class)."""
    request.scope[_UNIT_OF_WORK] = True


async def get_session(request: Request) -> AsyncSession:
    """The request's session: one per request (FastAPI calls this once and shares the result).

    GET and HEAD run without a transaction (autocommit): they read, and the only writes they can
    make are authentication bookkeeping (failure counters, last use) that must persist anyway.
    The session is ended by `end_unit_of_work`, which the API's route class runs after the
    handler and before the answer is sent (a plain dependency rather than a dependency with
    `yield`: FastAPI's exit stacks cost a tenth of a list request).
    """
    if not request.scope.get(_UNIT_OF_WORK):
        raise RuntimeError("a session is only available to routes of ApiRoute (app/http/routing.py)")
    runtime = request.app.state.runtime
    maker = runtime.read_sessionmaker if request.method in READ_METHODS else runtime.sessionmaker
    session: AsyncSession = maker()
    request.scope[_SESSION] = session
    return session


async def end_unit_of_work(request: Request, failure: BaseException | None) -> None:
    """Commit the request's session once, after the handler and before the answer is sent, so
    that a failed commit is never a 2xx; or, after a failure, roll it back, unless the failure
    says its work must persist (`persist_changes`, e.g. a failed login's counter and its record)."""
    session: AsyncSession | None = request.scope.pop(_SESSION, None)
    if session is None:
        return
    try:
        if failure is not None:
            if getattr(failure, "persist_changes", False):
                await session.commit()
            else:
                await session.rollback()
        elif session.in_transaction():  # a commit would otherwise begin one first, to end it
            await session.commit()
    finally:
        if session.in_transaction() or session.identity_map:
            await session.close()  # a session that never began holds nothing to release


async def release_connection(session: AsyncSession) -> None:
    """Give a reading request's connection back to the pool while it waits (a long poll); its
    next statement takes one again. Only for sessions without writes of their own to keep."""
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("release_connection would drop unflushed changes")
    await session.close()


SessionDep = Annotated[AsyncSession, Depends(get_session)]
