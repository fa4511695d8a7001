"""One resource answered straight from its row: the JSON its GET answers, and its ETag.

The single-resource twin of `page_json`: a read or a write that selected (or returned) the
resource's columns in the order of its schema's fields writes them as JSON at once, with no
model built and validated in between, and the route answers those bytes (it declares the
schema as `response_model` for the document). A list answers its rows as its single read
answers one (`rows_page_json`), for every schema. Whatever records the resource takes the same
form (`public_form`), so that what it says is exactly what the GET answers.

A schema with a field that is not a plain column (an id shown as text, a stored list shown as a
list, a joined object) has its row validated once by the schema instead (`row_json`, which tells
the two apart by the schema): still no ORM object, no session transaction for a read.
"""

import types
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from functools import lru_cache
from typing import Any, Union, get_args, get_origin

import orjson
from fastapi import Request, Response
from pydantic import BaseModel

from app.http.etag import etag
from app.http.headers import member_url
from app.http.pagination import PageRequest, item_json, page_around, page_json

JSON = "application/json"
# Values a column holds that a field of the same type shows as they are.
_PLAIN = (str, int, bool, float, datetime)


def _plain_type(annotation: Any) -> bool:
    if get_origin(annotation) in (Union, types.UnionType):
        return all(_plain_type(arg) for arg in get_args(annotation))
    if annotation is type(None) or annotation in _PLAIN:
        return True
    return isinstance(annotation, type) and issubclass(annotation, Enum) and issubclass(annotation, str)


@lru_cache(maxsize=128)
def written_as_stored(schema: type[BaseModel]) -> bool:
    """Whether `item_json` writes a row of `schema`'s fields as pydantic would: every field a plain
    value (str, int, bool, float, datetime, a str enum, or None) under its own name, with nothing
    that converts it (validators, serializers, computed fields)."""
    decorators = schema.__pydantic_decorators__
    if any(
        (
            decorators.field_validators,
            decorators.model_validators,
            decorators.field_serializers,
            decorators.model_serializers,
            decorators.computed_fields,
        )
    ):
        return False
    return all(
        not field.metadata and field.serialization_alias is None and _plain_type(field.annotation)
        for field in schema.model_fields.values()
    )


def row_json(schema: type[BaseModel], columns: tuple[str, ...], row: Sequence[Any]) -> bytes:
    """The JSON of one `schema` from a row: written straight from the row (`item_json`: its
    leading columns are the fields, in order) when the schema shows its columns as they are, else
    validated by the schema once (`validated`: columns named by fields, in any order)."""
    if written_as_stored(schema):
        return item_json(schema, columns, row)
    model = validated(schema, columns, row)
    return model.__pydantic_serializer__.to_json(model)


def rows_page_json(
    schema: type[BaseModel],
    columns: tuple[str, ...],
    rows: Sequence[Sequence[Any]],
    total: int,
    page: PageRequest,
) -> bytes:
    """The JSON of `Page[schema]` from rows read by a list (`Repository.listed`: the columns its
    single read selects, then `_total` and the like), each item as `row_json` writes the single
    read: byte for byte what pydantic writes for the page, with no ORM object in between."""
    if written_as_stored(schema):
        return page_json(schema, columns, rows, total, page)
    return page_around([orjson.Fragment(row_json(schema, columns, row)) for row in rows], total, page)


@dataclass(frozen=True, slots=True)
class StoredResource:
    """A resource as stored now: its JSON and its version."""

    body: bytes
    version: int

    @classmethod
    def from_row(
        cls, schema: type[BaseModel], columns: tuple[str, ...], row: Sequence[Any]
    ) -> "StoredResource":
        """From a row of `schema`'s fields (one of them `version`), as `row_json` takes it."""
        return cls(row_json(schema, columns, row), int(row[columns.index("version")]))

    @classmethod
    def from_model(cls, resource: BaseModel, *, exclude_unset: bool = False) -> "StoredResource":
        """From a resource built otherwise (a row and what it shows besides), with its `version`."""
        body = resource.model_dump_json(exclude_unset=exclude_unset).encode()
        return cls(body, int(resource.version))  # type: ignore[attr-defined]

    def public_form(self) -> dict[str, Any]:
        """The JSON-ready values, as the resource's GET answers them."""
        form: dict[str, Any] = orjson.loads(self.body)
        return form

    def response(self, status_code: int = 200) -> Response:
        """The answer: the JSON with the version's ETag."""
        return Response(
            self.body, status_code=status_code, media_type=JSON, headers={"ETag": etag(self.version)}
        )

    def created(self, request: Request, identifier: str) -> Response:
        """201 with the new resource's `Location` under the collection, and its ETag."""
        answer = self.response(201)
        answer.headers["Location"] = member_url(request, identifier)
        return answer


# A column named `field__member` is the member of a nested object (a designation's `agent`).
NESTED = "__"


def validated(schema: type[BaseModel], columns: tuple[str, ...], row: Sequence[Any]) -> BaseModel:
    """`schema` validated from a row whose columns are named by its fields (and `field__member`
    for the members of a nested field): the schema's own validators turn stored forms into
    shown ones. Columns that are no field (a key kept for a write) are ignored."""
    values: dict[str, Any] = {}
    for name, value in zip(columns, row, strict=True):
        field, _, member = name.partition(NESTED)
        if member:
            values.setdefault(field, {})[member] = value
        else:
            values[name] = value
    return schema.model_validate(values)
