"""Shapes of organizations and onboarding (依頼人組織, 利用登録通知書)."""

from datetime import date, datetime
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from app.auth.organization_ids import OrganizationIdText
from app.auth.types import LoginId
from app.certificates.schemas import Certificate
from app.db.filters import Filter, Filters, Match
from app.http.pagination import PageQuery
from app.text.types import FullWidthName, FullWidthShortName, SearchText
from app.users.types import UserName

NAME_EXAMPLE = "株式会社ＡＩＮＡＳ自動車販売"
SHORT_NAME_EXAMPLE = "ＡＩＮＡＳ自販"


class Organization(BaseModel):
    """依頼人組織."""

    model_config = ConfigDict(from_attributes=True)

    id: OrganizationIdText = Field(description="依頼人組織ID: 9 decimal digits", examples=["000000001"])
    name: str = Field(description="依頼人組織名", examples=[NAME_EXAMPLE])
    short_name: str = Field(description="依頼人組織名（略称）", examples=[SHORT_NAME_EXAMPLE])
    api_password_changed_at: datetime | None = Field(description="パスワード変更日 (API password)")
    created_at: datetime = Field(description="登録日時")
    updated_at: datetime
    version: int = Field(description="Also sent as the ETag")


class OrganizationDetail(Organization):
    """依頼人組織, as its own answer: with the requester certificate for callers who may read it."""

    certificate: Certificate | None = Field(
        default=None,
        description=(
            "依頼人証明書: the certificate in use (`active`, or `expired` until a new one is registered), or "
            "null when none is. Present for operators and admins only (SPEC §4)"
        ),
    )


class OrganizationUpdate(BaseModel):
    """依頼人組織名の変更: name and/or short name."""

    # Sending one of these is an attempt to change what identifies the resource (immutable_field).
    immutable_fields: ClassVar[frozenset[str]] = frozenset({"id"})

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": NAME_EXAMPLE, "short_name": SHORT_NAME_EXAMPLE}]},
    )

    name: FullWidthName = None  # type: ignore[assignment]  # absent: unchanged; null is refused
    short_name: FullWidthShortName = None  # type: ignore[assignment]


class OrganizationFilters(Filters):
    """Search of organizations (operators)."""

    also_sortable = ("short_name", "created_at")

    id: Annotated[str | None, Filter(Match.EXACT)] = Field(
        default=None, max_length=9, description="依頼人組織ID, exact (9 digits)"
    )
    name: Annotated[SearchText | None, Filter(Match.CONTAINS, columns=("name", "short_name"))] = Field(
        default=None,
        description="依頼人組織名 or its abbreviation (略称), partial match ignoring width and case",
    )


class OrganizationQuery(PageQuery, OrganizationFilters):
    """The query string of the organization list: its filters and the page."""


class AdminSeed(BaseModel):
    """An admin user to create with the organization."""

    model_config = ConfigDict(extra="forbid")

    login_id: LoginId
    name: UserName


class OrganizationOnboard(BaseModel):
    """Onboarding of a new organization by an operator (利用登録)."""

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

    name: FullWidthName
    short_name: FullWidthShortName
    admins: Annotated[list[AdminSeed], Field(min_length=1, max_length=20)]


class NoticeAdmin(BaseModel):
    """An admin's line of the registration notice."""

    name: str
    login_id: str
    initial_password: str = Field(
        description="One-time: must be changed at first login; expires after 72 hours by default (configurable)"
    )


class RegistrationNotice(BaseModel):
    """利用登録通知書: shown once; the service keeps only hashes of the secrets."""

    registration_date: date = Field(description="登録日, in Japan time", examples=["2026-04-01"])
    organization_id: str = Field(description="依頼人組織ID")
    organization_name: str = Field(description="依頼人組織名")
    login_url: str | None = Field(
        description="ログインURL of AINAS (configured: AINAS_LOGIN_URL); null when not configured",
        examples=["https://ainas.example.jp/login"],
    )
    api_key: str = Field(description="APIキー")
    api_initial_password: str = Field(description="API初期パスワード")
    admins: list[NoticeAdmin]


class OnboardingResult(BaseModel):
    """The new organization and its registration notice."""

    organization: Organization
    registration_notice: RegistrationNotice
