"""The request's context (app/journal/context.py): what a service receives, the caller included
once authentication has run, whichever order FastAPI resolves the route's dependencies in."""

from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, FastAPI

from app.auth.dependencies import AuthenticatedPrincipal
from app.http.routing import ApiRoute
from app.journal.audit_trail import Actor
from app.journal.context import RequestContext, command_context, provide
from app.runtime import Runtime
from tests.fixtures.world import World


class Probe:
    """A service that shows what it was given."""

    def __init__(self, context: RequestContext) -> None:
        self.context = context

    def seen(self) -> dict[str, Any]:
        principal = self.context.principal
        return {
            "subject": None if principal is None else principal.subject,
            "request_id": self.context.audit.request_id,
            "same_session": self.context.audit.session is self.context.session,
            "clock": self.context.clock is self.context.runtime.clock,
        }


ProbeDep = Annotated[Probe, Depends(provide(Probe))]


def add_probes(app: FastAPI) -> None:
    async def service_first(probe: ProbeDep, principal: AuthenticatedPrincipal) -> dict[str, Any]:
        return {**probe.seen(), "principal": principal.subject}

    async def principal_first(principal: AuthenticatedPrincipal, probe: ProbeDep) -> dict[str, Any]:
        return {**probe.seen(), "principal": principal.subject}

    async def anonymous(probe: ProbeDep) -> dict[str, Any]:
        return probe.seen()

    router = APIRouter(prefix="/probe", route_class=ApiRoute)
    router.add_api_route("/service-first", service_first, methods=["GET"])
    router.add_api_route("/principal-first", principal_first, methods=["GET"])
    router.add_api_route("/anonymous", anonymous, methods=["GET"])
    app.include_router(router)


async def test_a_service_sees_the_caller_whatever_the_order_of_dependencies(
    app: FastAPI, world: World, client: httpx.AsyncClient
) -> None:
    add_probes(app)
    for path in ("/probe/service-first", "/probe/principal-first"):
        for headers in (world.a.admin.headers, world.a.basic()):
            response = await client.get(path, headers=headers)
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["subject"] == body["principal"]
            assert body["subject"].startswith("key:" if "Basic" in headers["Authorization"] else "user:")
            assert body["request_id"] == response.headers["x-request-id"]
            assert body["same_session"] is True
            assert body["clock"] is True
    response = await client.get("/probe/anonymous")
    assert response.status_code == 200, response.text
    assert response.json()["subject"] is None


async def test_a_command_context_is_one_audited_transaction_with_its_actor(
    app: FastAPI, world: World
) -> None:
    runtime: Runtime = app.state.runtime
    actor = Actor("system", "probe")
    async with command_context(runtime, principal=actor) as context:
        assert context.principal is actor
        assert str(context.audit.request_id).startswith("cli-")
        await context.audit.record(actor, "probe.run", "probe", "1", int(world.a.id))
    async with runtime.read_sessionmaker() as session:
        from app.http.pagination import PageRequest
        from app.journal.audit_repository import AuditEventRepository
        from app.journal.audit_schemas import AuditFilters

        columns, rows, total = await AuditEventRepository(session).search(
            int(world.a.id), AuditFilters(action="probe.run"), PageRequest(10, 0, None)
        )
    assert total == 1
    assert dict(zip(columns, rows[0], strict=False))["actor__id"] == "probe"
