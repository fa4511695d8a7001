"""/agents (the directory) and /organizations/{org_id}/agent-designations: thin handlers over the services."""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response, status

from app.agents.schemas import (
    AGENT_ID,
    DESIGNATION_ID,
    Agent,
    AgentCreate,
    AgentDesignation,
    AgentDesignationCreate,
    AgentDesignationQuery,
    AgentDesignationUpdate,
    AgentQuery,
    AgentUpdate,
    ResolveQuery,
)
from app.agents.service import AgentDesignationServiceDep, AgentServiceDep
from app.auth.dependencies import OrganizationScope, organization_scope, require
from app.auth.permissions import Permission
from app.auth.principals import Principal
from app.http.errors import Conflict, FieldError, Forbidden, NotFound, Unprocessable
from app.http.etag import IfMatch
from app.http.openapi import invalid, problems
from app.http.pagination import Page
from app.http.resource import JSON
from app.idempotency.routing import ResourceRoute

agents_router = APIRouter(prefix="/agents", tags=["代理人 (agents)"], route_class=ResourceRoute)
designations_router = APIRouter(
    prefix="/organizations/{org_id}/agent-designations",
    tags=["依頼先代理人 (agent designations)"],
    route_class=ResourceRoute,
)

CanReadAgents = Annotated[Principal, Depends(require(Permission.AGENT_READ))]
CanManageAgents = Annotated[Principal, Depends(require(Permission.AGENT_MANAGE))]
CanRead = Annotated[OrganizationScope, Depends(organization_scope(Permission.DESIGNATION_READ))]
CanWrite = Annotated[OrganizationScope, Depends(organization_scope(Permission.DESIGNATION_WRITE))]
AgentIdPath = Annotated[str, Path(max_length=64, title=AGENT_ID, description="9 decimal digits")]
DesignationIdPath = Annotated[str, Path(max_length=64, title=DESIGNATION_ID, description="9 decimal digits")]

_NOT_ALLOWED = Unprocessable(
    "procedure_not_allowed",
    context={"procedures": "new_registration", "allowed": "continuous_inspection"},
    errors=[
        FieldError(
            "procedures",
            "procedure_not_allowed",
            {"procedures": "new_registration", "allowed": "continuous_inspection"},
            extra={"procedures": ["new_registration"], "allowed": ["continuous_inspection"]},
        )
    ],
)
_ALREADY_REGISTERED = Conflict(
    "agent_already_registered",
    context={"kind": "gyoseishoshi", "registration_number": "12345678"},
    members={"kind": "gyoseishoshi", "registration_number": "12345678"},
)
_IN_USE = Conflict("designation_in_use", context={"count": 2}, members={"count": 2})
_DEFAULT_SET = Conflict(
    "default_already_set",
    context={"designation_id": "000000001", "procedure": "continuous_inspection"},
    members={"designation_id": "000000001", "procedure": "continuous_inspection"},
)
_ALREADY_DESIGNATED = Conflict(
    "agent_already_designated",
    context={"designation_id": "000000001"},
    members={"designation_id": "000000001"},
)
_UNKNOWN_LOCATION = Unprocessable(errors=[FieldError("location_code", "unknown_location")])


# -- the agent directory -----------------------------------------------------------------------


@agents_router.get(
    "",
    summary="代理人検索",
    description=(
        "The association's agent directory, read by every authenticated caller. `name` matches "
        "the name or its abbreviation partially, ignoring width and case; `kind`, `prefecture`, `procedure` and `status` "
        "match exactly."
    ),
    response_model=Page[Agent],
    responses=problems(),
)
async def list_agents(
    principal: CanReadAgents, service: AgentServiceDep, query: Annotated[AgentQuery, Query()]
) -> Response:
    """Search the directory (JSON straight from the rows)."""
    return Response(await service.search(query, query.page()), media_type=JSON)


@agents_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Agent,
    summary="代理人の追加",
    description=(
        "Operators only. `procedures` default to every procedure the kind may file; `gyoseishoshi` and "
        "`gyoseishoshi_corporation` need a registration number, unique within the kind."
    ),
    responses=problems(
        404,
        _NOT_ALLOWED,
        _ALREADY_REGISTERED,
        Unprocessable(errors=[FieldError("registration_number", "registration_number_required")]),
        invalid(AgentCreate, kind="nisseiren", name="ﾄｳｷｮｳ振興会", short_name="振興会", prefecture="13"),
    ),
)
async def create_agent(
    principal: CanManageAgents,
    body: AgentCreate,
    service: AgentServiceDep,
    request: Request,
) -> Response:
    """Create an agent."""
    agent = await service.create(principal, body)
    return agent.created(request, agent.public_form()["id"])


@agents_router.get(
    "/{agent_id}",
    response_model=Agent,
    summary="代理人の参照",
    description="One agent of the directory, with its ETag.",
    responses=problems(404),
)
async def get_agent(principal: CanReadAgents, agent_id: AgentIdPath, service: AgentServiceDep) -> Response:
    """One agent (its row through the schema once, no ORM object)."""
    return (await service.get(agent_id)).response()


@agents_router.patch(
    "/{agent_id}",
    response_model=Agent,
    summary="代理人の変更・停止",
    description=(
        "Operators only. `status: suspended` suspends it (its designations stay, listed with "
        "`agent.status`, but are never resolved). Every organization that designates the agent sees "
        "`agent_designation.updated` in its change feed. Send If-Match with the ETag you read."
    ),
    responses=problems(
        404,
        _NOT_ALLOWED,
        _ALREADY_REGISTERED,
        Conflict("agent_procedures_in_use", context={"procedures": "kei_new_inspection"}),
        invalid(AgentUpdate, prefecture="48"),
    ),
)
async def update_agent(
    principal: CanManageAgents,
    agent_id: AgentIdPath,
    body: Annotated[AgentUpdate, Body(default_factory=AgentUpdate)],
    expected: IfMatch,
    service: AgentServiceDep,
) -> Response:
    """Change an agent."""
    return (await service.update(principal, agent_id, body, expected)).response()


@agents_router.delete(
    "/{agent_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="代理人の削除",
    description="Operators only. Refused (409 agent_in_use) while designated: suspend it instead.",
    responses=problems(404, Conflict("agent_in_use", context={"count": 2}, members={"count": 2})),
)
async def delete_agent(
    principal: CanManageAgents, agent_id: AgentIdPath, expected: IfMatch, service: AgentServiceDep
) -> Response:
    """Delete an agent."""
    await service.delete(principal, agent_id, expected)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- designated agents -------------------------------------------------------------------------


@designations_router.get(
    "",
    summary="依頼先代理人検索",
    description=(
        "`location_code` matches exactly; an empty `location_code=` finds the ones of all "
        "locations. `name` matches the agent's name partially. A caller assigned to a location "
        "sees its location's designations and the all-locations ones."
    ),
    response_model=Page[AgentDesignation],
    responses=problems(),
)
async def list_designations(
    scope: CanRead, service: AgentDesignationServiceDep, query: Annotated[AgentDesignationQuery, Query()]
) -> Response:
    """Search the organization's designations (JSON straight from the rows)."""
    return Response(await service.search(scope, query, query.page()), media_type=JSON)


@designations_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=AgentDesignation,
    summary="依頼先代理人の追加",
    description=(
        "The agent must be active; `procedures` (default: all of the agent's) a subset of "
        "the agent's. At most one default per location (or all locations) and procedure."
    ),
    responses=problems(
        Forbidden(),
        _NOT_ALLOWED,
        Unprocessable("agent_suspended", errors=[FieldError("agent_id", "agent_suspended")]),
        Unprocessable(errors=[FieldError("agent_id", "unknown_agent")]),
        _UNKNOWN_LOCATION,
        _ALREADY_DESIGNATED,
        _DEFAULT_SET,
        invalid(AgentDesignationCreate, agent_id="000000001", procedures=["registration"]),
    ),
)
async def create_designation(
    scope: CanWrite,
    body: AgentDesignationCreate,
    service: AgentDesignationServiceDep,
    request: Request,
) -> Response:
    """Designate an agent."""
    designation = await service.create(scope, body)
    return designation.created(request, designation.public_form()["id"])


@designations_router.get(
    "/resolve",
    response_model=AgentDesignation,
    summary="既定の依頼先代理人",
    description=(
        "The designation a filing of `procedure` from `location_code` goes to: that location's default for "
        "the procedure, else the all-locations default; designations of suspended agents are skipped. "
        "404 no_agent_designated when there is none."
    ),
    responses=problems(NotFound("no_agent_designated"), _UNKNOWN_LOCATION),
)
async def resolve_designation(
    scope: CanRead, service: AgentDesignationServiceDep, query: Annotated[ResolveQuery, Query()]
) -> Response:
    """Resolve the default designation."""
    resolved = await service.resolve(scope, query.procedure, query.location_code)
    return Response(resolved.body, media_type="application/json")


@designations_router.get(
    "/{designation_id}",
    response_model=AgentDesignation,
    summary="依頼先代理人の参照",
    description="One designation of the organization, with its ETag.",
    responses=problems(),
)
async def get_designation(
    scope: CanRead, designation_id: DesignationIdPath, service: AgentDesignationServiceDep
) -> Response:
    """One designation (its row through the schema once, no ORM object)."""
    return (await service.get(scope, designation_id)).response()


@designations_router.patch(
    "/{designation_id}",
    response_model=AgentDesignation,
    summary="依頼先代理人の変更",
    description=("Location, procedures, default, note. Send If-Match with the ETag you read."),
    responses=problems(
        Forbidden(),
        _NOT_ALLOWED,
        _UNKNOWN_LOCATION,
        _ALREADY_DESIGNATED,
        _DEFAULT_SET,
        _IN_USE,
        invalid(AgentDesignationUpdate, procedures=[]),
    ),
)
async def update_designation(
    scope: CanWrite,
    designation_id: DesignationIdPath,
    body: Annotated[AgentDesignationUpdate, Body(default_factory=AgentDesignationUpdate)],
    expected: IfMatch,
    service: AgentDesignationServiceDep,
) -> Response:
    """Change a designation."""
    return (await service.update(scope, designation_id, body, expected)).response()


@designations_router.delete(
    "/{designation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="依頼先代理人の削除",
    description="Refused (409 designation_in_use) while application templates name it.",
    responses=problems(Forbidden(), _IN_USE),
)
async def delete_designation(
    scope: CanWrite, designation_id: DesignationIdPath, expected: IfMatch, service: AgentDesignationServiceDep
) -> Response:
    """Delete a designation."""
    await service.delete(scope, designation_id, expected)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
