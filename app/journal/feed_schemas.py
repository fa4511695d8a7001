"""Shapes of the change feed (SPEC §5.5)."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from app.http.pagination import LIMIT_TITLE

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
MAX_WAIT_SECONDS = 30
# Far beyond a real cursor (34 characters): anything shorter that is not one answers 400 invalid_cursor.
MAX_AFTER_LENGTH = 1024


class ChangeAction(StrEnum):
    """What happened. Linked systems see every action but the user actions."""

    ORGANIZATION_UPDATED = "organization.updated"
    LOCATION_CREATED = "location.created"
    LOCATION_UPDATED = "location.updated"
    LOCATION_DELETED = "location.deleted"
    USER_CREATED = "user.created"
    USER_UPDATED = "user.updated"
    USER_DELETED = "user.deleted"
    AGENT_DESIGNATION_CREATED = "agent_designation.created"
    AGENT_DESIGNATION_UPDATED = "agent_designation.updated"
    AGENT_DESIGNATION_DELETED = "agent_designation.deleted"
    APPLICATION_TEMPLATE_CREATED = "application_template.created"
    APPLICATION_TEMPLATE_UPDATED = "application_template.updated"
    APPLICATION_TEMPLATE_DELETED = "application_template.deleted"


class ChangeResource(BaseModel):
    """What changed."""

    type: str = Field(
        title="種類",
        description="organization, location, user, agent_designation or application_template",
        examples=["location"],
    )
    id: str = Field(
        title="対象ID",
        description="The organization id, the location code, the login ID, or the designation's or template's id",
        examples=["TKY001"],
    )


class Change(BaseModel):
    """One committed change."""

    cursor: str = Field(title="カーソル", description="Follow from here to see what came after this change")
    at: datetime = Field(title="日時", description="When the change committed")
    action: ChangeAction = Field(title="操作")
    resource: ChangeResource = Field(title="対象")
    data: dict[str, Any] | None = Field(
        title="変更後の内容",
        description="The resource exactly as its own GET answered right after the change; null when deleted",
    )


class ChangeFeed(BaseModel):
    """Changes after the cursor, oldest first, and where to go on from."""

    items: list[Change] = Field(title="変更", description="Oldest first")
    next_cursor: str = Field(
        title="次のカーソル", description="Send as `after` next time (the same cursor when nothing new came)"
    )


class ChangeQuery(BaseModel):
    """Where to start, how many, and how long to wait for a first change."""

    after: str | None = Field(
        default=None,
        max_length=MAX_AFTER_LENGTH,
        title="カーソル",
        description="A cursor or next_cursor of an earlier answer; without it the answer has no items "
        "and next_cursor is the current position",
    )
    limit: int = Field(
        default=DEFAULT_LIMIT,
        ge=1,
        le=MAX_LIMIT,
        title=LIMIT_TITLE,
        description="Changes per answer (1 to 1000)",
    )
    wait: float = Field(
        default=0,
        ge=0,
        le=MAX_WAIT_SECONDS,
        title="待ち時間（秒）",
        description="Seconds to wait for a change when there is none after the cursor yet (0 to 30)",
    )
