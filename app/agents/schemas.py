"""Shapes of agents (代理人) and designated agents (依頼先代理人), SPEC §2.7."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, AliasChoices, AliasPath, BaseModel, BeforeValidator, ConfigDict, Field

from app.agents.procedures import AgentKind, Procedure, from_stored, in_order
from app.agents.types import Note, PhoneNumber, Prefecture, RegistrationNumber
from app.db.filters import Filter, Filters, Match
from app.http.ids import PublicIdText
from app.http.pagination import PageQuery
from app.locations.types import LocationCode
from app.text.types import BlankIsNull, FullWidthName, FullWidthShortName, SearchText


class AgentStatus(StrEnum):
    """`active`, or `suspended` by an operator (listed in designations, never resolved)."""

    ACTIVE = "active"
    SUSPENDED = "suspended"


def _stored_procedures(value: Any) -> Any:
    """A row's stored procedures (`"a b"`) as a list; a list as it is."""
    return from_stored(value) if isinstance(value, str) else value


# What an answer shows: the procedures in table order.
ProcedureList = Annotated[list[Procedure], BeforeValidator(_stored_procedures)]
# What a body gives: at least one; repeats dropped, put in table order.
ProcedureInput = Annotated[list[Procedure], Field(min_length=1, max_length=20), AfterValidator(in_order)]

_KIND_DESCRIPTION = (
    "`gyoseishoshi` 行政書士, `gyoseishoshi_corporation` 行政書士法人, `jihanren` 自販連, "
    "`nisseiren` 日整連, `zenkeijikyo` 全軽自協"
)
_PROCEDURES_DESCRIPTION = (
    "手続: `new_registration` 新規登録, `change_registration` 変更登録, `transfer_registration` 移転登録, "
    "`description_change` 記載変更, `continuous_inspection` 継続検査, `kei_new_inspection` 軽自動車の新車新規検査"
)
_AGENT_EXAMPLE: dict[str, Any] = {
    "kind": "nisseiren",
    "name": "東京都自動車整備振興会",
    "short_name": "東京振興会",
    "registration_number": None,
    "prefecture": "13",
    "procedures": ["continuous_inspection"],
    "phone": "03-1234-5678",
}


class AgentSummary(BaseModel):
    """代理人, as a designation shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: PublicIdText = Field(description="代理人ID: 9 decimal digits", examples=["000000001"])
    kind: AgentKind = Field(description=_KIND_DESCRIPTION)
    name: str = Field(description="代理人名")
    short_name: str = Field(description="略称")
    registration_number: str | None = Field(description="登録番号")
    prefecture: str = Field(description="都道府県 (JIS X 0401)")
    status: AgentStatus


class Agent(AgentSummary):
    """代理人: an agent of the directory."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [{"id": "000000001", **_AGENT_EXAMPLE, "status": "active", "version": 1}]
        },
    )

    procedures: ProcedureList = Field(description=_PROCEDURES_DESCRIPTION)
    phone: str | None = Field(description="電話番号")
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="Also sent as the ETag")


class AgentCreate(BaseModel):
    """代理人の追加 (operators)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_AGENT_EXAMPLE]})

    kind: AgentKind = Field(description=_KIND_DESCRIPTION)
    name: FullWidthName
    short_name: FullWidthShortName
    registration_number: Annotated[RegistrationNumber | None, BlankIsNull] = Field(
        default=None, description="登録番号: required for 行政書士 and 行政書士法人; unique within a kind"
    )
    prefecture: Prefecture
    procedures: ProcedureInput | None = Field(
        default=None, description=f"{_PROCEDURES_DESCRIPTION}. Default: every procedure its kind may file"
    )
    phone: Annotated[PhoneNumber | None, BlankIsNull] = None
    status: AgentStatus = AgentStatus.ACTIVE


class AgentUpdate(BaseModel):
    """代理人の変更 (operators); `status: suspended` suspends it. Absent fields stay; the kind never changes."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"status": "suspended"}]})
    immutable_fields: ClassVar[frozenset[str]] = frozenset({"id", "kind"})

    name: FullWidthName = None  # type: ignore[assignment]  # absent: unchanged; null is refused
    short_name: FullWidthShortName = None  # type: ignore[assignment]
    registration_number: Annotated[RegistrationNumber | None, BlankIsNull] = None
    prefecture: Prefecture = None  # type: ignore[assignment]
    procedures: ProcedureInput = Field(default=None, description=_PROCEDURES_DESCRIPTION)  # type: ignore[arg-type]
    phone: Annotated[PhoneNumber | None, BlankIsNull] = None
    status: AgentStatus = None  # type: ignore[assignment]


class AgentFilters(Filters):
    """代理人検索: text filters match partially ignoring width and case; the others exactly."""

    also_sortable = ("id", "name", "short_name", "created_at", "updated_at")

    kind: Annotated[AgentKind | None, Filter(Match.EXACT)] = Field(
        default=None, description=_KIND_DESCRIPTION
    )
    name: Annotated[SearchText | None, Filter(columns=("name", "short_name"))] = Field(
        default=None, description="代理人名 or 略称"
    )
    registration_number: SearchText | None = Field(default=None, description="登録番号")
    prefecture: Annotated[str | None, Filter(Match.EXACT)] = Field(
        default=None, max_length=2, description="都道府県 (JIS X 0401), exact"
    )
    procedure: Annotated[Procedure | None, Filter(Match.EXACT, columns=("procedures",), sortable=False)] = (
        Field(default=None, description="Agents that file this procedure")
    )
    status: Annotated[AgentStatus | None, Filter(Match.EXACT)] = None


class AgentQuery(PageQuery, AgentFilters):
    """The query string of the agent list: its filters and the page."""


# -- designated agents -------------------------------------------------------------------------

_DESIGNATION_EXAMPLE: dict[str, Any] = {
    "agent_id": "000000001",
    "location_code": "TKY001",
    "procedures": ["continuous_inspection"],
    "is_default": True,
    "note": "車検は振興会経由",
}


class AgentDesignation(BaseModel):
    """依頼先代理人: an agent the organization sends filings of these procedures to."""

    # Read from a designation row with its agent and location loaded.
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_serialization_defaults_required=True,
        json_schema_extra={"examples": [{"id": "000000001", **_DESIGNATION_EXAMPLE, "version": 1}]},
    )

    id: PublicIdText = Field(description="依頼先代理人ID: 9 decimal digits", examples=["000000001"])
    agent_id: PublicIdText = Field(description="代理人ID")
    agent: AgentSummary = Field(description="The agent (read only); `status` shows a suspended one")
    location_code: str | None = Field(
        default=None,
        validation_alias=AliasChoices("location_code", AliasPath("location", "code")),
        description="依頼人拠点コード; null = all locations (全拠点)",
    )
    procedures: ProcedureList = Field(description=_PROCEDURES_DESCRIPTION)
    is_default: bool = Field(description="The default of its location (or all locations) for its procedures")
    note: str | None = Field(description="備考")
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="Also sent as the ETag")


class AgentDesignationCreate(BaseModel):
    """依頼先代理人の追加."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_DESIGNATION_EXAMPLE]})

    agent_id: str = Field(max_length=20, description="代理人ID of the directory (an `active` agent)")
    location_code: Annotated[LocationCode | None, BlankIsNull] = Field(
        default=None, description='依頼人拠点コード; null or `""` = all locations (全拠点)'
    )
    procedures: ProcedureInput | None = Field(
        default=None,
        description=f"{_PROCEDURES_DESCRIPTION}. A subset of the agent's; default: all of the agent's",
    )
    is_default: bool = False
    note: Annotated[Note | None, BlankIsNull] = None


class AgentDesignationUpdate(BaseModel):
    """依頼先代理人の変更. Absent fields stay; the agent never changes (designate another instead)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"is_default": True}]})
    immutable_fields: ClassVar[frozenset[str]] = frozenset({"id", "agent_id"})

    location_code: Annotated[LocationCode | None, BlankIsNull] = Field(
        default=None, description='依頼人拠点コード; null or `""` = all locations (全拠点)'
    )
    procedures: ProcedureInput = Field(default=None, description=_PROCEDURES_DESCRIPTION)  # type: ignore[arg-type]
    is_default: bool = None  # type: ignore[assignment]
    note: Annotated[Note | None, BlankIsNull] = None


class AgentDesignationFilters(Filters):
    """依頼先代理人検索: `location_code` exactly (empty: the all-locations ones); agent name partially."""

    also_sortable = ("created_at", "updated_at")

    procedure: Annotated[Procedure | None, Filter(Match.EXACT, columns=("procedures",), sortable=False)] = (
        Field(default=None, description="Designations for this procedure")
    )
    location_code: Annotated[SearchText | None, Filter(Match.EXACT)] = Field(
        default=None,
        description="依頼人拠点コード, exact; empty (`location_code=`) finds the ones of all locations (全拠点)",
    )
    kind: Annotated[AgentKind | None, Filter(Match.EXACT)] = Field(
        default=None, description=f"The agent's kind: {_KIND_DESCRIPTION}"
    )
    name: Annotated[SearchText | None, Filter(columns=("name", "short_name"))] = Field(
        default=None, description="The agent's 代理人名 or 略称"
    )


class AgentDesignationQuery(PageQuery, AgentDesignationFilters):
    """The query string of the designation list: its filters and the page."""


class ResolveQuery(BaseModel):
    """Which designation a filing of this procedure from this location goes to."""

    procedure: Procedure = Field(description=_PROCEDURES_DESCRIPTION)
    location_code: Annotated[SearchText | None, BlankIsNull] = Field(
        default=None, description="依頼人拠点コード; absent or empty: the all-locations default"
    )
