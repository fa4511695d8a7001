"""What every domain service is built from, and how a router gets one."""

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import AuditDep, AuditTrail
from app.core.db import SessionDep
from app.core.runtime import Runtime, RuntimeDep

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

    async def build(session: SessionDep, audit: AuditDep, runtime: RuntimeDep) -> ServiceT:
        return cls(session, audit, runtime)

    build.__name__ = f"provide_{cls.__name__}"
    return build
