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

from app.csv.sheet import Column, Sheet
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
# A heading row of more columns is refused at once (no sheet has a tenth of it): a file of one
# row of millions of empty columns is a 422 of a few hundred bytes, not millions of errors.
MAX_COLUMNS: Final = 50
# What an answer lists at most: the first errors (in row order), each quoted value of the file cut
# to a few characters, a few of its invalid characters; the counts say how many there were.
MAX_LISTED_ERRORS: Final = 100
MAX_QUOTED_CHARACTERS: Final = 20
UTF8_BOM: Final = codecs.BOM_UTF8
LINE_END: Final = "\r\n"

# OWASP CSV injection: a spreadsheet runs a cell that starts with these as a formula: = + - @, every
# character NFKC makes one of them (the full-width ＝ ＋ － ＠, small and super/subscript forms; a
# Japanese IME types ＝ＨＹＰＥＲＬＩＮＫ（…） and Excel reads it as =HYPERLINK(…)), a tab and a
# carriage return. tests/csv checks the list against every code point. A cell that starts with the
# guard itself gets one too, so that an upload takes exactly one away and a downloaded file
# uploaded again changes nothing, whatever the values.
GUARD: Final = "'"
FORMULA_LOOKALIKES: Final = "⁺⁼₊₌⩵⩶﬩﹢﹣﹦﹫＋－＝＠"
_FORMULA_STARTS: Final = frozenset("=+-@\t\r" + FORMULA_LOOKALIKES)
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


def quoted(value: str) -> str:
    """A value of the file as an answer quotes it: at most MAX_QUOTED_CHARACTERS characters."""
    return value if len(value) <= MAX_QUOTED_CHARACTERS else value[:MAX_QUOTED_CHARACTERS] + "…"


def row_error(
    line: int, name: str | None, code: str, headings: dict[str, str], error: FieldError | None = None
) -> FieldError:
    """A FieldError of one row: `row` is its line, `column` the heading as the file wrote it;
    `field` is null for the row as a whole."""
    heading = headings.get(name) if name else None
    where: dict[str, Any] = {"row": line, "column": quoted(heading) if heading is not None else None}
    if name is None:
        where["field"] = None  # rendered after `field`, so it replaces it
    if error is not None:
        return replace(error, extra={**error.extra, **where})
    return FieldError(name or "", code, {}, where)


def validation_errors(line: int, exc: ValidationError, headings: dict[str, str]) -> list[FieldError]:
    """A row's pydantic errors as row errors, with the JSON API's codes, messages and characters."""
    return [row_error(line, error.field, error.code, headings, error) for error in from_validation_error(exc)]


# The members of an error that quote the file (the rest is the service's own text).
_QUOTED: Final = frozenset({"column", "key", "value", "input"})


def bounded(error: FieldError) -> FieldError:
    """An error as an answer lists it: values quoted from the file cut to MAX_QUOTED_CHARACTERS,
    at most as many of its invalid characters (a cell of 1,000 wrong characters is one error of
    20, not a megabyte)."""
    context = {
        name: quoted(value) if name in _QUOTED and isinstance(value, str) else value
        for name, value in error.context.items()
    }
    extra = dict(error.extra)
    characters = extra.get("invalid_characters")
    if isinstance(characters, list) and len(characters) > MAX_QUOTED_CHARACTERS:
        extra["invalid_characters"] = characters[:MAX_QUOTED_CHARACTERS]
    for name in _QUOTED:
        if isinstance(extra.get(name), str):
            extra[name] = quoted(extra[name])
    return replace(error, context=context, extra=extra)


def listed(code: str, errors: list[FieldError]) -> Unprocessable:
    """The 422 of a refused file or download: the first MAX_LISTED_ERRORS errors in row order,
    each bounded; `count` (and `error_count`) says how many there were, `errors_listed` how many
    are listed. Its size is bounded whatever the file: well under 1 MiB."""
    errors = sorted(errors, key=lambda error: error.extra.get("row") or 0)
    shown = [bounded(error) for error in errors[:MAX_LISTED_ERRORS]]
    return Unprocessable(
        code,
        context={"count": len(errors)},
        errors=shown,
        members={"error_count": len(errors), "errors_listed": len(shown)},
    )


def refuse(errors: list[FieldError]) -> None:
    """422 `csv_invalid` when a file has any error (see `listed`)."""
    if errors:
        raise listed("csv_invalid", errors)


def read_table(data: bytes, charset: str | None, sheet: Sheet) -> Table:
    """Decode and parse an upload (CPU-bound: run it off the event loop, see app/csv/upload.py):
    the heading row, then up to 10,000 rows (413 beyond). 422 when the headings are wrong or the
    CSV is malformed. Rows whose cells are all empty are skipped."""
    text = decode(data, charset)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        heading_row = next(reader, None)
        if heading_row is None or not any(cell.strip() for cell in heading_row):
            raise Unprocessable("csv_empty")
        if len(heading_row) > MAX_COLUMNS:
            raise Unprocessable(
                "csv_too_many_columns", context={"count": len(heading_row), "limit": MAX_COLUMNS}
            )
        columns, headings = _columns(heading_row, sheet)
        # Blank headings at the end (Excel writes `,` once a column was touched): their cells may
        # be left out of a row; every cell under a blank heading must be empty.
        shortest = max(position for position, heading in enumerate(heading_row) if heading.strip()) + 1
        table = Table(headings)
        line = reader.line_num
        for cells in reader:
            first, line = line + 1, reader.line_num
            if not any(normalize(cell) for cell in cells):
                continue
            if len(table.rows) + len(table.errors) >= MAX_UPLOAD_ROWS:
                raise PayloadTooLarge("csv_too_many_rows", context={"limit": MAX_UPLOAD_ROWS})
            if not shortest <= len(cells) <= len(columns):
                table.errors.append(_cell_count_error(first, len(cells), len(columns), headings))
                continue
            unnamed = _unnamed_cell(columns, cells, heading_row)
            if unnamed is not None:
                error = FieldError("", "csv_unnamed_column", {"position": unnamed + 1})
                table.errors.append(row_error(first, None, error.code, headings, error))
                continue
            used = {
                column.name: unguard(cell) for column, cell in zip(columns, cells, strict=False) if column
            }
            table.rows.append(Row(first, used))
    except csv.Error:
        raise Unprocessable("csv_malformed", context={"line": reader.line_num}) from None
    return table


def _unnamed_cell(columns: list[Column | None], cells: list[str], heading_row: list[str]) -> int | None:
    """The position of the first non-empty cell under a blank heading, if any."""
    for position, (column, cell) in enumerate(zip(columns, cells, strict=False)):
        if column is None and not heading_row[position].strip() and normalize(cell):
            return position
    return None


def _cell_count_error(line: int, count: int, expected: int, headings: dict[str, str]) -> FieldError:
    error = FieldError("", "csv_cell_count", {"count": count, "expected": expected})
    return row_error(line, None, error.code, headings, error)


def _columns(heading_row: list[str], sheet: Sheet) -> tuple[list[Column | None], dict[str, str]]:
    """The used column at each position (None: a downloaded column an upload ignores, or a blank
    heading); 422 listing every unknown or repeated heading, and the key column when it is missing."""
    columns: list[Column | None] = []
    headings: dict[str, str] = {}
    errors: list[FieldError] = []
    seen: set[str] = set()
    allowed = [column for column in sheet.columns if column.uploaded]
    for heading in heading_row:
        if not heading.strip():
            columns.append(None)  # ignored while its cells are empty
            continue
        column = sheet.column(heading)
        where = {"row": 1, "column": quoted(heading)}
        if column is None:
            context = {
                "column": quoted(heading),
                "allowed_ja": "、".join(column.label for column in allowed),
                "allowed_en": ", ".join(column.name for column in allowed),
            }
            errors.append(FieldError("", "csv_unknown_column", context, {**where, "field": None}))
        elif column.name in seen:
            errors.append(FieldError(column.name, "csv_duplicate_column", {"column": quoted(heading)}, where))
        seen.add(column.name if column else "")
        columns.append(column if column and column.uploaded else None)
        if column and column.uploaded:
            headings[column.name] = heading
    if sheet.key not in seen:
        key = sheet.key_column
        context = {"label": key.label, "name": key.name}
        errors.append(FieldError(key.name, "csv_missing_column", context, {"row": 1, "column": None}))
    refuse(errors)
    return columns, headings
