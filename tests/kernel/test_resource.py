"""One resource's JSON from its row (app/http/resource.py): straight from the row when the schema
shows its columns as they are, else through the schema once; the same bytes either way."""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, Field

from app.http.pagination import Page, PageRequest
from app.http.resource import StoredResource, row_json, rows_page_json, written_as_stored

AT = datetime(2026, 4, 1, 9, 0, 0, 123456, tzinfo=UTC)


class Kind(StrEnum):
    A = "a"


class Plain(BaseModel):
    name: str
    kind: Kind
    note: str | None
    at: datetime
    enabled: bool
    version: int


class Listed(BaseModel):
    id: Annotated[str, BeforeValidator(lambda value: f"{value:09d}" if isinstance(value, int) else value)]
    tags: list[str]
    at: datetime | None = Field(default=None)
    version: int


def test_plain_columns_are_written_as_they_are() -> None:
    assert written_as_stored(Plain)
    columns = (*Plain.model_fields, "id")
    row = ("名前", "a", None, AT, True, 3, 42)
    resource = StoredResource.from_row(Plain, columns, row)
    assert (
        resource.body
        == Plain.model_validate(dict(zip(columns, row, strict=False))).model_dump_json().encode()
    )
    assert resource.version == 3


def test_other_fields_go_through_the_schema_once() -> None:
    assert not written_as_stored(Listed)
    columns = (*Listed.model_fields, "organization_id")
    row = (7, ["x", "y"], AT, 2, 1)
    body = row_json(Listed, columns, row)
    assert body == b'{"id":"000000007","tags":["x","y"],"at":"2026-04-01T09:00:00.123456Z","version":2}'
    assert StoredResource.from_row(Listed, columns, row).public_form()["id"] == "000000007"


def test_a_model_answers_what_it_sets() -> None:
    resource = StoredResource.from_model(Listed(id="1", tags=[], version=5), exclude_unset=True)
    assert resource.body == b'{"id":"1","tags":[],"version":5}'
    assert resource.version == 5


def test_a_list_writes_each_row_as_its_single_read() -> None:
    """`rows_page_json`: pydantic's page, each item the bytes `row_json` writes, for schemas of
    either kind, the list's `_total` after the columns."""
    page = PageRequest(limit=2, offset=4, sort=None)
    cases: list[tuple[type[BaseModel], tuple[str, ...], list[tuple[object, ...]]]] = [
        (Listed, (*Listed.model_fields, "_total"), [(7, ["x"], AT, 2, 9), (8, [], None, 1, 9)]),
        (Plain, (*Plain.model_fields, "id", "_total"), [("名", "a", None, AT, False, 1, 3, 9)]),
    ]
    for schema, columns, rows in cases:
        written = rows_page_json(schema, columns, rows, 9, page)
        items = [b.decode() for b in (row_json(schema, columns, row) for row in rows)]
        assert written == f'{{"items":[{",".join(items)}],"total":9,"limit":2,"offset":4}}'.encode()
        expected = Page[schema](  # type: ignore[valid-type]
            items=[schema.model_validate(dict(zip(columns, row, strict=True))) for row in rows],
            total=9,
            limit=2,
            offset=4,
        )
        assert written == expected.model_dump_json().encode()
    assert rows_page_json(Listed, ("id",), [], 0, page) == b'{"items":[],"total":0,"limit":2,"offset":4}'
