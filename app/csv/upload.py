"""Uploads: reading the file off the event loop, and the row-level helpers every sheet's plan uses.

A domain plans an upload through its own service (the rules a POST or PATCH applies, row by row);
this module gives it the rows, turns its refusals into row errors, and bounds the answer.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace
from email.message import Message
from typing import Any, Final, TypeVar

import anyio.to_thread
from fastapi import Request
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from app.csv.files import MAX_UPLOAD_BYTES, Row, Table, read_table, row_error, validation_errors
from app.csv.sheet import Sheet
from app.http.errors import FieldError, PayloadTooLarge, ProblemError, UnsupportedMediaType, field_errors
from app.text.rules import normalize

T = TypeVar("T")

# The request body of an upload: the CSV, or a multipart form around it (the application's body
# limit on its upload paths).
MAX_UPLOAD_BODY_BYTES: Final = MAX_UPLOAD_BYTES + 64 * 1024
CSV_MEDIA_TYPES: Final = frozenset({"text/csv", "application/csv", "text/plain"})


@dataclass(frozen=True)
class Upload:
    """An uploaded CSV file: its bytes and the charset its content type named, if any."""

    data: bytes
    charset: str | None


def _parameters(header: str) -> tuple[str, dict[str, str]]:
    """A content type's media type (lower case) and parameters."""
    message = Message()
    message["content-type"] = header
    params = {str(name).lower(): str(value) for name, value in message.get_params(failobj=[])[1:]}
    return message.get_content_type(), params


async def upload(request: Request) -> Upload:
    """The uploaded CSV (a route dependency): the body (`text/csv`) or the `file` of a multipart
    form; 415 for anything else, 413 beyond 5 MiB."""
    media_type, params = _parameters(request.headers.get("content-type", ""))
    if media_type in CSV_MEDIA_TYPES:
        data, charset = await request.body(), params.get("charset")
    elif media_type == "multipart/form-data":
        async with request.form(max_files=1, max_fields=8) as form:
            file = form.get("file")
            if not isinstance(file, UploadFile):
                raise field_errors("missing", "file")
            data = await file.read(MAX_UPLOAD_BYTES + 1)
            charset = _parameters(file.content_type or "")[1].get("charset")
    else:
        raise UnsupportedMediaType("csv_media_type")
    if len(data) > MAX_UPLOAD_BYTES:
        raise PayloadTooLarge(context={"limit": MAX_UPLOAD_BYTES})
    return Upload(data, charset)


async def off_loop(function: Callable[..., T], *args: Any) -> T:
    """Run CPU-bound work of an upload (decoding, parsing, validating 10,000 rows) in a worker
    thread, so that the event loop keeps answering other requests meanwhile."""
    return await anyio.to_thread.run_sync(function, *args)


async def read_upload(file: Upload, sheet: Sheet) -> Table:
    """The file's rows (see `read_table`), read off the event loop."""
    return await off_loop(read_table, file.data, file.charset, sheet)


def cells(sheet: Sheet, row: Row, *without: str) -> dict[str, Any]:
    """A row's cells as a schema takes them: an empty cell of an optional column is null (clears
    it), a choice by its label or JSON name (the column's `read`)."""
    values: dict[str, Any] = {}
    optional = sheet.optional
    columns = {column.name: column for column in sheet.columns}
    for name, cell in row.cells.items():
        if name in without:
            continue
        if name in optional and not normalize(cell):
            values[name] = None
        else:
            values[name] = columns[name].read(cell)
    return values


def errors_of(
    sheet: Sheet, line: int, exc: ValidationError | ProblemError, headings: dict[str, str], whole: str
) -> list[FieldError]:
    """A row's refusal (pydantic's, or a service rule's) as row errors. A refusal of the whole
    change (e.g. 403 `role_not_allowed`) is put on the column `whole` that decides it."""
    if isinstance(exc, ValidationError):
        errors = validation_errors(line, exc, headings)
    elif exc.errors:
        errors = [row_error(line, error.field, error.code, headings, error) for error in exc.errors]
    else:
        errors = [row_error(line, whole, exc.code, headings, FieldError(whole, exc.code, exc.context))]
    return [
        replace(error, code=sheet.codes[(error.field, error.code)], context={})
        if (error.field, error.code) in sheet.codes
        else error
        for error in errors
    ]


def unique(table: Table, sheet: Sheet, key: Callable[[str], str]) -> list[tuple[Row, str]]:
    """The rows with their key (normalized by `key`); a key given again is an error of the later row."""
    first: dict[str, int] = {}
    rows = []
    for row in table.rows:
        value = key(row.cells.get(sheet.key, ""))
        if value in first:
            error = FieldError(sheet.key, "csv_duplicate_row", {"first": first[value]})
            table.errors.append(row_error(row.line, sheet.key, error.code, table.headings, error))
            continue
        first[value] = row.line
        rows.append((row, value))
    return rows
