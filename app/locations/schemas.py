"""Shapes of locations (依頼人拠点)."""

from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from app.db.filters import Filters
from app.http.fields import CreatedAt, UpdatedAt, Version
from app.http.pagination import PageQuery
from app.locations.types import DelegateNumber, LocationCode
from app.text.types import PARTIAL_MATCH, BlankIsNull, FullWidthName, FullWidthShortName, SearchText

# The screens' labels of a location's fields (SPEC §2.2): the titles of its schemas' fields, the
# headings of its CSV columns (app/locations/sheet.py) and of its list's filters.
CODE = "依頼人拠点コード"
NAME = "依頼人拠点名"
SHORT_NAME = "依頼人拠点名（略称）"
DELEGATE_NUMBER = "記録等事務代行者委託番号"

_EXAMPLE: dict[str, JsonValue] = {
    "code": "TKY001",
    "name": "東京本店",
    "short_name": "東京本店",
    "delegate_number": "1234567",
}


class Location(BaseModel):
    """A location (store) of the organization."""

    model_config = ConfigDict(
        from_attributes=True, json_schema_extra={"examples": [{**_EXAMPLE, "version": 1}]}
    )

    code: str = Field(title=CODE, description="Never changes")
    name: str = Field(title=NAME)
    short_name: str = Field(title=SHORT_NAME)
    delegate_number: str | None = Field(
        title=DELEGATE_NUMBER,
        description="The commission number as the transport bureau notified it; null: none",
    )
    created_at: CreatedAt
    updated_at: UpdatedAt
    version: Version


class LocationCreate(BaseModel):
    """A new location."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EXAMPLE]})

    code: LocationCode = Field(title=CODE)
    name: FullWidthName = Field(title=NAME)
    short_name: FullWidthShortName = Field(title=SHORT_NAME)
    delegate_number: Annotated[DelegateNumber | None, BlankIsNull] = Field(
        default=None, title=DELEGATE_NUMBER, description='Optional (`""` or null: none)'
    )


class LocationUpdate(BaseModel):
    """A change of a location: absent fields stay; the code never changes."""

    # Sending one of these is an attempt to change what identifies the resource (immutable_field).
    immutable_fields: ClassVar[frozenset[str]] = frozenset({"code"})

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"name": "東京本店", "delegate_number": None}]}
    )

    name: FullWidthName = Field(default=None, title=NAME)  # type: ignore[assignment]  # absent: unchanged; null is refused
    short_name: FullWidthShortName = Field(default=None, title=SHORT_NAME)  # type: ignore[assignment]
    delegate_number: Annotated[DelegateNumber | None, BlankIsNull] = Field(
        default=None, title=DELEGATE_NUMBER, description='`""` or null removes the number'
    )


class LocationFilters(Filters):
    """The filters of the location search: each matches partially, ignoring width and case."""

    also_sortable = ("created_at", "updated_at")

    code: SearchText | None = Field(default=None, title=CODE, description=PARTIAL_MATCH)
    name: SearchText | None = Field(default=None, title=NAME, description=PARTIAL_MATCH)
    short_name: SearchText | None = Field(default=None, title=SHORT_NAME, description=PARTIAL_MATCH)
    delegate_number: SearchText | None = Field(default=None, title=DELEGATE_NUMBER, description=PARTIAL_MATCH)


class LocationQuery(PageQuery, LocationFilters):
    """The query string of the location list: its filters and the page."""
