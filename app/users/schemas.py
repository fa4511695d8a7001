"""Shapes of users (依頼人ユーザー)."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import AliasChoices, AliasPath, BaseModel, ConfigDict, Field

from app.auth.messages import ROLE_LABELS
from app.auth.principals import ORGANIZATION_ROLES, Role
from app.auth.types import LoginId
from app.db.filters import Filter, Filters, Match
from app.http.pagination import PageQuery
from app.locations.types import LocationCode
from app.text.types import BlankIsNull, SearchText
from app.users.types import UserName

# The roles a user of an organization can have, as the API names them (app.models.user.Role).
OrganizationRole = StrEnum(  # type: ignore[misc]
    "OrganizationRole", {role.name: role.value for role in ORGANIZATION_ROLES}
)
OrganizationRole.__doc__ = (
    "権限: " + ", ".join(f"{role} {ROLE_LABELS[role][0]}" for role in ORGANIZATION_ROLES) + "."
)
_ROLE_DESCRIPTION = "権限: " + ", ".join(f"`{role}` {ROLE_LABELS[role][0]}" for role in ORGANIZATION_ROLES)
_USER_EXAMPLE = {
    "login_id": "tanaka.h",
    "name": "田中 花子",
    "location_code": "TKY001",
    "role": Role.STAFF_SUBMITTER.value,
}
_LOCATION_NAME_EXAMPLE = "東京本店"


class User(BaseModel):
    """依頼人ユーザー. Never carries a password or hash."""

    # Read from a user row with its location loaded (`UserRow.location`).
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_serialization_defaults_required=True,
        json_schema_extra={
            "examples": [{**_USER_EXAMPLE, "location_name": _LOCATION_NAME_EXAMPLE, "version": 1}]
        },
    )

    # Each title is the screens' label: the heading of the CSV column (app/users/sheet.py).
    login_id: str = Field(title="ログインID", description="ログインID: never changes")
    name: str = Field(title="ユーザー名", description="ユーザー名")
    location_code: str | None = Field(
        default=None,
        title="依頼人拠点コード",
        validation_alias=AliasChoices("location_code", AliasPath("location", "code")),
        description="依頼人拠点コード; null = all locations (全拠点)",
    )
    location_name: str | None = Field(
        default=None,
        title="依頼人拠点名",
        validation_alias=AliasChoices("location_name", AliasPath("location", "name")),
        description="依頼人拠点名 (read only); null = all locations (全拠点)",
    )
    role: OrganizationRole = Field(title="権限", description=_ROLE_DESCRIPTION)
    password_expires_at: datetime | None = Field(description="パスワード有効期限")
    password_change_required: bool = Field(
        validation_alias=AliasChoices("password_change_required", "password_temporary"),
        description="The current password is temporary",
    )
    last_login_at: datetime | None = Field(title="最終ログイン日時", description="最終ログイン日時")
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
    location_code: Annotated[LocationCode | None, BlankIsNull] = Field(
        default=None, description='依頼人拠点コード; null or `""` = all locations (全拠点)'
    )
    role: OrganizationRole = Field(description=_ROLE_DESCRIPTION)


class UserUpdate(BaseModel):
    """管理者/担当者ユーザーの変更. Absent fields stay; the login ID never changes."""

    # Sending one of these is an attempt to change what identifies the resource (immutable_field).
    immutable_fields: ClassVar[frozenset[str]] = frozenset({"login_id"})

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"name": "田中 花子", "role": "staff_preparer"}]}
    )

    name: UserName = None  # type: ignore[assignment]  # absent: unchanged; null is refused
    location_code: Annotated[LocationCode | None, BlankIsNull] = Field(
        default=None, description='依頼人拠点コード; null or `""` = all locations (全拠点)'
    )
    role: OrganizationRole = Field(default=None, description=_ROLE_DESCRIPTION)  # type: ignore[assignment]


class UserFilters(Filters):
    """依頼人ユーザー検索: text filters match partially ignoring width and case; `role` may repeat."""

    also_sortable = ("last_login_at", "created_at")

    login_id: SearchText | None = Field(default=None, description="ログインID")
    name: Annotated[SearchText | None, Filter(Match.CONTAINS_GRAMS)] = Field(
        default=None, description="ユーザー名"
    )
    location_code: Annotated[SearchText | None, Filter(Match.EXACT)] = Field(
        default=None,
        description="依頼人拠点コード, exact; empty (`location_code=`) finds the users of all locations (全拠点)",
    )
    role: Annotated[list[OrganizationRole], Filter(Match.ANY)] = Field(
        default_factory=list, description="権限; give it more than once for either"
    )


class UserQuery(PageQuery, UserFilters):
    """The query string of the user list: its filters and the page."""


class PasswordReset(BaseModel):
    """ログインパスワードの初期化: a one-time temporary password, shown once."""

    login_id: str
    temporary_password: str
    expires_at: datetime = Field(description="The temporary password stops working then")
