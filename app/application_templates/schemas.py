"""Shapes of application templates (申請テンプレート, SPEC §2.8)."""

from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import AliasChoices, AliasPath, BaseModel, ConfigDict, Field, StringConstraints

from app.agents.procedures import Procedure
from app.application_templates.types import Notes
from app.db.filters import Filter, Filters, Match
from app.http.fields import CreatedAt, UpdatedAt, Version
from app.http.ids import PublicIdText
from app.http.pagination import PageQuery
from app.locations.types import LocationCode
from app.text.messages import labelled_values
from app.text.types import (
    PARTIAL_MATCH,
    BlankIsNull,
    FullWidthAddress,
    FullWidthName,
    PostalCode,
    SearchText,
)


class Use(StrEnum):
    """Private or business use."""

    PRIVATE = "private"  # 自家用
    BUSINESS = "business"  # 事業用


# What 継続検査 takes from the vehicle's record instead (§2.8): refused there when given.
NOT_FOR_CONTINUOUS_INSPECTION = ("owner", "user", "user_same_as_owner", "base_location")

# The screens' labels of a template's fields (SPEC §2.8).
NAME = "テンプレート名"
PROCEDURE = "手続"
LOCATION_CODE = "依頼人拠点コード"
DESIGNATION = "依頼先代理人"
USE = "自家用・事業用の別"
OWNER = "所有者"
USER = "使用者"
SAME = "使用者は所有者と同じ"
BASE = "使用の本拠の位置"
NOTES = "備考"

_PROCEDURE_DESCRIPTION = f"One of {labelled_values(Procedure)}"
_USE_DESCRIPTION = f"{labelled_values(Use)}"
_OWNER_DESCRIPTION = "The owner; not for `continuous_inspection`"
_USER_DESCRIPTION = "The user; null when `user_same_as_owner`; not for `continuous_inspection`"
_SAME_DESCRIPTION = "The user is the owner; not for `continuous_inspection`"
_BASE_DESCRIPTION = "Where the vehicle is based; not for `continuous_inspection`"
_DESIGNATION_DESCRIPTION = (
    "A designated agent (9 digits) of this organization whose procedures include this "
    "procedure and whose location is all locations or this template's"
)
_LOCATION_CODE_DESCRIPTION = 'A location of the organization; null or `""`: all locations'
_NAME_DESCRIPTION = "1 to 50 full-width characters, unique in the organization"


POSTAL_CODE = "郵便番号"
ADDRESS = "住所"


class Party(BaseModel):
    """An owner or user: a person or corporation as OSS records it."""

    model_config = ConfigDict(extra="forbid")

    name: FullWidthName = Field(title="氏名又は名称")
    postal_code: PostalCode = Field(title=POSTAL_CODE)
    address: FullWidthAddress = Field(title=ADDRESS)


class BaseLocation(BaseModel):
    """Where the vehicle is based."""

    model_config = ConfigDict(extra="forbid")

    postal_code: PostalCode = Field(title=POSTAL_CODE)
    address: FullWidthAddress = Field(title=ADDRESS)


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
    """An application template."""

    # Read from a template row with its location loaded (`ApplicationTemplateRow.location`).
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_serialization_defaults_required=True,
        json_schema_extra={"examples": [_READ_EXAMPLE]},
    )

    id: PublicIdText = Field(title="申請テンプレートID", description="9 decimal digits")
    name: str = Field(title=NAME)
    procedure: Procedure = Field(title=PROCEDURE, description=_PROCEDURE_DESCRIPTION)
    location_code: str | None = Field(
        default=None,
        title=LOCATION_CODE,
        validation_alias=AliasChoices("location_code", AliasPath("location", "code")),
        description="null: all locations",
    )
    agent_designation_id: PublicIdText | None = Field(title=DESIGNATION, description=_DESIGNATION_DESCRIPTION)
    use: Use | None = Field(title=USE, description=_USE_DESCRIPTION)
    owner: Party | None = Field(title=OWNER, description=_OWNER_DESCRIPTION)
    user: Party | None = Field(title=USER, description=_USER_DESCRIPTION)
    user_same_as_owner: bool = Field(title=SAME, description=_SAME_DESCRIPTION)
    base_location: BaseLocation | None = Field(title=BASE, description=_BASE_DESCRIPTION)
    notes: str | None = Field(title=NOTES)
    created_at: CreatedAt
    created_by: str = Field(title="登録者", description="Login ID (or API key) of who created it")
    updated_at: UpdatedAt
    version: Version


DesignationId = Annotated[
    Annotated[str, StringConstraints(pattern="^[0-9]{9}$")] | None,
    BlankIsNull,
    Field(title=DESIGNATION, description=_DESIGNATION_DESCRIPTION),
]


class ApplicationTemplateCreate(BaseModel):
    """A new template. Full-width fields are checked as everywhere (SPEC §3), nested ones named by
    their path (`owner.address`)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": list(EXAMPLES.values())})

    name: FullWidthName = Field(title=NAME, description=_NAME_DESCRIPTION)
    procedure: Procedure = Field(title=PROCEDURE, description=_PROCEDURE_DESCRIPTION)
    location_code: Annotated[LocationCode | None, BlankIsNull] = Field(
        default=None, title=LOCATION_CODE, description=_LOCATION_CODE_DESCRIPTION
    )
    agent_designation_id: DesignationId = None
    use: Annotated[Use | None, BlankIsNull] = Field(default=None, title=USE, description=_USE_DESCRIPTION)
    owner: Party | None = Field(default=None, title=OWNER, description=_OWNER_DESCRIPTION)
    user: Party | None = Field(default=None, title=USER, description=_USER_DESCRIPTION)
    user_same_as_owner: bool = Field(default=False, title=SAME, description=_SAME_DESCRIPTION)
    base_location: BaseLocation | None = Field(default=None, title=BASE, description=_BASE_DESCRIPTION)
    notes: Annotated[Notes | None, BlankIsNull] = Field(
        default=None, title=NOTES, description="At most 200 characters"
    )


class ApplicationTemplateUpdate(BaseModel):
    """A change of a template: absent fields stay; a party or base location given is replaced whole."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "リース車新規登録（東京本店）", "notes": None}]},
    )
    immutable_fields: ClassVar[frozenset[str]] = frozenset({"id"})

    name: FullWidthName = Field(default=None, title=NAME, description=_NAME_DESCRIPTION)  # type: ignore[assignment]  # absent: unchanged; null is refused
    procedure: Procedure = Field(default=None, title=PROCEDURE, description=_PROCEDURE_DESCRIPTION)  # type: ignore[assignment]
    location_code: Annotated[LocationCode | None, BlankIsNull] = Field(
        default=None, title=LOCATION_CODE, description=_LOCATION_CODE_DESCRIPTION
    )
    agent_designation_id: DesignationId = None
    use: Annotated[Use | None, BlankIsNull] = Field(default=None, title=USE, description=_USE_DESCRIPTION)
    owner: Party | None = Field(default=None, title=OWNER, description=_OWNER_DESCRIPTION)
    user: Party | None = Field(default=None, title=USER, description=_USER_DESCRIPTION)
    user_same_as_owner: bool = Field(default=None, title=SAME, description=_SAME_DESCRIPTION)  # type: ignore[assignment]
    base_location: BaseLocation | None = Field(default=None, title=BASE, description=_BASE_DESCRIPTION)
    notes: Annotated[Notes | None, BlankIsNull] = Field(
        default=None, title=NOTES, description="null removes them"
    )


class ApplicationTemplateCopy(BaseModel):
    """A copy of the template under a new name."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"name": "リース車新規登録（大阪支店）"}]}
    )

    name: FullWidthName = Field(title=NAME, description=f"The copy's name: {_NAME_DESCRIPTION}")


class ApplicationTemplateFilters(Filters):
    """The filters of the template search."""

    also_sortable = ("created_at", "updated_at")

    name: SearchText | None = Field(default=None, title=NAME, description=PARTIAL_MATCH)
    procedure: Annotated[Procedure | None, Filter(Match.EXACT)] = Field(
        default=None, title=PROCEDURE, description="Exact"
    )
    location_code: Annotated[SearchText | None, Filter(Match.EXACT)] = Field(
        default=None,
        title=LOCATION_CODE,
        description="Exact; empty (`location_code=`) finds the all-locations templates",
    )
    agent_designation_id: Annotated[SearchText | None, Filter(Match.EXACT, sortable=False)] = Field(
        default=None, title=DESIGNATION, description="The designated agent's id (9 digits), exact"
    )


class ApplicationTemplateQuery(PageQuery, ApplicationTemplateFilters):
    """The query string of the template list: its filters and the page."""
