"""The one append-only way to write an audit event, in the caller's transaction."""

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import Clock
from app.core.db import SessionDep
from app.core.runtime import runtime_of
from app.models import AuditEvent

# Never recorded, whatever a caller passes: the audit trail must not become a secret store.
SECRET_FIELDS = frozenset(
    {"password", "password_hash", "api_password", "api_password_hash", "current_password", "new_password"}
)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did it: kind (operator, user, linked_system, anonymous, system) and login ID or key id."""

    kind: str
    id: str | None


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """`{field: [before, after]}` for the fields whose value changed."""
    return {name: [before.get(name), value] for name, value in after.items() if before.get(name) != value}


class AuditTrail:
    """Appends audit events for one request (its id and client address) or one CLI command."""

    def __init__(
        self, session: AsyncSession, clock: Clock, request_id: str | None, client_ip: str | None
    ) -> None:
        self.session = session
        self.clock = clock
        self.request_id = request_id
        self.client_ip = client_ip

    async def record(
        self,
        actor: Actor,
        action: str,
        resource_type: str,
        resource_id: str | None,
        organization_id: int | None,
        changes: dict[str, Any] | None = None,
    ) -> AuditEvent:
        """Add one event to the current transaction (written with the change it records)."""
        safe_changes = {name: value for name, value in (changes or {}).items() if name not in SECRET_FIELDS}
        event = AuditEvent(
            at=self.clock.now(),
            organization_id=organization_id,
            actor_kind=actor.kind,
            actor_id=actor.id,
            action=action,
            resource_type=resource_type,
            resource_id=resource_id,
            changes=safe_changes,
            request_id=self.request_id,
            client_ip=self.client_ip,
        )
        # Written with the next flush or at commit, in the same transaction as the change: one
        # flush per request instead of one per event. A failing insert fails the commit.
        self.session.add(event)
        return event


async def request_audit_trail(session: SessionDep, request: Request) -> AuditTrail:
    """The audit trail of this request, in its session."""
    return AuditTrail(
        session,
        runtime_of(request).clock,
        getattr(request.state, "request_id", None),
        request.client.host if request.client else None,
    )
