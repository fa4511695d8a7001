"""What every CSV route declares (SPEC §5.6): the tag, the dry-run parameter, the uploaded body and
the answers of the OpenAPI document, each example a row of the route's own sheet. The routes
themselves are the domains' (each `transfer.py`, beside its sheet), with their own summary and
description."""

from collections.abc import Mapping
from typing import Annotated, Any, Final

from fastapi import Depends, Query
from pydantic import ValidationError

from app.csv.download import unencodable_rows
from app.csv.files import MAX_COLUMNS, MAX_UPLOAD_BYTES, MAX_UPLOAD_ROWS, render, validation_errors
from app.csv.schemas import CsvProblem
from app.csv.sheet import Sheet
from app.csv.upload import Upload, upload
from app.http.errors import (
    FieldError,
    PayloadTooLarge,
    ProblemError,
    Unprocessable,
    UnsupportedMediaType,
)
from app.http.openapi import problems

TAG: Final = "各種ダウンロード (CSV)"

DryRun = Annotated[
    bool,
    Query(
        title="確認のみ",
        description="Check the file and answer the counts and what each row would do, changing nothing",
    ),
]
UploadDep = Annotated[Upload, Depends(upload)]
# Where a documented row error stands: the second row under the heading row.
_EXAMPLE_LINE: Final = 3


def _heading_row(sheet: Sheet) -> str:
    return ",".join(sheet.header) + "\r\n"


def upload_body(sheet: Sheet, example: Mapping[str, str]) -> dict[str, Any]:
    """The request body of a sheet's upload (the handler reads it itself), its example a file of
    one row of these values (by JSON name; a column left out is left as it is)."""
    labels = {column.name: column.label for column in sheet.columns}
    return {
        "requestBody": {
            "required": True,
            "description": (
                "The CSV, up to 5 MiB and 10,000 rows: the body itself (`text/csv`, optionally with a "
                "`charset`), or the `file` field of `multipart/form-data`. UTF-8 with or without a "
                "byte-order mark, or Shift_JIS (CP932): named by the charset, else detected. The heading "
                "row names the columns by the download's labels or by the JSON names, in any order."
            ),
            "content": {
                "text/csv": {
                    "schema": {"type": "string"},
                    "example": render([[labels[name] for name in example], list(example.values())]),
                },
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {
                                "type": "string",
                                "format": "binary",
                                "title": "CSVファイル",
                                "description": "The CSV file",
                            }
                        },
                    }
                },
            },
        }
    }


def _text_column(sheet: Sheet) -> str:
    """The column an example error is of: the first uploaded one after the key."""
    return next(column.name for column in sheet.columns if column.uploaded and column.name != sheet.key)


def _unencodable(sheet: Sheet, example: Mapping[str, str]) -> FieldError:
    """The error a Shift_JIS download answers for the example row with a character CP932 lacks
    (`𠮷`) in its first text column, named by the row's key as the download names it."""
    cells = {**example, _text_column(sheet): "𠮷" + example[_text_column(sheet)]}
    row = [cells.get(name, "") for name in sheet.names]
    return unencodable_rows(sheet, [row], "cp932")[0]


def _row_error(sheet: Sheet, example: Mapping[str, str], refused: Mapping[str, str]) -> FieldError:
    """The error an upload lists for the example row with the `refused` cells, found by checking
    that row as an upload checks it."""
    cells = {**example, **refused}
    values = {name: column.read(cell) for name, cell in cells.items() if (column := sheet.column(name))}
    try:
        sheet.create.model_validate(values)
    except ValidationError as exc:
        headings = {column.name: column.label for column in sheet.columns}
        return validation_errors(_EXAMPLE_LINE, exc, headings)[0]
    raise ValueError(f"{refused} is a valid row of {sheet.resource}: not an example of a refusal")


def download_responses(sheet: Sheet, example: Mapping[str, str]) -> dict[int | str, dict[str, Any]]:
    """The answers of a sheet's download: the file (its heading row the example) or a problem, the
    values Shift_JIS cannot write shown with the example row (by JSON name)."""
    return {
        200: {
            "description": "The CSV file (`Content-Disposition: attachment`), streamed",
            "content": {"text/csv": {"schema": {"type": "string"}, "example": _heading_row(sheet)}},
        },
        **_as_csv_problems(
            problems(
                401,
                403,
                404,
                Unprocessable("validation_failed"),
                Unprocessable(
                    "download_not_shift_jis",
                    context={"count": 1},
                    errors=[_unencodable(sheet, example)],
                    members={"error_count": 1, "errors_listed": 1},
                ),
            ),
            {
                422: (
                    "A query parameter is invalid (`validation_failed`), or values Shift_JIS cannot "
                    f"write (`download_not_shift_jis`: each named by `key`, the `{sheet.key}` of its row)"
                )
            },
        ),
    }


def _as_csv_problems(
    answers: dict[int | str, dict[str, Any]], descriptions: dict[int, str]
) -> dict[int | str, dict[str, Any]]:
    """`problems(...)` answers whose statuses in `descriptions` have the CSV problem's schema."""
    for status, description in descriptions.items():
        answers[status] = {**answers[status], "model": CsvProblem, "description": description}
    return answers


def upload_responses(
    sheet: Sheet, example: Mapping[str, str], refused: Mapping[str, str]
) -> dict[int | str, dict[str, Any]]:
    """The answers of a sheet's upload besides its result: the problems, a wrong row shown as the
    example row (by JSON name) with the `refused` cells."""
    return _as_csv_problems(
        problems(
            ProblemError("malformed_multipart"),  # a multipart body its parser cannot read
            401,
            403,
            404,
            409,
            PayloadTooLarge(context={"limit": MAX_UPLOAD_BYTES}),
            PayloadTooLarge("csv_too_many_rows", context={"limit": MAX_UPLOAD_ROWS}),
            UnsupportedMediaType("csv_media_type"),
            UnsupportedMediaType("unsupported_charset", context={"charset": "euc-jp"}),
            Unprocessable(
                "csv_invalid",
                context={"count": 1},
                errors=[_row_error(sheet, example, refused)],
                members={"error_count": 1, "errors_listed": 1},
            ),
            Unprocessable("csv_too_many_columns", context={"count": 2_600_000, "limit": MAX_COLUMNS}),
            Unprocessable("csv_encoding", context={"line": 2}),
            Unprocessable("csv_malformed", context={"line": 5}),
            Unprocessable("csv_empty"),
        ),
        {
            413: f"Over 5 MiB or over {MAX_UPLOAD_ROWS:,} rows",
            415: "Neither text/csv nor multipart/form-data, or a charset other than UTF-8 and Shift_JIS",
            422: (
                "The errors of the rows (`row`: line number, the heading row being 1), the first 100 listed "
                "(`error_count`: how many in all); nothing changed"
            ),
        },
    )
