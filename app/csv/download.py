"""Downloads: a select's rows streamed from the database as a CSV file of a sheet (SPEC §5.6).

UTF-8 streams one chunk per batch of rows; Shift_JIS is written whole into a temporary file first,
so that a value CP932 cannot write is a 422 naming it (by the row's key, the value the person
downloading knows the row by, not a line of a file never received) instead of a file that breaks off.
"""

import tempfile
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, Final

from sqlalchemy import Row, Select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from app.config.clock import JAPAN
from app.csv.files import CsvEncoding, listed, render, unencodable
from app.csv.sheet import Sheet
from app.http.errors import FieldError

# Rows fetched per round trip of the cursor, and written per chunk of a download.
BATCH_ROWS: Final = 1000
# A Shift_JIS download is built in a temporary file before it is answered (see `_checked`): in
# memory up to this size, on disk beyond.
SPOOL_MEMORY_BYTES: Final = 1024 * 1024
READ_BYTES: Final = 64 * 1024
# How many values a refused Shift_JIS download reads at most before it answers (it lists fewer).
MAX_REPORTED: Final = 1000


@dataclass
class Download:
    """A CSV answer: its file name, content type and body."""

    filename: str
    media_type: str
    body: AsyncGenerator[bytes, None]


class CsvStream(StreamingResponse):
    """A streamed download that releases what its body holds (a database connection, a temporary
    file) also when the client goes away before the end."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Stream, then close the body."""
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.body_iterator.aclose()  # type: ignore[attr-defined]


def answer(download: Download) -> CsvStream:
    """The response of a download: an attachment, streamed."""
    disposition = f'attachment; filename="{download.filename}"'
    return CsvStream(
        download.body, media_type=download.media_type, headers={"Content-Disposition": disposition}
    )


async def stream_rows(
    engine: AsyncEngine, statement: Select[Any], params: Mapping[str, Any]
) -> AsyncIterator[Sequence[Row[Any]]]:
    """The select's rows in batches, through a server-side cursor (PostgreSQL) on a connection of
    its own, held until the last batch: the request's session has ended before an answer streams,
    and memory holds one batch at a time however many rows there are."""
    async with engine.connect() as connection:
        result = await connection.stream(statement.execution_options(yield_per=BATCH_ROWS), dict(params))
        async for batch in result.partitions():
            yield batch


async def download(
    engine: AsyncEngine,
    sheet: Sheet,
    statement: Select[Any],
    params: Mapping[str, Any],
    *,
    encoding: CsvEncoding,
    filename: str,
    now: datetime,
) -> Download:
    """The sheet's file of the select's rows (the sheet's columns, in its order), named
    `{resource}_{filename}_{YYYYMMDD}.csv` (the date in Japan time)."""
    name = f"{sheet.resource}_{filename}_{now.astimezone(JAPAN):%Y%m%d}.csv"
    chunks = _encoded(sheet, stream_rows(engine, statement, params), encoding)
    if encoding is CsvEncoding.SHIFT_JIS:
        body = await _checked(chunks)
    else:
        # The first chunk is read now, so that a database that does not answer is a 503, not a
        # 200 that breaks off.
        body = _prepend(await anext(chunks), chunks)
    return Download(name, encoding.media_type, body)


class _Unencodable(Exception):
    """Values of a download that its encoding cannot write."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("unencodable")
        self.errors = errors


async def _encoded(
    sheet: Sheet, batches: AsyncIterator[Sequence[Row[Any]]], encoding: CsvEncoding
) -> AsyncGenerator[bytes, None]:
    """The file, one chunk per batch of rows (the heading row comes with the first). Values the
    encoding cannot write stop the output; the rest is read to name them all (up to a limit),
    then _Unencodable is raised."""
    pending = encoding.preamble + render([sheet.header]).encode(encoding.codec)
    errors: list[FieldError] = []
    async for batch in batches:
        rows = [sheet.cells(row) for row in batch]
        try:
            chunk = render(rows).encode(encoding.codec)
        except UnicodeEncodeError:
            errors += unencodable_rows(sheet, rows, encoding.codec)
            chunk = b""
        if len(errors) >= MAX_REPORTED:
            break
        if not errors:
            yield pending + chunk
            pending = b""
    if errors:
        raise _Unencodable(errors[:MAX_REPORTED])
    if pending:
        yield pending


def unencodable_rows(sheet: Sheet, rows: list[list[str]], codec: str) -> list[FieldError]:
    """Each value of the rows (cells in the sheet's order) that the codec cannot write, named by
    its row's key (`key`: the value of the sheet's key column) and its column."""
    found = []
    key = sheet.names.index(sheet.key)
    for row in rows:
        for column, value in zip(sheet.columns, row, strict=True):
            invalid = unencodable(value, codec)
            if invalid:
                details = [character.as_dict() for character in invalid]
                where = {"key": row[key], "column": column.label, "invalid_characters": details}
                found.append(FieldError(column.name, "not_shift_jis", {}, where))
    return found


async def _prepend(first: bytes, rest: AsyncGenerator[bytes, None]) -> AsyncGenerator[bytes, None]:
    try:
        yield first
        async for chunk in rest:
            yield chunk
    finally:
        await rest.aclose()


async def _checked(chunks: AsyncGenerator[bytes, None]) -> AsyncGenerator[bytes, None]:
    """The whole file, written to a temporary file before anything is answered, so that values
    Shift_JIS cannot write are a 422 naming each one, not a file that breaks off (or a silent `?`
    that an upload of the file would then store). The database connection is free before the
    client starts reading."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115 (closed by _read)
    try:
        async for chunk in chunks:
            spool.write(chunk)
    except _Unencodable as exc:
        spool.close()
        raise listed("download_not_shift_jis", exc.errors) from None
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return _read(spool)


async def _read(spool: IO[bytes]) -> AsyncGenerator[bytes, None]:
    try:
        while chunk := spool.read(READ_BYTES):
            yield chunk
    finally:
        spool.close()
