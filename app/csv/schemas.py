"""Shapes of CSV downloads and uploads, whatever the sheet (SPEC §5.6)."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.csv.files import CsvEncoding
from app.http.openapi import FieldProblem, Problem

# How many rows a dry run lists at most (an answer stays far under 1 MiB: each row's values are
# bounded by the schemas).
MAX_PLANNED_ROWS = 1000


class PlannedRow(BaseModel):
    """What a dry run would do to one row: so that the person uploading sees each row's key as it
    was read (a spreadsheet that turned `001` into `1` shows here as a new `1`)."""

    row: int = Field(title="行番号", description="Line number in the file; the heading row is 1")
    action: Literal["create", "update"] = Field(title="処理", description="`create` or `update`")
    key: str = Field(
        title="キー", description="The value of the row's key column (which names it), as it would be stored"
    )
    fields: dict[str, Any] = Field(
        title="項目",
        description="create: each field's value; update: each changed field's `[before, after]`",
    )


class ImportResult(BaseModel):
    """A good upload: how many rows created, updated and left unchanged (with dry_run=true: would
    be, and `planned`: what each would do)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"created": 12, "updated": 3, "unchanged": 85}]}
    )

    created: int = Field(title="追加件数", description="Rows that create a resource")
    updated: int = Field(title="変更件数", description="Rows that change a resource")
    unchanged: int = Field(title="変更なし件数", description="Rows that change nothing")
    planned: list[PlannedRow] | None = Field(
        default=None,
        title="処理予定",
        description=(
            f"dry_run=true only: the rows it would create or change (the first {MAX_PLANNED_ROWS:,}), "
            "in file order; unchanged rows are not listed"
        ),
    )


def planned_rows(rows: list[PlannedRow]) -> list[PlannedRow]:
    """What a dry run lists: the first MAX_PLANNED_ROWS rows, in file order."""
    return sorted(rows, key=lambda row: row.row)[:MAX_PLANNED_ROWS]


class CsvRowProblem(FieldProblem):
    """One wrong cell or row of an upload (or value of a Shift_JIS download)."""

    field: str | None = Field(
        title="項目", examples=["name"], description="JSON name of the column; null for the row as a whole"
    )
    row: int | None = Field(
        default=None,
        title="行番号",
        description="Line number in the file; the heading row is 1; null for the request as a whole (e.g. a query parameter)",
    )
    column: str | None = Field(
        default=None, title="列見出し", description="The heading as the file wrote it (at most 20 characters)"
    )
    key: str | None = Field(
        default=None,
        title="キー",
        description="A Shift_JIS download: the value of the key column of the value's row",
    )


class CsvProblem(Problem):
    """A refused upload: its errors (the first 100, by row; nothing was changed)."""

    errors: list[CsvRowProblem] | None = Field(  # type: ignore[assignment]
        default=None, title="行ごとのエラー", description="Each wrong cell or row"
    )
    error_count: int | None = Field(
        default=None, title="エラー件数", description="How many errors there were in all"
    )
    errors_listed: int | None = Field(
        default=None,
        title="表示したエラー件数",
        description="How many are listed in `errors`: the first 100, by row",
    )


_ENCODING_DESCRIPTION = (
    "`utf-8` (with a byte-order mark, so that Excel opens it) or `shift_jis` (CP932). "
    "A value Shift_JIS cannot write answers 422 naming each one."
)


def encoding_field() -> Any:
    """The `encoding` parameter of a download (a field of the sheet's query model, after its list's
    filters: one query model, so that each is its own optional parameter in the OpenAPI document)."""
    return Field(default=CsvEncoding.UTF_8, title="文字コード", description=_ENCODING_DESCRIPTION)
