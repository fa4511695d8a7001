"""Shapes of audit events (監査ログ)."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from app.db.filters import Filter, Filters, Match
from app.http.ids import RowIdText
from app.http.pagination import PageQuery
from app.text.types import InstantFilter, SearchText


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


class AuditFilters(Filters):
    """Filters of the audit trail."""

    also_sortable = ("at",)

    action: Annotated[SearchText | None, Filter(Match.CONTAINS_LOWERCASE)] = Field(
        default=None, description="e.g. `location.update`; partial match"
    )
    actor: Annotated[SearchText | None, Filter(columns=("actor_id",), sortable=False)] = Field(
        default=None, description="Login ID or `key:<id>`; partial match"
    )
    resource_type: Annotated[SearchText | None, Filter(Match.EXACT, sortable=False)] = Field(
        default=None, description="e.g. `user`; exact"
    )
    since: Annotated[InstantFilter | None, Filter(Match.SINCE, columns=("at",))] = Field(
        default=None, description="At or after (ISO 8601 with a time zone)"
    )
    until: Annotated[InstantFilter | None, Filter(Match.UNTIL, columns=("at",))] = Field(
        default=None, description="Before (ISO 8601 with a time zone)"
    )


class AuditQuery(PageQuery, AuditFilters):
    """The query string of the audit trail: its filters and the page."""
