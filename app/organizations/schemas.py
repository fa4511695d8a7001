"""Shapes of organizations and onboarding (依頼人組織, 利用登録通知書)."""

from datetime import date, datetime
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from app.auth.organization_ids import OrganizationIdText
from app.auth.types import LoginId
from app.certificates.schemas import Certificate
from app.db.filters import Filter, Filters, Match
from app.http.fields import CreatedAt, UpdatedAt, Version
from app.http.pagination import PageQuery
from app.text.types import PARTIAL_MATCH, FullWidthName, FullWidthShortName, SearchText
from app.users.types import UserName

# The screens' labels of an organization's fields (SPEC §2.1).
ID = "依頼人組織ID"
NAME = "依頼人組織名"
SHORT_NAME = "依頼人組織名（略称）"

NAME_EXAMPLE = "株式会社ＡＩＮＡＳ自動車販売"
SHORT_NAME_EXAMPLE = "ＡＩＮＡＳ自販"


class Organization(BaseModel):
    """A requester organization."""

    model_config = ConfigDict(from_attributes=True)

    id: OrganizationIdText = Field(title=ID, description="9 decimal digits", examples=["000000001"])
    name: str = Field(title=NAME, examples=[NAME_EXAMPLE])
    short_name: str = Field(title=SHORT_NAME, examples=[SHORT_NAME_EXAMPLE])
    api_password_changed_at: datetime | None = Field(
        title="パスワード変更日", description="When the API password last changed"
    )
    created_at: CreatedAt
    updated_at: UpdatedAt
    version: Version


class OrganizationDetail(Organization):
    """An organization as its own answer: with the requester certificate for callers who may read it."""

    certificate: Certificate | None = Field(
        default=None,
        title="依頼人証明書",
        description=(
            "The certificate in use (`active`, or `expired` until a new one is registered), or "
            "null when none is. Present for operators and admins only (SPEC §4)"
        ),
    )


class OrganizationUpdate(BaseModel):
    """A change of an organization's name and/or short name."""

    # Sending one of these is an attempt to change what identifies the resource (immutable_field).
    immutable_fields: ClassVar[frozenset[str]] = frozenset({"id"})

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": NAME_EXAMPLE, "short_name": SHORT_NAME_EXAMPLE}]},
    )

    name: FullWidthName = Field(default=None, title=NAME)  # type: ignore[assignment]  # absent: unchanged; null is refused
    short_name: FullWidthShortName = Field(default=None, title=SHORT_NAME)  # type: ignore[assignment]


class OrganizationFilters(Filters):
    """Search of organizations (operators)."""

    also_sortable = ("short_name", "created_at")

    id: Annotated[str | None, Filter(Match.EXACT)] = Field(
        default=None, max_length=9, title=ID, description="Exact (9 digits)"
    )
    name: Annotated[SearchText | None, Filter(Match.CONTAINS, columns=("name", "short_name"))] = Field(
        default=None, title=NAME, description=f"The name or its abbreviation; {PARTIAL_MATCH.lower()}"
    )


class OrganizationQuery(PageQuery, OrganizationFilters):
    """The query string of the organization list: its filters and the page."""


class AdminSeed(BaseModel):
    """An admin user to create with the organization."""

    model_config = ConfigDict(extra="forbid")

    login_id: LoginId = Field(title="ログインID")
    name: UserName = Field(title="ユーザー名")


class OrganizationOnboard(BaseModel):
    """Onboarding of a new organization by an operator."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": NAME_EXAMPLE,
                    "short_name": SHORT_NAME_EXAMPLE,
                    "admins": [{"login_id": "ainas.admin", "name": "山田 太郎"}],
                }
            ]
        },
    )

    name: FullWidthName = Field(title=NAME)
    short_name: FullWidthShortName = Field(title=SHORT_NAME)
    admins: list[AdminSeed] = Field(
        min_length=1, max_length=20, title="管理者ユーザー", description="1 to 20 admins to create"
    )


class NoticeAdmin(BaseModel):
    """An admin's line of the registration notice."""

    name: str = Field(title="ユーザー名")
    login_id: str = Field(title="ログインID")
    initial_password: str = Field(
        title="初期パスワード",
        description="One-time: must be changed at first login; expires after 72 hours by default (configurable)",
    )


class RegistrationNotice(BaseModel):
    """The registration notice: shown once; the service keeps only hashes of the secrets."""

    registration_date: date = Field(title="登録日", description="In Japan time", examples=["2026-04-01"])
    organization_id: str = Field(title=ID)
    organization_name: str = Field(title=NAME)
    login_url: str | None = Field(
        title="ログインURL",
        description="AINAS's login page (configured: `AINAS_LOGIN_URL`); null when not configured",
        examples=["https://ainas.example.jp/login"],
    )
    api_key: str = Field(title="APIキー")
    api_initial_password: str = Field(title="API初期パスワード")
    admins: list[NoticeAdmin] = Field(title="管理者ユーザー")


class OnboardingResult(BaseModel):
    """The new organization and its registration notice."""

    organization: Organization = Field(title="依頼人組織")
    registration_notice: RegistrationNotice = Field(title="利用登録通知書")
