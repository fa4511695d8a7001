"""CSV as SPEC §5.6 writes and reads it: the standard library's csv module and codecs only.

Downloads: CRLF, RFC 4180 quoting, UTF-8 with a byte-order mark or CP932, a leading `'` on cells a
spreadsheet would run as formulas. Uploads: UTF-8 (with or without a byte-order mark) or CP932,
named by the charset or detected; the heading row names the columns.
"""

import codecs
import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Final

from pydantic import ValidationError

from app.exports.columns import Column, Sheet
from app.http.errors import (
    FieldError,
    PayloadTooLarge,
    Unprocessable,
    UnsupportedMediaType,
    from_validation_error,
)
from app.text.rules import InvalidCharacter, normalize

MAX_UPLOAD_BYTES: Final = 5 * 1024 * 1024
MAX_UPLOAD_ROWS: Final = 10_000
UTF8_BOM: Final = codecs.BOM_UTF8
LINE_END: Final = "\r\n"

# OWASP CSV injection: a spreadsheet runs a cell that starts with these as a formula. A cell that
# starts with the guard itself gets one too, so that an upload takes exactly one away and a
# downloaded file uploaded again changes nothing, whatever the values.
GUARD: Final = "'"
_FORMULA_STARTS: Final = frozenset("=+-@\t\r")
_GUARDED_STARTS: Final = _FORMULA_STARTS | {GUARD}


class CsvEncoding(StrEnum):
    """The encodings of a download."""

    UTF_8 = "utf-8"
    SHIFT_JIS = "shift_jis"

    @property
    def codec(self) -> str:
        """Python's codec: Shift_JIS as Windows writes it (CP932, with the NEC and IBM extensions)."""
        return "utf-8" if self is CsvEncoding.UTF_8 else "cp932"

    @property
    def media_type(self) -> str:
        """The Content-Type of a download."""
        return "text/csv; charset=utf-8" if self is CsvEncoding.UTF_8 else "text/csv; charset=Shift_JIS"

    @property
    def preamble(self) -> bytes:
        """What a file starts with: UTF-8's byte-order mark, so that Excel reads it as UTF-8."""
        return UTF8_BOM if self is CsvEncoding.UTF_8 else b""


def guard(cell: str) -> str:
    """The cell as a download writes it: text, never a formula."""
    return GUARD + cell if cell[:1] in _GUARDED_STARTS else cell


def unguard(cell: str) -> str:
    """The value a downloaded cell stands for: the one leading `'` that `guard` adds, taken away."""
    return cell[1:] if cell[:1] == GUARD and cell[1:2] in _GUARDED_STARTS else cell


def render(rows: Iterable[Sequence[str]]) -> str:
    """Rows as CSV text: RFC 4180 quoting (a cell with a comma, a quote or a line end is quoted,
    quotes doubled), CRLF line ends, every cell guarded."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=LINE_END).writerows([guard(cell) for cell in row] for row in rows)
    return buffer.getvalue()


def unencodable(value: str, codec: str) -> list[InvalidCharacter]:
    """Every character of value that the codec cannot write, in the §3.2 shape (no suggestion)."""
    found = []
    for position, character in enumerate(value):
        try:
            character.encode(codec)
        except UnicodeEncodeError:
            found.append(InvalidCharacter(position, character, f"U+{ord(character):04X}", None))
    return found


# Uploads


_CP932_NAMES: Final = frozenset(
    {"shift_jis", "cp932", "windows-31j", "ms932", "sjis", "x-sjis", "csshiftjis"}
)
_UTF8_NAMES: Final = frozenset({"utf-8", "utf8", "utf_8", "utf-8-sig"})


def codec_of(charset: str) -> str:
    """The codec of a content type's charset; 415 for one this service does not read."""
    name = charset.strip().strip('"').lower()
    if name in _UTF8_NAMES:
        return "utf-8"
    if name in _CP932_NAMES or name.replace("-", "_") in _CP932_NAMES:
        return "cp932"
    raise UnsupportedMediaType("unsupported_charset", context={"charset": charset[:40]})


def _line_of(data: bytes, position: int) -> int:
    return data.count(b"\n", 0, position) + 1


def decode(data: bytes, charset: str | None) -> str:
    """The text of an upload: a byte-order mark means UTF-8; else the named charset; else UTF-8
    when the bytes are UTF-8, CP932 otherwise. 422 naming the line where the bytes stop making sense."""
    if data.startswith(UTF8_BOM):
        data, codec = data[len(UTF8_BOM) :], "utf-8"
    else:
        codec = codec_of(charset) if charset else ""
    attempts = [codec] if codec else ["utf-8", "cp932"]
    furthest = 0
    for attempt in attempts:
        try:
            return data.decode(attempt)
        except UnicodeDecodeError as exc:
            furthest = max(furthest, exc.start)
    # The encoding that read further is the one the file was meant to be in: name its bad line.
    raise Unprocessable("csv_encoding", context={"line": _line_of(data, furthest)})


@dataclass(frozen=True, slots=True)
class Row:
    """One data row: its line in the file (the heading row is line 1) and its cells by JSON name."""

    line: int
    cells: dict[str, str]


@dataclass
class Table:
    """An uploaded file: where each used column was, its rows, and errors of the rows' shape."""

    headings: dict[str, str]  # JSON name -> the heading as the file wrote it
    rows: list[Row] = field(default_factory=list)
    errors: list[FieldError] = field(default_factory=list)


def row_error(
    line: int, name: str | None, code: str, headings: dict[str, str], error: FieldError | None = None
) -> FieldError:
    """A FieldError of one row: `row` is its line, `column` the heading as the file wrote it;
    `field` is null for the row as a whole."""
    where: dict[str, Any] = {"row": line, "column": headings.get(name) if name else None}
    if name is None:
        where["field"] = None  # rendered after `field`, so it replaces it
    if error is not None:
        return replace(error, extra={**error.extra, **where})
    return FieldError(name or "", code, {}, where)


def validation_errors(line: int, exc: ValidationError, headings: dict[str, str]) -> list[FieldError]:
    """A row's pydantic errors as row errors, with the JSON API's codes, messages and characters."""
    return [row_error(line, error.field, error.code, headings, error) for error in from_validation_error(exc)]


def read_table(text: str, sheet: Sheet) -> Table:
    """Parse an upload: the heading row, then up to 10,000 rows (413 beyond). 422 when the
    headings are wrong or the CSV is malformed. Rows whose cells are all empty are skipped."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        heading_row = next(reader, None)
        if heading_row is None or not any(cell.strip() for cell in heading_row):
            raise Unprocessable("csv_empty")
        columns, headings = _columns(heading_row, sheet)
        table = Table(headings)
        line = reader.line_num
        for cells in reader:
            first, line = line + 1, reader.line_num
            if not any(normalize(cell) for cell in cells):
                continue
            if len(table.rows) + len(table.errors) >= MAX_UPLOAD_ROWS:
                raise PayloadTooLarge("csv_too_many_rows", context={"limit": MAX_UPLOAD_ROWS})
            if len(cells) != len(columns):
                table.errors.append(_cell_count_error(first, len(cells), len(columns), headings))
                continue
            used = {column.name: unguard(cell) for column, cell in zip(columns, cells, strict=True) if column}
            table.rows.append(Row(first, used))
    except csv.Error:
        raise Unprocessable("csv_malformed", context={"line": reader.line_num}) from None
    return table


def _cell_count_error(line: int, count: int, expected: int, headings: dict[str, str]) -> FieldError:
    error = FieldError("", "csv_cell_count", {"count": count, "expected": expected})
    return row_error(line, None, error.code, headings, error)


def _columns(heading_row: list[str], sheet: Sheet) -> tuple[list[Column | None], dict[str, str]]:
    """The used column at each position (None: a downloaded column an upload ignores); 422 listing
    every unknown or repeated heading, and the key column when it is missing."""
    columns: list[Column | None] = []
    headings: dict[str, str] = {}
    errors: list[FieldError] = []
    seen: set[str] = set()
    allowed = [column for column in sheet.columns if column.uploaded]
    for heading in heading_row:
        column = sheet.column(heading)
        where = {"row": 1, "column": heading[:100]}
        if column is None:
            context = {
                "column": heading[:100],
                "allowed_ja": "、".join(column.label for column in allowed),
                "allowed_en": ", ".join(column.name for column in allowed),
            }
            errors.append(FieldError("", "csv_unknown_column", context, {**where, "field": None}))
        elif column.name in seen:
            errors.append(FieldError(column.name, "csv_duplicate_column", {"column": heading[:100]}, where))
        seen.add(column.name if column else "")
        columns.append(column if column and column.uploaded else None)
        if column and column.uploaded:
            headings[column.name] = heading
    if sheet.key not in seen:
        key = next(column for column in sheet.columns if column.name == sheet.key)
        context = {"label": key.label, "name": key.name}
        errors.append(FieldError(key.name, "csv_missing_column", context, {"row": 1, "column": None}))
    if errors:
        raise Unprocessable("csv_invalid", context={"count": len(errors)}, errors=errors)
    return columns, headings
