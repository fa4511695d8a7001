"""The CSV form of users (SPEC §5.6): the User schema's fields, headed by their titles; 依頼人拠点名
and 最終ログイン日時 are only downloaded, 権限 is written and read by its label."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from app.csv.files import CsvEncoding
from app.csv.schemas import ImportResult, encoding_field
from app.csv.sheet import Sheet
from app.users.schemas import User, UserCreate, UserFilters, UserUpdate


def _without(model: type[BaseModel], *names: str) -> dict[str, Any]:
    return {
        name: (field.annotation, field) for name, field in model.model_fields.items() if name not in names
    }


# A row of a users upload that creates a user: UserCreate's fields and rules, without the password
# (the service makes a temporary one).
UserRowCreate: type[BaseModel] = create_model(
    "UserRowCreate", __config__=ConfigDict(extra="forbid"), **_without(UserCreate, "password")
)

USERS = Sheet.derive(
    "users",
    User,
    key="login_id",
    create=UserRowCreate,
    update=UserUpdate,
    # Account state, not what an admin manages in a sheet.
    leave_out=("password_expires_at", "password_change_required", "locked_until"),
    # The JSON API's enum error lists the JSON names; a CSV cell may also hold the label.
    codes={("role", "enum"): "invalid_role"},
)


class UserDownloadQuery(UserFilters):
    """The query string of a users download: the list's filters and the encoding."""

    encoding: CsvEncoding = encoding_field()


class TemporaryPassword(BaseModel):
    """The temporary password of a user the upload created: shown only in this answer (and to a
    retry with the same Idempotency-Key)."""

    login_id: str = Field(title="ログインID")
    password: str = Field(title="仮パスワード", description="Must be changed at first login")
    expires_at: datetime = Field(
        title="有効期限", description="The temporary password stops working then (72 hours by default)"
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

    temporary_passwords: list[TemporaryPassword] = Field(
        title="仮パスワード", description="The new users' temporary passwords, shown this once"
    )
