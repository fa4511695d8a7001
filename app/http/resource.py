"""One resource answered straight from its row: the JSON its GET answers, and its ETag.

The single-resource twin of `page_json`: a read or a write that selected (or returned) the
resource's columns in the order of its schema's fields writes them as JSON at once, with no
model built and validated in between, and the route answers those bytes (it declares the
schema as `response_model` for the document). Whatever records the resource takes the same
form (`public_form`), so that what it says is exactly what the GET answers.
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
