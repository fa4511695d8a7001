"""Shapes of the change feed (SPEC §5.5)."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
MAX_WAIT_SECONDS = 30
# Far beyond a real cursor (34 characters): anything shorter that is not one answers 400 invalid_cursor.
MAX_AFTER_LENGTH = 1024


class ChangeAction(StrEnum):
    """What happened. Linked systems see the organization and location actions only."""

    ORGANIZATION_UPDATED = "organization.updated"
    LOCATION_CREATED = "location.created"
    LOCATION_UPDATED = "location.updated"
    LOCATION_DELETED = "location.deleted"
    USER_CREATED = "user.created"
    USER_UPDATED = "user.updated"
    USER_DELETED = "user.deleted"


class ChangeResource(BaseModel):
    """What changed."""

    type: str = Field(description="organization, location or user", examples=["location"])
    id: str = Field(
        description="The organization id, the location code, or the login ID", examples=["TKY001"]
    )


class Change(BaseModel):
    """One committed change."""

    cursor: str = Field(description="Follow from here to see what came after this change")
    at: datetime
    action: ChangeAction
    resource: ChangeResource
    data: dict[str, Any] | None = Field(
        description="The resource exactly as its own GET answered right after the change; null when deleted"
    )


class ChangeFeed(BaseModel):
    """Changes after the cursor, oldest first, and where to go on from."""

    items: list[Change]
    next_cursor: str = Field(description="Send as `after` next time (the same cursor when nothing new came)")


class ChangeQuery(BaseModel):
    """Where to start, how many, and how long to wait for a first change."""

    after: str | None = Field(
        default=None,
        max_length=MAX_AFTER_LENGTH,
        description="A cursor or next_cursor of an earlier answer; without it the answer has no items "
        "and next_cursor is the current position",
    )
    limit: int = Field(
        default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Changes per answer (1 to 1000)"
    )
    wait: float = Field(
        default=0,
        ge=0,
        le=MAX_WAIT_SECONDS,
        description="Seconds to wait for a change when there is none after the cursor yet (0 to 30)",
    )
