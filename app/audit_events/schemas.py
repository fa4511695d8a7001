"""Shapes of audit events (監査ログ)."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.core.ids import RowIdText
from app.core.types import InstantFilter, SearchText


class AuditActor(BaseModel):
    """Who did it."""

    kind: str = Field(description="operator, user, linked_system, anonymous or system")
    id: str | None = Field(description="Login ID, or `key:<id>` for a linked system")


class AuditResource(BaseModel):
    """What it was done to."""

    type: str = Field(examples=["location"])
    id: str | None = Field(examples=["TKY001"])


class AuditEvent(BaseModel):
    """One recorded change or security event. Never carries a password or hash."""

    model_config = ConfigDict(from_attributes=True)

    id: RowIdText
    at: datetime
    actor: AuditActor
    action: str = Field(examples=["location.update"])
    resource: AuditResource
    changes: dict[str, Any] = Field(description="field: [before, after]")
    request_id: str | None
    client_ip: str | None


class AuditFilters(BaseModel):
    """Filters of the audit trail."""

    action: SearchText | None = Field(default=None, description="e.g. `location.update`; partial match")
    actor: SearchText | None = Field(default=None, description="Login ID or `key:<id>`; partial match")
    resource_type: SearchText | None = Field(default=None, description="e.g. `user`; exact")
    since: InstantFilter | None = Field(default=None, description="At or after (ISO 8601 with a time zone)")
    until: InstantFilter | None = Field(default=None, description="Before (ISO 8601 with a time zone)")
