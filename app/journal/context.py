"""The request's context: what every service works with, as one object it receives.

A service is built with one `RequestContext` (`UserService(context)`), never with a base class:
the session of the unit of work (services flush, the route commits), the audit trail (which also
writes the change feed), the process's runtime with its settings and clock, and the caller when
known. Here, in the journal's layer, because the audit trail is the highest thing it holds;
`provide(...)` builds it for a route, `command_context(...)` for a command-line action.

The caller: authentication (app/auth) sits above this layer, so the context holds whatever it
attaches to the request's state (`request.state.principal`, set by auth's dependency), read when
asked and therefore independent of the order in which FastAPI resolves dependencies; a command
passes its own. Services that need the caller's type take it per call from their routers.
"""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any, TypeVar

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.config.clock import Clock
from app.config.settings import Settings
from app.db.session import SessionDep
from app.journal.audit_trail import AuditTrail, request_audit_trail
from app.runtime import Runtime, runtime_of

T = TypeVar("T")


class RequestContext:
    """Session, audit trail, runtime (settings, clock), and the caller when known, of one request."""

    __slots__ = ("audit", "clock", "runtime", "session", "settings", "state")

    def __init__(self, session: AsyncSession, audit: AuditTrail, runtime: Runtime, state: Any = None) -> None:
        self.session = session
        self.audit = audit
        self.runtime = runtime
        self.settings: Settings = runtime.settings
        self.clock: Clock = runtime.clock
        # The request's state (or a command's namespace), where authentication puts the caller.
        self.state = state if state is not None else SimpleNamespace()

    @property
    def principal(self) -> Any:
        """The authenticated caller (an `app.auth.principals.Principal`), or None before
        authentication or without one."""
        return getattr(self.state, "principal", None)


def provide(cls: Callable[[RequestContext], T]) -> Callable[..., Awaitable[T]]:
    """A dependency that builds `cls` with the current request's context (async: FastAPI runs
    sync dependencies in threads)."""

    async def build(session: SessionDep, request: Request) -> T:
        return cls(await request_context(session, request))

    build.__name__ = f"provide_{getattr(cls, '__name__', 'service')}"
    return build


async def request_context(session: AsyncSession, request: Request) -> RequestContext:
    """The context of this request. The audit trail and the runtime are built here, not
    injected: fewer dependencies to resolve on every request, the hot reads included."""
    return RequestContext(
        session, await request_audit_trail(session, request), runtime_of(request), request.state
    )


@asynccontextmanager
async def command_context(runtime: Runtime, principal: Any = None) -> AsyncIterator[RequestContext]:
    """A unit of work for a command-line action: one transaction, audited as the CLI."""
    async with runtime.sessionmaker() as session:
        audit = AuditTrail(session, runtime.clock, f"cli-{uuid.uuid4().hex}", None)
        yield RequestContext(session, audit, runtime, SimpleNamespace(principal=principal))
        await session.commit()
