"""page_json writes lists from database rows without pydantic: it must write pydantic's bytes."""

from datetime import UTC, datetime

import pytest

from app.http.pagination import Page, PageRequest, page_json
from app.locations.schemas import Location

COLUMNS = (
    "code",
    "name",
    "short_name",
    "delegate_number",
    "created_at",
    "updated_at",
    "version",
    "_total",
)
# The Location schema's fields first, then the total (as LocationRepository selects them).


def test_page_json_writes_the_bytes_pydantic_writes() -> None:
    rows = [
        (
            "TKY001",
            "東京本店",
            "東京",
            None,
            datetime(2026, 4, 1, tzinfo=UTC),
            datetime(2026, 4, 1, tzinfo=UTC),
            1,
            3,
        ),
        (
            "OSK002",
            "大阪「駅前」店",
            "大阪",
            "12345678901234567890",
            datetime(2026, 4, 1, 9, 0, 0, 5, tzinfo=UTC),
            datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
            2_147_483_647,
            3,
        ),
        (
            'Q"\\',
            "名古屋\u3000店",
            "名古屋",
            "1",
            datetime(2026, 4, 1, 9, 0, 0, 123000, tzinfo=UTC),
            datetime(1970, 1, 1, tzinfo=UTC),
            12,
            3,
        ),
    ]
    page = PageRequest(limit=3, offset=6, sort=None)
    expected = Page[Location](
        items=[Location.model_validate(dict(zip(COLUMNS, row, strict=True))) for row in rows],
        total=9,
        limit=3,
        offset=6,
    ).model_dump_json()
    assert page_json(Location, COLUMNS, rows, 9, page).decode() == expected


def test_an_empty_page_keeps_its_total() -> None:
    page = PageRequest(limit=50, offset=100, sort=None)
    assert page_json(Location, COLUMNS, [], 12, page) == b'{"items":[],"total":12,"limit":50,"offset":100}'


def test_columns_out_of_the_schema_order_are_refused() -> None:
    page = PageRequest(limit=50, offset=0, sort=None)
    with pytest.raises(ValueError, match="do not start with the fields"):
        page_json(Location, ("name", "code"), [("東京", "TKY")], 1, page)
