"""Shapes of locations (依頼人拠点)."""

from datetime import datetime
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from app.db.filters import Filters
from app.http.pagination import PageQuery
from app.locations.types import DelegateNumber, LocationCode
from app.text.types import BlankIsNull, FullWidthName, FullWidthShortName, SearchText

_EXAMPLE: dict[str, JsonValue] = {
    "code": "TKY001",
    "name": "東京本店",
    "short_name": "東京本店",
    "delegate_number": "1234567",
}


class Location(BaseModel):
    """依頼人拠点."""

    model_config = ConfigDict(
        from_attributes=True, json_schema_extra={"examples": [{**_EXAMPLE, "version": 1}]}
    )

    # Each title is the screens' label: the heading of the CSV column (app/locations/sheet.py).
    code: str = Field(title="依頼人拠点コード", description="依頼人拠点コード: never changes")
    name: str = Field(title="依頼人拠点名", description="依頼人拠点名")
    short_name: str = Field(title="依頼人拠点名（略称）", description="依頼人拠点名（略称）")
    delegate_number: str | None = Field(
        title="記録等事務代行者委託番号", description="記録等事務代行者委託番号"
    )
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="Also sent as the ETag")


class LocationCreate(BaseModel):
    """依頼人拠点の追加."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EXAMPLE]})

    code: LocationCode
    name: FullWidthName
    short_name: FullWidthShortName
    delegate_number: Annotated[DelegateNumber | None, BlankIsNull] = Field(
        default=None, description='記録等事務代行者委託番号; optional (`""` or null: none)'
    )


class LocationUpdate(BaseModel):
    """依頼人拠点情報の変更 / 記録等事務代行者委託番号の設定. Absent fields stay; the code never changes."""

    # Sending one of these is an attempt to change what identifies the resource (immutable_field).
    immutable_fields: ClassVar[frozenset[str]] = frozenset({"code"})

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"name": "東京本店", "delegate_number": None}]}
    )

    name: FullWidthName = None  # type: ignore[assignment]  # absent: unchanged; null is refused
    short_name: FullWidthShortName = None  # type: ignore[assignment]
    delegate_number: Annotated[DelegateNumber | None, BlankIsNull] = Field(
        default=None, description='記録等事務代行者委託番号; `""` or null removes the number'
    )


class LocationFilters(Filters):
    """依頼人拠点検索: each filter matches partially, ignoring width and case."""

    also_sortable = ("created_at", "updated_at")

    code: SearchText | None = Field(default=None, description="依頼人拠点コード")
    name: SearchText | None = Field(default=None, description="依頼人拠点名")
    short_name: SearchText | None = Field(default=None, description="依頼人拠点名（略称）")
    delegate_number: SearchText | None = Field(default=None, description="記録等事務代行者委託番号")


class LocationQuery(PageQuery, LocationFilters):
    """The query string of the location list: its filters and the page."""
