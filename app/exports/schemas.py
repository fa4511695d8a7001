"""Shapes of CSV downloads and uploads (各種ダウンロード, SPEC §5.6)."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from app.exports.csv_io import CsvEncoding
from app.http.openapi import FieldProblem, Problem
from app.locations.schemas import LocationFilters
from app.users.schemas import UserCreate, UserFilters


class ImportResult(BaseModel):
    """A good upload: how many rows created, updated and left unchanged (with dry_run=true: would be)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"created": 12, "updated": 3, "unchanged": 85}]}
    )

    created: int
    updated: int
    unchanged: int


class TemporaryPassword(BaseModel):
    """The temporary password of a user the upload created: shown only in this answer."""

    login_id: str
    password: str = Field(description="Must be changed at first login")
    expires_at: datetime = Field(
        description="The temporary password stops working then (72 hours by default)"
    )


class UserImportResult(ImportResult):
    """A good users upload; new users' temporary passwords are answered once (none with dry_run=true)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "created": 1,
                    "updated": 0,
                    "unchanged": 40,
                    "temporary_passwords": [
                        {
                            "login_id": "tanaka.h",
                            "password": "x7Kp2mQr9sTv4wYz",
                            "expires_at": "2026-04-04T09:00:00Z",
                        }
                    ],
                }
            ]
        }
    )

    temporary_passwords: list[TemporaryPassword]


def _without(model: type[BaseModel], *names: str) -> dict[str, Any]:
    return {
        name: (field.annotation, field) for name, field in model.model_fields.items() if name not in names
    }


# A row of a users upload that creates a user: UserCreate's fields and rules, without the password
# (the service makes a temporary one).
UserRowCreate: type[BaseModel] = create_model(
    "UserRowCreate", __config__=ConfigDict(extra="forbid"), **_without(UserCreate, "password")
)


class CsvRowProblem(FieldProblem):
    """One wrong cell or row of an upload (or value of a Shift_JIS download)."""

    field: str | None = Field(
        examples=["name"], description="JSON name of the column; null for the row as a whole"
    )
    row: int | None = Field(
        default=None,
        description="Line number in the file; the heading row is 1; null for the request as a whole (e.g. a query parameter)",
    )
    column: str | None = Field(default=None, description="The heading as the file wrote it")


class CsvProblem(Problem):
    """A refused upload: every error of every row (nothing was changed)."""

    errors: list[CsvRowProblem] | None = None  # type: ignore[assignment]


_ENCODING_DESCRIPTION = (
    "`utf-8` (with a byte-order mark, so that Excel opens it) or `shift_jis` (CP932). "
    "A value Shift_JIS cannot write answers 422 naming each one."
)


class LocationDownloadQuery(LocationFilters):
    """The query string of a locations download: the list's filters and the encoding (one query
    model, so that each is its own optional parameter in the OpenAPI document)."""

    encoding: CsvEncoding = Field(default=CsvEncoding.UTF_8, description=_ENCODING_DESCRIPTION)


class UserDownloadQuery(UserFilters):
    """The query string of a users download: the list's filters and the encoding."""

    encoding: CsvEncoding = Field(default=CsvEncoding.UTF_8, description=_ENCODING_DESCRIPTION)
