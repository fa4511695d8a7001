"""Shapes of agents (代理人) and designated agents (依頼先代理人), SPEC §2.7."""

from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, AliasChoices, AliasPath, BaseModel, BeforeValidator, ConfigDict, Field

from app.agents.procedures import AgentKind, Procedure, from_stored, in_order
from app.agents.types import Note, PhoneNumber, Prefecture, RegistrationNumber
from app.db.filters import Filter, Filters, Match
from app.http.fields import CreatedAt, UpdatedAt, Version
from app.http.ids import PublicIdText
from app.http.pagination import PageQuery
from app.locations.types import LocationCode
from app.text.messages import labelled_values
from app.text.types import PARTIAL_MATCH, BlankIsNull, FullWidthName, FullWidthShortName, SearchText


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

# The screens' labels of the fields of agents and designations (SPEC §2.7).
AGENT_ID = "代理人ID"
DESIGNATION_ID = "依頼先代理人ID"
KIND = "代理人の種類"
NAME = "代理人名"
SHORT_NAME = "略称"
REGISTRATION_NUMBER = "登録番号"
PREFECTURE = "都道府県"
PROCEDURES = "手続"
PHONE = "電話番号"
STATUS = "状態"
LOCATION_CODE = "依頼人拠点コード"
IS_DEFAULT = "既定"
NOTE = "備考"

_KIND_DESCRIPTION = f"One of {labelled_values(AgentKind)}"
_PROCEDURES_DESCRIPTION = f"Procedures, each one of {labelled_values(Procedure)}"
_STATUS_DESCRIPTION = "`active`, or `suspended` by an operator"
_LOCATION_CODE_DESCRIPTION = 'A location of the organization; null or `""`: all locations'
_ID_DESCRIPTION = "9 decimal digits"
_DEFAULT_DESCRIPTION = "The default of its location (or all locations) for its procedures"
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
    """An agent, as a designation shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: PublicIdText = Field(title=AGENT_ID, description=_ID_DESCRIPTION, examples=["000000001"])
    kind: AgentKind = Field(title=KIND, description=_KIND_DESCRIPTION)
    name: str = Field(title=NAME)
    short_name: str = Field(title=SHORT_NAME)
    registration_number: str | None = Field(title=REGISTRATION_NUMBER)
    prefecture: str = Field(title=PREFECTURE, description="The JIS X 0401 code")
    status: AgentStatus = Field(title=STATUS, description=_STATUS_DESCRIPTION)


class Agent(AgentSummary):
    """An agent of the directory."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [{"id": "000000001", **_AGENT_EXAMPLE, "status": "active", "version": 1}]
        },
    )

    procedures: ProcedureList = Field(title=PROCEDURES, description=_PROCEDURES_DESCRIPTION)
    phone: str | None = Field(title=PHONE)
    created_at: CreatedAt
    updated_at: UpdatedAt
    version: Version


class AgentCreate(BaseModel):
    """A new agent of the directory (operators)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_AGENT_EXAMPLE]})

    kind: AgentKind = Field(title=KIND, description=_KIND_DESCRIPTION)
    name: FullWidthName = Field(title=NAME)
    short_name: FullWidthShortName = Field(title=SHORT_NAME)
    registration_number: Annotated[RegistrationNumber | None, BlankIsNull] = Field(
        default=None,
        title=REGISTRATION_NUMBER,
        description="Required for `gyoseishoshi` and `gyoseishoshi_corporation`; unique within a kind",
    )
    prefecture: Prefecture = Field(title=PREFECTURE)
    procedures: ProcedureInput | None = Field(
        default=None,
        title=PROCEDURES,
        description=f"{_PROCEDURES_DESCRIPTION}. Default: every procedure its kind may file",
    )
    phone: Annotated[PhoneNumber | None, BlankIsNull] = Field(default=None, title=PHONE)
    status: AgentStatus = Field(default=AgentStatus.ACTIVE, title=STATUS, description=_STATUS_DESCRIPTION)


class AgentUpdate(BaseModel):
    """A change of an agent (operators); `status: suspended` suspends it. Absent fields stay; the kind
    never changes."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"status": "suspended"}]})
    immutable_fields: ClassVar[frozenset[str]] = frozenset({"id", "kind"})

    name: FullWidthName = Field(default=None, title=NAME)  # type: ignore[assignment]  # absent: unchanged; null is refused
    short_name: FullWidthShortName = Field(default=None, title=SHORT_NAME)  # type: ignore[assignment]
    registration_number: Annotated[RegistrationNumber | None, BlankIsNull] = Field(
        default=None, title=REGISTRATION_NUMBER
    )
    prefecture: Prefecture = Field(default=None, title=PREFECTURE)  # type: ignore[assignment]
    procedures: ProcedureInput = Field(default=None, title=PROCEDURES, description=_PROCEDURES_DESCRIPTION)  # type: ignore[arg-type]
    phone: Annotated[PhoneNumber | None, BlankIsNull] = Field(default=None, title=PHONE)
    status: AgentStatus = Field(default=None, title=STATUS, description=_STATUS_DESCRIPTION)  # type: ignore[assignment]


class AgentFilters(Filters):
    """The filters of the agent search: text filters match partially ignoring width and case; the
    others exactly."""

    also_sortable = ("id", "name", "short_name", "created_at", "updated_at")

    kind: Annotated[AgentKind | None, Filter(Match.EXACT)] = Field(
        default=None, title=KIND, description=_KIND_DESCRIPTION
    )
    name: Annotated[SearchText | None, Filter(columns=("name", "short_name"))] = Field(
        default=None, title=NAME, description=f"The name or its abbreviation; {PARTIAL_MATCH.lower()}"
    )
    registration_number: SearchText | None = Field(
        default=None, title=REGISTRATION_NUMBER, description=PARTIAL_MATCH
    )
    prefecture: Annotated[str | None, Filter(Match.EXACT)] = Field(
        default=None, max_length=2, title=PREFECTURE, description="The JIS X 0401 code, exact"
    )
    procedure: Annotated[Procedure | None, Filter(Match.EXACT, columns=("procedures",), sortable=False)] = (
        Field(default=None, title=PROCEDURES, description="Agents that file this procedure")
    )
    status: Annotated[AgentStatus | None, Filter(Match.EXACT)] = Field(
        default=None, title=STATUS, description=_STATUS_DESCRIPTION
    )


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
    """A designated agent: an agent the organization sends filings of these procedures to."""

    # Read from a designation row with its agent and location loaded.
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_serialization_defaults_required=True,
        json_schema_extra={"examples": [{"id": "000000001", **_DESIGNATION_EXAMPLE, "version": 1}]},
    )

    id: PublicIdText = Field(title=DESIGNATION_ID, description=_ID_DESCRIPTION, examples=["000000001"])
    agent_id: PublicIdText = Field(title=AGENT_ID)
    agent: AgentSummary = Field(
        title="代理人", description="The agent (read only); `status` shows a suspended one"
    )
    location_code: str | None = Field(
        default=None,
        title=LOCATION_CODE,
        validation_alias=AliasChoices("location_code", AliasPath("location", "code")),
        description="null: all locations",
    )
    procedures: ProcedureList = Field(title=PROCEDURES, description=_PROCEDURES_DESCRIPTION)
    is_default: bool = Field(
        title=IS_DEFAULT, description="The default of its location (or all locations) for its procedures"
    )
    note: str | None = Field(title=NOTE)
    created_at: CreatedAt
    updated_at: UpdatedAt
    version: Version


class AgentDesignationCreate(BaseModel):
    """A new designated agent."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_DESIGNATION_EXAMPLE]})

    agent_id: str = Field(
        max_length=20, title=AGENT_ID, description="An agent of the directory (an `active` one)"
    )
    location_code: Annotated[LocationCode | None, BlankIsNull] = Field(
        default=None, title=LOCATION_CODE, description=_LOCATION_CODE_DESCRIPTION
    )
    procedures: ProcedureInput | None = Field(
        default=None,
        title=PROCEDURES,
        description=f"{_PROCEDURES_DESCRIPTION}. A subset of the agent's; default: all of the agent's",
    )
    is_default: bool = Field(default=False, title=IS_DEFAULT, description=_DEFAULT_DESCRIPTION)
    note: Annotated[Note | None, BlankIsNull] = Field(default=None, title=NOTE)


class AgentDesignationUpdate(BaseModel):
    """A change of a designated agent: absent fields stay; the agent never changes (designate another
    instead)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"is_default": True}]})
    immutable_fields: ClassVar[frozenset[str]] = frozenset({"id", "agent_id"})

    location_code: Annotated[LocationCode | None, BlankIsNull] = Field(
        default=None, title=LOCATION_CODE, description=_LOCATION_CODE_DESCRIPTION
    )
    procedures: ProcedureInput = Field(default=None, title=PROCEDURES, description=_PROCEDURES_DESCRIPTION)  # type: ignore[arg-type]
    is_default: bool = Field(default=None, title=IS_DEFAULT, description=_DEFAULT_DESCRIPTION)  # type: ignore[assignment]
    note: Annotated[Note | None, BlankIsNull] = Field(default=None, title=NOTE)


class AgentDesignationFilters(Filters):
    """The filters of the designation search: `location_code` exactly (empty: the all-locations ones);
    the agent's name partially."""

    also_sortable = ("created_at", "updated_at")

    procedure: Annotated[Procedure | None, Filter(Match.EXACT, columns=("procedures",), sortable=False)] = (
        Field(default=None, title=PROCEDURES, description="Designations for this procedure")
    )
    location_code: Annotated[SearchText | None, Filter(Match.EXACT)] = Field(
        default=None,
        title=LOCATION_CODE,
        description="Exact; empty (`location_code=`) finds the ones of all locations",
    )
    kind: Annotated[AgentKind | None, Filter(Match.EXACT)] = Field(
        default=None, title=KIND, description=f"The agent's kind: {_KIND_DESCRIPTION}"
    )
    name: Annotated[SearchText | None, Filter(columns=("name", "short_name"))] = Field(
        default=None, title=NAME, description=f"The agent's name or its abbreviation; {PARTIAL_MATCH.lower()}"
    )


class AgentDesignationQuery(PageQuery, AgentDesignationFilters):
    """The query string of the designation list: its filters and the page."""


class ResolveQuery(BaseModel):
    """Which designation a filing of this procedure from this location goes to."""

    procedure: Procedure = Field(title=PROCEDURES, description=f"One of {labelled_values(Procedure)}")
    location_code: Annotated[SearchText | None, BlankIsNull] = Field(
        default=None, title=LOCATION_CODE, description="Absent or empty: the all-locations default"
    )
