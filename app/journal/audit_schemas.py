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

    kind: str = Field(
        title="種別", description="`operator`, `user`, `linked_system`, `anonymous` or `system`"
    )
    id: str | None = Field(title="操作者ID", description="Login ID, or `key:<id>` for a linked system")


class AuditResource(BaseModel):
    """What it was done to."""

    type: str = Field(title="種類", description="The kind of resource", examples=["location"])
    id: str | None = Field(
        title="対象ID", description="The resource's id, code or login ID", examples=["TKY001"]
    )


class AuditEvent(BaseModel):
    """One recorded change or security event. Never carries a password or hash."""

    model_config = ConfigDict(from_attributes=True)

    id: RowIdText = Field(title="監査ログID")
    at: datetime = Field(title="日時", description="When it happened")
    actor: AuditActor = Field(title="操作者")
    action: str = Field(title="操作", description="What was done", examples=["location.update"])
    resource: AuditResource = Field(title="対象")
    changes: dict[str, Any] = Field(title="変更内容", description="field: [before, after]")
    request_id: str | None = Field(title="リクエストID", description="The request's `X-Request-ID`")
    client_ip: str | None = Field(title="接続元IPアドレス", description="The caller's address")


class AuditFilters(Filters):
    """Filters of the audit trail."""

    also_sortable = ("at",)

    action: Annotated[SearchText | None, Filter(Match.CONTAINS_LOWERCASE)] = Field(
        default=None, title="操作", description="e.g. `location.update`; partial match"
    )
    actor: Annotated[SearchText | None, Filter(columns=("actor_id",), sortable=False)] = Field(
        default=None, title="操作者", description="Login ID or `key:<id>`; partial match"
    )
    resource_type: Annotated[SearchText | None, Filter(Match.EXACT, sortable=False)] = Field(
        default=None, title="対象の種類", description="e.g. `user`; exact"
    )
    since: Annotated[InstantFilter | None, Filter(Match.SINCE, columns=("at",))] = Field(
        default=None, title="開始日時", description="At or after (ISO 8601 with a time zone)"
    )
    until: Annotated[InstantFilter | None, Filter(Match.UNTIL, columns=("at",))] = Field(
        default=None, title="終了日時", description="Before (ISO 8601 with a time zone)"
    )


class AuditQuery(PageQuery, AuditFilters):
    """The query string of the audit trail: its filters and the page."""
