"""Adding agents and designations through HTTP in tests."""

from typing import Any

import httpx

from tests.fixtures.principals import Caller
from tests.fixtures.world import Org

AGENTS = "/api/v1/agents"


def designations_path(org: Org) -> str:
    return f"{org.path}/agent-designations"


async def add_agent(client: httpx.AsyncClient, operator: Caller, **fields: Any) -> dict[str, Any]:
    """POST an agent as the operator (a 日整連 振興会 unless told otherwise)."""
    body = {
        "kind": "nisseiren",
        "name": "東京都自動車整備振興会",
        "short_name": "東京振興会",
        "prefecture": "13",
    }
    body.update(fields)
    response = await client.post(AGENTS, json=body, headers=operator.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def designate(
    client: httpx.AsyncClient, org: Org, headers: dict[str, str], agent_id: str, **fields: Any
) -> httpx.Response:
    """POST a designation; the answer, unchecked."""
    return await client.post(designations_path(org), json={"agent_id": agent_id, **fields}, headers=headers)


async def add_designation(
    client: httpx.AsyncClient, org: Org, agent_id: str, **fields: Any
) -> dict[str, Any]:
    """POST a designation as the organization's admin."""
    response = await designate(client, org, org.admin.headers, agent_id, **fields)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created
