"""Shapes of users (依頼人ユーザー)."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from app.auth.principals import ORGANIZATION_ROLES, Role
from app.auth.types import LoginId
from app.db.filters import Filter, Filters, Match
from app.http.fields import CreatedAt, UpdatedAt, Version
from app.http.pagination import PageQuery
from app.locations.types import LocationCode
from app.text.messages import labelled_values
from app.text.types import PARTIAL_MATCH, BlankIsNull, SearchText
from app.users.types import UserName

# The roles a user of an organization can have, as the API names them (app.models.user.Role).
OrganizationRole = StrEnum(  # type: ignore[misc]
    "OrganizationRole", {role.name: role.value for role in ORGANIZATION_ROLES}
)
_ROLES = labelled_values(ORGANIZATION_ROLES)
OrganizationRole.__doc__ = f"A user's role: {_ROLES}."
_ROLE_DESCRIPTION = f"One of {_ROLES}"
_LOCATION_CODE_DESCRIPTION = 'A location of the organization; null or `""`: all locations'
_USER_EXAMPLE = {
    "login_id": "tanaka.h",
    "name": "田中 花子",
    "location_code": "TKY001",
    "role": Role.STAFF_SUBMITTER.value,
}
_LOCATION_NAME_EXAMPLE = "東京本店"


class User(BaseModel):
    """A user of an organization; never carries a password or hash."""

    # Answered from rows straight to JSON, its fields in the order they are selected (SHOWN in
    # app/users/repository.py: the location's code and name joined).
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_serialization_defaults_required=True,
        json_schema_extra={
            "examples": [{**_USER_EXAMPLE, "location_name": _LOCATION_NAME_EXAMPLE, "version": 1}]
        },
    )

    # Each title is the screens' label: the heading of the CSV column (app/users/sheet.py).
    login_id: str = Field(title="ログインID", description="Never changes")
    name: str = Field(title="ユーザー名")
    location_code: str | None = Field(
        default=None,
        title="依頼人拠点コード",
        description="null: all locations",
    )
    location_name: str | None = Field(
        default=None,
        title="依頼人拠点名",
        description="Read only; null: all locations",
    )
    role: OrganizationRole = Field(title="権限", description=_ROLE_DESCRIPTION)
    password_expires_at: datetime | None = Field(
        title="パスワード有効期限", description="When the password stops working; null: never"
    )
    password_change_required: bool = Field(
        title="パスワード変更が必要",
        description="The current password is temporary",
    )
    last_login_at: datetime | None = Field(title="最終ログイン日時", description="null: never")
    locked_until: datetime | None = Field(
        title="ロック期限", description="Locked after repeated failed logins until then"
    )
    created_at: CreatedAt
    updated_at: UpdatedAt
    version: Version


class UserCreate(BaseModel):
    """A new user (an admin: by operators only)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{**_USER_EXAMPLE, "password": "initial-pass-2026"}]}
    )

    login_id: LoginId = Field(title="ログインID")
    name: UserName = Field(title="ユーザー名")
    password: str = Field(
        max_length=1024,
        title="初期パスワード",
        description="8 to 128 characters; temporary: changed at first login, expires after 72 hours by default (configurable)",
    )
    location_code: Annotated[LocationCode | None, BlankIsNull] = Field(
        default=None, title="依頼人拠点コード", description=_LOCATION_CODE_DESCRIPTION
    )
    role: OrganizationRole = Field(title="権限", description=_ROLE_DESCRIPTION)


class UserUpdate(BaseModel):
    """A change of a user: absent fields stay; the login ID never changes."""

    # Sending one of these is an attempt to change what identifies the resource (immutable_field).
    immutable_fields: ClassVar[frozenset[str]] = frozenset({"login_id"})

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"name": "田中 花子", "role": "staff_preparer"}]}
    )

    name: UserName = Field(default=None, title="ユーザー名")  # type: ignore[assignment]  # absent: unchanged; null is refused
    location_code: Annotated[LocationCode | None, BlankIsNull] = Field(
        default=None, title="依頼人拠点コード", description=_LOCATION_CODE_DESCRIPTION
    )
    role: OrganizationRole = Field(default=None, title="権限", description=_ROLE_DESCRIPTION)  # type: ignore[assignment]


class UserFilters(Filters):
    """The filters of the user search: text filters match partially ignoring width and case; `role`
    may repeat."""

    also_sortable = ("last_login_at", "created_at")

    login_id: SearchText | None = Field(default=None, title="ログインID", description=PARTIAL_MATCH)
    name: Annotated[SearchText | None, Filter(Match.CONTAINS_GRAMS)] = Field(
        default=None, title="ユーザー名", description=PARTIAL_MATCH
    )
    location_code: Annotated[SearchText | None, Filter(Match.EXACT)] = Field(
        default=None,
        title="依頼人拠点コード",
        description="Exact; empty (`location_code=`) finds the users of all locations",
    )
    role: Annotated[list[OrganizationRole], Filter(Match.ANY)] = Field(
        default_factory=list, title="権限", description="Give it more than once for either"
    )


class UserQuery(PageQuery, UserFilters):
    """The query string of the user list: its filters and the page."""


class PasswordReset(BaseModel):
    """A password reset's one-time temporary password, shown once."""

    login_id: str = Field(title="ログインID")
    temporary_password: str = Field(title="仮パスワード", description="Must be changed at first login")
    expires_at: datetime = Field(title="有効期限", description="The temporary password stops working then")
