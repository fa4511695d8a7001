"""Lists: `{items, total, limit, offset}`, with limit, offset and sort from the query string."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Depends, Query
from pydantic import BaseModel, Field

from app.http.errors import field_errors

ItemT = TypeVar("ItemT")

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
# Far beyond any real list, small enough that no database integer overflows.
MAX_OFFSET = 2_147_483_647

# The screens' labels of the paging parameters, and what they mean (one place for every list).
LIMIT_TITLE = "表示件数"
OFFSET_TITLE = "開始位置"
SORT_TITLE = "並び順"
_LIMIT_DESCRIPTION = f"Items per page (1 to {MAX_LIMIT})"
_OFFSET_DESCRIPTION = "Items to skip"
_SORT_DESCRIPTION = "A listed field to sort by; prefix `-` for descending"


class Page(BaseModel, Generic[ItemT]):
    """One page of a list and how many items match in all (全 N 件)."""

    items: list[ItemT] = Field(title="一覧", description="The items of this page")
    total: int = Field(title="該当件数", description="How many items match the filters in all")
    limit: int = Field(title=LIMIT_TITLE, description="The most items a page holds")
    offset: int = Field(title=OFFSET_TITLE, description="How many matching items come before this page")

    @classmethod
    def model_parametrized_name(cls, params: tuple[type[Any], ...]) -> str:
        """`ItemPage`, the name a developer would write (not pydantic's `Page[Item]`)."""
        return f"{params[0].__name__}Page"


@dataclass(frozen=True, slots=True)
class PageRequest:
    """The requested window and order."""

    limit: int
    offset: int
    sort: str | None

    def sort_key(self, columns: Mapping[str, Any], default: str) -> str:
        """`sort` (a listed field, `-` for descending) or the default; 422 for any other field."""
        sort = self.sort or default
        if sort.removeprefix("-") not in columns:
            allowed = ", ".join(sorted(columns))
            raise field_errors("invalid_sort", "sort", allowed=allowed)
        return sort

    def order_by(self, columns: Mapping[str, Any], default: str, tiebreaker: Any) -> list[Any]:
        """ORDER BY for `sort` (see sort_key and `ordering`)."""
        return ordering(columns, self.sort_key(columns, default), tiebreaker)


def ordering(columns: Mapping[str, Any], sort: str, tiebreaker: Any) -> list[Any]:
    """ORDER BY for a checked sort key (`PageRequest.sort_key`), with a unique last key for stable
    pages: what a list select built once per sort key orders by.

    A column that may be NULL (last_login_at: never) sorts NULL first ascending and last
    descending, on every database (PostgreSQL would do the opposite of SQLite).
    """
    column = columns[sort.removeprefix("-")]
    descending = sort.startswith("-")
    key = column.desc() if descending else column.asc()
    if getattr(getattr(column, "expression", column), "nullable", False):
        key = key.nulls_last() if descending else key.nulls_first()
    return [key, tiebreaker]


class PageQuery(BaseModel):
    """The paging parameters, as fields of a list's query model (`Annotated[XQuery, Query()]`).

    A list with filters takes one query model of its filters and these, so that FastAPI documents
    every filter as its own optional query parameter (with a model and further parameters beside
    it, the model would be one required object parameter).
    """

    limit: int = Field(
        default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, title=LIMIT_TITLE, description=_LIMIT_DESCRIPTION
    )
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET, title=OFFSET_TITLE, description=_OFFSET_DESCRIPTION)
    sort: str | None = Field(default=None, max_length=40, title=SORT_TITLE, description=_SORT_DESCRIPTION)

    def page(self) -> PageRequest:
        """The requested window and order."""
        return PageRequest(self.limit, self.offset, self.sort)


async def page_request(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, title=LIMIT_TITLE, description=_LIMIT_DESCRIPTION)
    ] = DEFAULT_LIMIT,
    offset: Annotated[
        int, Query(ge=0, le=MAX_OFFSET, title=OFFSET_TITLE, description=_OFFSET_DESCRIPTION)
    ] = 0,
    sort: Annotated[str | None, Query(max_length=40, title=SORT_TITLE, description=_SORT_DESCRIPTION)] = None,
) -> PageRequest:
    """Read the paging parameters of a list without filters."""
    return PageRequest(limit, offset, sort)


PageDep = Annotated[PageRequest, Depends(page_request)]


@lru_cache(maxsize=64)
def _fields_leading(item: type[BaseModel], columns: tuple[str, ...]) -> tuple[str, ...]:
    """`item`'s fields, checked once per select to be its leading columns."""
    fields = tuple(item.model_fields)
    if columns[: len(fields)] != fields:
        raise ValueError(f"columns {columns} do not start with the fields of {item.__name__}")
    return fields


def page_json(
    item: type[BaseModel],
    columns: tuple[str, ...],
    rows: Sequence[Sequence[Any]],
    total: int,
    page: PageRequest,
) -> bytes:
    """The JSON of `Page[item]` for rows read from the database, straight to bytes.

    For lists whose items are plain columns (str, int, None, aware UTC datetimes), selected in
    the order of `item`'s fields and followed by anything else (the total): the rows are the
    database's own and need no validation, and orjson writes what pydantic would write (same
    members in the same order, datetimes as `...Z`) in a tenth of the time; a test holds the two
    byte for byte. The route declares `response_model=Page[item]` for the document.
    """
    fields = _fields_leading(item, columns)
    return page_around([dict(zip(fields, row, strict=False)) for row in rows], total, page)


def page_around(items: list[Any], total: int, page: PageRequest) -> bytes:
    """The JSON of a page of these items: each a dict of plain values (`page_json`) or an item
    written already (`orjson.Fragment`, app/http/resource.py `rows_page_json`)."""
    document = {"items": items, "total": total, "limit": page.limit, "offset": page.offset}
    return orjson.dumps(document, option=orjson.OPT_UTC_Z)


def item_json(item: type[BaseModel], columns: tuple[str, ...], row: Sequence[Any]) -> bytes:
    """The JSON of one `item` read from the database, as `page_json` writes each of its items
    (the same rules: plain columns in the order of `item`'s fields, anything else after)."""
    return orjson.dumps(dict(zip(_fields_leading(item, columns), row, strict=False)), option=orjson.OPT_UTC_Z)
