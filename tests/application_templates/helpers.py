"""Templates in tests: paths and bodies."""

from typing import Any

import httpx

from tests.fixtures.world import Org, World

OWNER = {"name": "株式会社見本リース", "postal_code": "105-0001", "address": "東京都港区虎ノ門一丁目１番１号"}
BASE = {"postal_code": "1400002", "address": "東京都品川区東品川二丁目２番２号"}


def templates_path(org: Org) -> str:
    return f"{org.path}/application-templates"


def body(name: str = "新規登録テンプレート", **fields: Any) -> dict[str, Any]:
    """A create body: a new registration for L1 with an owner, unless told otherwise."""
    return {
        "name": name,
        "procedure": "new_registration",
        "location_code": "L1",
        "owner": OWNER,
        "user_same_as_owner": True,
        "base_location": BASE,
        **fields,
    }


async def create(
    client: httpx.AsyncClient, org: Org, headers: dict[str, str], **fields: Any
) -> dict[str, Any]:
    """POST a template; it must be created."""
    response = await client.post(templates_path(org), json=body(**fields), headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def designate(
    client: httpx.AsyncClient,
    world: World,
    procedures: list[str],
    location_code: str | None = None,
    registration_number: str = "1234",
) -> dict[str, Any]:
    """An agent of the directory (every procedure), designated by organization A's admin."""
    agent = await client.post(
        "/api/v1/agents",
        json={
            "kind": "gyoseishoshi",
            "name": "見本行政書士事務所",
            "short_name": "見本事務所",
            "registration_number": registration_number,
            "prefecture": "13",
        },
        headers=world.operator.headers,
    )
    assert agent.status_code == 201, agent.text
    designation = await client.post(
        f"{world.a.path}/agent-designations",
        json={"agent_id": agent.json()["id"], "location_code": location_code, "procedures": procedures},
        headers=world.a.admin.headers,
    )
    assert designation.status_code == 201, designation.text
    created: dict[str, Any] = designation.json()
    return created
