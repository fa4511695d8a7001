"""Shapes of users (依頼人ユーザー)."""

from datetime import datetime
from enum import StrEnum

from pydantic import AliasChoices, AliasPath, BaseModel, ConfigDict, Field

from app.core.types import LocationCode, LoginId, SearchText, UserName


class OrganizationRole(StrEnum):
    """権限: admin 管理者, location_admin 拠点管理者, staff_submitter 担当者（送信可）, staff_preparer 担当者（送信不可）."""

    ADMIN = "admin"
    LOCATION_ADMIN = "location_admin"
    STAFF_SUBMITTER = "staff_submitter"
    STAFF_PREPARER = "staff_preparer"


_ROLE_DESCRIPTION = (
    "権限: `admin` 管理者, `location_admin` 拠点管理者, `staff_submitter` 担当者（送信可）, "
    "`staff_preparer` 担当者（送信不可）"
)
_USER_EXAMPLE = {
    "login_id": "tanaka.h",
    "name": "田中 花子",
    "location_code": "TKY001",
    "role": "staff_submitter",
}


class User(BaseModel):
    """依頼人ユーザー. Never carries a password or hash."""

    # Read from a user row with its location loaded (`UserRow.location`).
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_serialization_defaults_required=True,
        json_schema_extra={"examples": [{**_USER_EXAMPLE, "version": 1}]},
    )

    login_id: str = Field(description="ログインID: never changes")
    name: str = Field(description="ユーザー名")
    location_code: str | None = Field(
        default=None,
        validation_alias=AliasChoices("location_code", AliasPath("location", "code")),
        description="依頼人拠点; null = all locations",
    )
    role: OrganizationRole = Field(description=_ROLE_DESCRIPTION)
    password_expires_at: datetime | None = Field(description="パスワード有効期限")
    password_change_required: bool = Field(
        validation_alias=AliasChoices("password_change_required", "password_temporary"),
        description="The current password is temporary",
    )
    last_login_at: datetime | None = Field(description="最終ログイン日時")
    locked_until: datetime | None = Field(description="Locked after repeated failed logins until then")
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="Also sent as the ETag")


class UserCreate(BaseModel):
    """担当者ユーザーの追加 (admins: 管理者ユーザーの追加, operators only)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{**_USER_EXAMPLE, "password": "initial-pass-2026"}]}
    )

    login_id: LoginId
    name: UserName
    password: str = Field(
        max_length=1024,
        description="Initial password, 8 to 128 characters; temporary: changed at first login, expires after 72 hours by default (configurable)",
    )
    location_code: LocationCode | None = Field(default=None, description="null = all locations")
    role: OrganizationRole = Field(description=_ROLE_DESCRIPTION)


class UserUpdate(BaseModel):
    """管理者/担当者ユーザーの変更. Absent fields stay; the login ID never changes."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"name": "田中 花子", "role": "staff_preparer"}]}
    )

    name: UserName = None  # type: ignore[assignment]  # absent: unchanged; null is refused
    location_code: LocationCode | None = Field(default=None, description="null = all locations")
    role: OrganizationRole = Field(default=None, description=_ROLE_DESCRIPTION)  # type: ignore[assignment]


class UserFilters(BaseModel):
    """依頼人ユーザー検索: text filters match partially ignoring case; `role` may repeat (either)."""

    login_id: SearchText | None = None
    name: SearchText | None = None
    location_code: SearchText | None = None
    role: list[OrganizationRole] = Field(default_factory=list)


class PasswordReset(BaseModel):
    """ログインパスワードの初期化: a one-time temporary password, shown once."""

    login_id: str
    temporary_password: str
    expires_at: datetime = Field(description="The temporary password stops working then")
