"""What every CSV route declares (各種ダウンロード, SPEC §5.6): the tag, the dry-run parameter, the
uploaded body and the answers of the OpenAPI document. The routes themselves are the domains'
(`app/locations/transfer.py`, `app/users/transfer.py`), with a sheet each."""

from collections.abc import Mapping
from typing import Annotated, Any, Final

from fastapi import Depends, Query

from app.csv.files import MAX_COLUMNS, MAX_UPLOAD_BYTES, MAX_UPLOAD_ROWS, render
from app.csv.schemas import CsvProblem
from app.csv.sheet import Sheet
from app.csv.upload import Upload, upload
from app.http.errors import (
    PROBLEM_MEDIA_TYPE,
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
    Query(description="Check the file and answer the counts and what each row would do, changing nothing"),
]
UploadDep = Annotated[Upload, Depends(upload)]


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
                            "file": {"type": "string", "format": "binary", "description": "The CSV file"}
                        },
                    }
                },
            },
        }
    }


_UNENCODABLE = FieldError(
    "name",
    "not_shift_jis",
    {},
    {
        "key": "tanaka.h",
        "column": "ユーザー名",
        "invalid_characters": [
            {"position": 0, "character": "𠮷", "code_point": "U+20BB7", "suggestion": None}
        ],
    },
)


def download_responses(sheet: Sheet) -> dict[int | str, dict[str, Any]]:
    """The answers of a sheet's download: the file (its heading row the example) or a problem."""
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
                    errors=[_UNENCODABLE],
                    members={"error_count": 1, "errors_listed": 1},
                ),
            ),
            {
                422: (
                    "A query parameter is invalid (`validation_failed`), or values Shift_JIS cannot "
                    "write (`download_not_shift_jis`: each named by `key`, its row's code or login ID)"
                )
            },
        ),
    }


def _csv_problem(description: str) -> dict[str, Any]:
    return {"model": CsvProblem, "description": description, "content": {PROBLEM_MEDIA_TYPE: {}}}


def _as_csv_problems(
    answers: dict[int | str, dict[str, Any]], descriptions: dict[int, str]
) -> dict[int | str, dict[str, Any]]:
    """`problems(...)` answers whose statuses in `descriptions` have the CSV problem's schema."""
    for status, description in descriptions.items():
        answers[status] = {**answers[status], "model": CsvProblem, "description": description}
    return answers


_ROW_ERROR = FieldError("name", "not_full_width", {}, {"row": 3, "column": "依頼人拠点名"})

UPLOAD_PROBLEMS: dict[int | str, dict[str, Any]] = _as_csv_problems(
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
            errors=[_ROW_ERROR],
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
