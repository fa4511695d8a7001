"""What every domain service is built from, and how a router gets one."""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.session import SessionDep
from app.journal.audit_trail import AuditTrail, request_audit_trail
from app.runtime import Runtime, runtime_of

ServiceT = TypeVar("ServiceT", bound="Service")


class Service:
    """A unit of business rules over one request's session: flushes and audits, never commits."""

    def __init__(self, session: AsyncSession, audit: AuditTrail, runtime: Runtime) -> None:
        self.session = session
        self.audit = audit
        self.runtime = runtime
        self.settings = runtime.settings
        self.clock = runtime.clock


def provide(cls: type[ServiceT]) -> Callable[..., Awaitable[ServiceT]]:
    """A dependency that builds `cls` for the current request (async: FastAPI runs sync ones in threads)."""

    async def build(session: SessionDep, request: Request) -> ServiceT:
        # The audit trail and the runtime are built here, not injected: fewer dependencies to
        # resolve on every request, the hot reads included.
        return cls(session, await request_audit_trail(session, request), runtime_of(request))

    build.__name__ = f"provide_{cls.__name__}"
    return build


@asynccontextmanager
async def command_session(runtime: Runtime) -> AsyncIterator[tuple[AsyncSession, AuditTrail]]:
    """A unit of work for a command-line action: one transaction, audited as the CLI."""
    async with runtime.sessionmaker() as session:
        yield session, AuditTrail(session, runtime.clock, f"cli-{uuid.uuid4().hex}", None)
        await session.commit()
