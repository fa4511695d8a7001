"""One resource answered straight from its row: the JSON its GET answers, and its ETag.

The single-resource twin of `page_json`: a read or a write that selected (or returned) the
resource's columns in the order of its schema's fields writes them as JSON at once, with no
model built and validated in between, and the route answers those bytes (it declares the
schema as `response_model` for the document). Whatever records the resource takes the same
form (`public_form`), so that what it says is exactly what the GET answers.

A schema whose fields are not all plain columns (an id shown as text, a stored list shown as a
list, a joined object) takes its row through the schema once instead (`validated`): still no ORM
object, no session transaction for a read.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import Request, Response
from pydantic import BaseModel

from app.http.etag import etag
from app.http.headers import member_url
from app.http.pagination import item_json

JSON = "application/json"


@dataclass(frozen=True, slots=True)
class StoredResource:
    """A resource as stored now: its JSON and its version."""

    body: bytes
    version: int

    @classmethod
    def from_row(
        cls, schema: type[BaseModel], columns: tuple[str, ...], row: Sequence[Any]
    ) -> "StoredResource":
        """From a row whose leading columns are `schema`'s fields (one of them `version`)."""
        return cls(item_json(schema, columns, row), int(row[columns.index("version")]))

    @classmethod
    def through_schema(
        cls, schema: type[BaseModel], columns: tuple[str, ...], row: Sequence[Any]
    ) -> "StoredResource":
        """From a row read in the form `validated` takes, validated by `schema` once."""
        model = validated(schema, columns, row)
        return cls(model.__pydantic_serializer__.to_json(model), int(model.__dict__["version"]))

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
