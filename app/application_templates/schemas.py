"""Shapes of application templates (申請テンプレート, SPEC §2.8)."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import AliasChoices, AliasPath, BaseModel, ConfigDict, Field, StringConstraints

from app.agents.procedures import Procedure
from app.application_templates.types import Notes
from app.db.filters import Filter, Filters, Match
from app.http.ids import PublicIdText
from app.http.pagination import PageQuery
from app.locations.types import LocationCode
from app.text.types import (
    BlankIsNull,
    FullWidthAddress,
    FullWidthName,
    PostalCode,
    SearchText,
)


class Use(StrEnum):
    """自家用・事業用の別."""

    PRIVATE = "private"  # 自家用
    BUSINESS = "business"  # 事業用


# What 継続検査 takes from the vehicle's record instead (§2.8): refused there when given.
NOT_FOR_CONTINUOUS_INSPECTION = ("owner", "user", "user_same_as_owner", "base_location")

_PROCEDURE_DESCRIPTION = (
    "`new_registration` 新規登録, `change_registration` 変更登録, `transfer_registration` 移転登録, "
    "`description_change` 記載変更, `continuous_inspection` 継続検査, `kei_new_inspection` 軽自動車の新車新規検査"
)
_USE_DESCRIPTION = "自家用・事業用の別: `private` 自家用, `business` 事業用"
_OWNER_DESCRIPTION = "所有者; not for `continuous_inspection`"
_USER_DESCRIPTION = "使用者; null when `user_same_as_owner`; not for `continuous_inspection`"
_SAME_DESCRIPTION = "使用者は所有者と同じ; not for `continuous_inspection`"
_BASE_DESCRIPTION = "使用の本拠の位置; not for `continuous_inspection`"
_DESIGNATION_DESCRIPTION = (
    "依頼先代理人 (9 digits): a designation of this organization whose procedures include this "
    "procedure and whose location is all locations or this template's"
)


class Party(BaseModel):
    """所有者 or 使用者: a person or corporation as OSS records it."""

    model_config = ConfigDict(extra="forbid")

    name: FullWidthName = Field(description="氏名又は名称: 1 to 50 full-width characters")
    postal_code: PostalCode
    address: FullWidthAddress


class BaseLocation(BaseModel):
    """使用の本拠の位置."""

    model_config = ConfigDict(extra="forbid")

    postal_code: PostalCode
    address: FullWidthAddress


_LEASING = {
    "name": "株式会社見本リース",
    "postal_code": "1050001",
    "address": "東京都港区虎ノ門一丁目１番１号",
}
_DEALER = {
    "name": "株式会社サンプル自動車",
    "postal_code": "1400002",
    "address": "東京都品川区東品川二丁目２番２号",
}
_BASE = {"postal_code": "1400002", "address": "東京都品川区東品川二丁目２番２号"}

# One template per procedure, for the OpenAPI document (a frontend builds its form from these).
EXAMPLES: dict[str, dict[str, Any]] = {
    "new_registration": {
        "name": "リース車新規登録（東京本店）",
        "procedure": "new_registration",
        "location_code": "TKY001",
        "agent_designation_id": "000000001",
        "use": "private",
        "owner": _LEASING,
        "user": {
            "name": "見本\u3000太郎",
            "postal_code": "150-0001",
            "address": "東京都渋谷区神宮前一丁目３番３号",
        },
        "user_same_as_owner": False,
        "base_location": {"postal_code": "150-0001", "address": "東京都渋谷区神宮前一丁目３番３号"},
        "notes": "リース契約書の写しを添付",
    },
    "change_registration": {
        "name": "住所変更（自社名義）",
        "procedure": "change_registration",
        "location_code": None,
        "use": "business",
        "owner": _DEALER,
        "user": None,
        "user_same_as_owner": True,
        "base_location": _BASE,
    },
    "transfer_registration": {
        "name": "下取車の移転登録",
        "procedure": "transfer_registration",
        "location_code": "TKY001",
        "owner": _DEALER,
        "user_same_as_owner": True,
        "base_location": _BASE,
    },
    "description_change": {
        "name": "記載変更（使用の本拠）",
        "procedure": "description_change",
        "location_code": "TKY001",
        "base_location": _BASE,
    },
    "continuous_inspection": {
        "name": "継続検査（車検）",
        "procedure": "continuous_inspection",
        "location_code": "TKY001",
        "agent_designation_id": "000000002",
        "notes": "所有者・使用者・使用の本拠の位置は自動車検査証の記録から",
    },
    "kei_new_inspection": {
        "name": "展示車（軽）の新車新規検査",
        "procedure": "kei_new_inspection",
        "location_code": None,
        "use": "private",
        "owner": _DEALER,
        "user_same_as_owner": True,
        "base_location": _BASE,
    },
}
_READ_EXAMPLE = {
    **EXAMPLES["new_registration"],
    "id": "000000123",
    "owner": _LEASING,
    "user": {
        "name": "見本\u3000太郎",
        "postal_code": "1500001",
        "address": "東京都渋谷区神宮前一丁目３番３号",
    },
    "base_location": {"postal_code": "1500001", "address": "東京都渋谷区神宮前一丁目３番３号"},
    "created_by": "ainas.admin",
    "version": 1,
}


class ApplicationTemplate(BaseModel):
    """申請テンプレート."""

    # Read from a template row with its location loaded (`ApplicationTemplateRow.location`).
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_serialization_defaults_required=True,
        json_schema_extra={"examples": [_READ_EXAMPLE]},
    )

    id: PublicIdText = Field(description="9 decimal digits")
    name: str = Field(description="テンプレート名")
    procedure: Procedure = Field(description=_PROCEDURE_DESCRIPTION)
    location_code: str | None = Field(
        default=None,
        validation_alias=AliasChoices("location_code", AliasPath("location", "code")),
        description="依頼人拠点コード; null = all locations (全拠点)",
    )
    agent_designation_id: PublicIdText | None = Field(description=_DESIGNATION_DESCRIPTION)
    use: Use | None = Field(description=_USE_DESCRIPTION)
    owner: Party | None = Field(description=_OWNER_DESCRIPTION)
    user: Party | None = Field(description=_USER_DESCRIPTION)
    user_same_as_owner: bool = Field(description=_SAME_DESCRIPTION)
    base_location: BaseLocation | None = Field(description=_BASE_DESCRIPTION)
    notes: str | None = Field(description="備考")
    created_at: datetime
    created_by: str = Field(description="Login ID (or API key) of who created it")
    updated_at: datetime
    version: int = Field(description="Also sent as the ETag")


DesignationId = Annotated[
    Annotated[str, StringConstraints(pattern="^[0-9]{9}$")] | None,
    BlankIsNull,
    Field(description=_DESIGNATION_DESCRIPTION),
]


class ApplicationTemplateCreate(BaseModel):
    """申請テンプレートの登録. Full-width fields are checked as everywhere (SPEC §3), nested ones
    named by their path (`owner.address`)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": list(EXAMPLES.values())})

    name: FullWidthName = Field(
        description="テンプレート名: 1 to 50 full-width characters, unique in the organization"
    )
    procedure: Procedure = Field(description=_PROCEDURE_DESCRIPTION)
    location_code: Annotated[LocationCode | None, BlankIsNull] = Field(
        default=None, description='依頼人拠点コード; null or `""` = all locations (全拠点)'
    )
    agent_designation_id: DesignationId = None
    use: Annotated[Use | None, BlankIsNull] = Field(default=None, description=_USE_DESCRIPTION)
    owner: Party | None = Field(default=None, description=_OWNER_DESCRIPTION)
    user: Party | None = Field(default=None, description=_USER_DESCRIPTION)
    user_same_as_owner: bool = Field(default=False, description=_SAME_DESCRIPTION)
    base_location: BaseLocation | None = Field(default=None, description=_BASE_DESCRIPTION)
    notes: Annotated[Notes | None, BlankIsNull] = Field(
        default=None, description="備考: at most 200 characters"
    )


class ApplicationTemplateUpdate(BaseModel):
    """申請テンプレートの変更. Absent fields stay; a party or base location given is replaced whole."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "リース車新規登録（東京本店）", "notes": None}]},
    )
    immutable_fields: ClassVar[frozenset[str]] = frozenset({"id"})

    name: FullWidthName = None  # type: ignore[assignment]  # absent: unchanged; null is refused
    procedure: Procedure = Field(default=None, description=_PROCEDURE_DESCRIPTION)  # type: ignore[assignment]
    location_code: Annotated[LocationCode | None, BlankIsNull] = Field(
        default=None, description='依頼人拠点コード; null or `""` = all locations (全拠点)'
    )
    agent_designation_id: DesignationId = None
    use: Annotated[Use | None, BlankIsNull] = Field(default=None, description=_USE_DESCRIPTION)
    owner: Party | None = Field(default=None, description=_OWNER_DESCRIPTION)
    user: Party | None = Field(default=None, description=_USER_DESCRIPTION)
    user_same_as_owner: bool = Field(default=None, description=_SAME_DESCRIPTION)  # type: ignore[assignment]
    base_location: BaseLocation | None = Field(default=None, description=_BASE_DESCRIPTION)
    notes: Annotated[Notes | None, BlankIsNull] = Field(default=None, description="備考; null removes them")


class ApplicationTemplateCopy(BaseModel):
    """転用作成: a copy of the template under a new name."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"name": "リース車新規登録（大阪支店）"}]}
    )

    name: FullWidthName = Field(
        description="The copy's name: 1 to 50 full-width characters, unique in the organization"
    )


class ApplicationTemplateFilters(Filters):
    """申請テンプレート検索."""

    also_sortable = ("created_at", "updated_at")

    name: SearchText | None = Field(
        default=None, description="テンプレート名: partial, ignoring width and case"
    )
    procedure: Annotated[Procedure | None, Filter(Match.EXACT)] = Field(
        default=None, description="手続き, exact"
    )
    location_code: Annotated[SearchText | None, Filter(Match.EXACT)] = Field(
        default=None,
        description="依頼人拠点コード, exact; empty (`location_code=`) finds the all-locations templates (全拠点)",
    )
    agent_designation_id: Annotated[SearchText | None, Filter(Match.EXACT, sortable=False)] = Field(
        default=None, description="依頼先代理人 id (9 digits), exact"
    )


class ApplicationTemplateQuery(PageQuery, ApplicationTemplateFilters):
    """The query string of the template list: its filters and the page."""
