"""Who sees and writes which templates (SPEC §4): location admins and staff their location's and
the all-locations ones; location admins write only their location's; linked systems read all."""

from typing import Any

import httpx
import pytest

from tests.application_templates.helpers import body, create, templates_path
from tests.fixtures.world import World

READERS = {
    "operator": {"第一", "第二", "全拠点"},
    "admin": {"第一", "第二", "全拠点"},
    "location_admin_l1": {"第一", "全拠点"},
    "location_admin_all": {"第一", "第二", "全拠点"},
    "staff_submitter_l1": {"第一", "全拠点"},
    "staff_preparer_l1": {"第一", "全拠点"},
    "staff_submitter_l2": {"第二", "全拠点"},
    "linked_system": {"第一", "第二", "全拠点"},
}
# Creating at L1, then all locations: the status answered.
WRITERS = {
    "operator": (201, 201),
    "admin": (201, 201),
    "location_admin_l1": (201, 403),
    "location_admin_all": (201, 201),
    "staff_submitter_l1": (403, 403),
    "staff_preparer_l1": (403, 403),
    "staff_submitter_l2": (403, 403),
    "linked_system": (403, 403),
}


def _headers(world: World, role: str) -> dict[str, str]:
    return world.a.basic() if role == "linked_system" else world[role].headers


async def _three(client: httpx.AsyncClient, world: World) -> dict[str, dict[str, Any]]:
    headers = world.a.admin.headers
    return {
        "第一": await create(client, world.a, headers, name="第一", location_code="L1"),
        "第二": await create(client, world.a, headers, name="第二", location_code="L2"),
        "全拠点": await create(client, world.a, headers, name="全拠点", location_code=None),
    }


@pytest.mark.parametrize("role", sorted(READERS))
async def test_each_role_reads_its_scope_and_the_all_locations_templates(
    world: World, client: httpx.AsyncClient, role: str
) -> None:
    templates = await _three(client, world)
    headers = _headers(world, role)
    listed = await client.get(templates_path(world.a), headers=headers)
    assert listed.status_code == 200, listed.text
    assert {item["name"] for item in listed.json()["items"]} == READERS[role]
    assert listed.json()["total"] == len(READERS[role])
    for name, template in templates.items():
        read = await client.get(f"{templates_path(world.a)}/{template['id']}", headers=headers)
        assert read.status_code == (200 if name in READERS[role] else 404)


@pytest.mark.parametrize("role", sorted(WRITERS))
async def test_each_role_creates_where_it_may(world: World, client: httpx.AsyncClient, role: str) -> None:
    headers = _headers(world, role)
    at_location, everywhere = WRITERS[role]
    first = await client.post(
        templates_path(world.a), json=body(name="拠点の", location_code="L1"), headers=headers
    )
    assert first.status_code == at_location, first.text
    second = await client.post(
        templates_path(world.a), json=body(name="全拠点の", location_code=None), headers=headers
    )
    assert second.status_code == everywhere, second.text


async def test_a_location_admin_writes_only_its_locations_templates(
    world: World, client: httpx.AsyncClient
) -> None:
    templates = await _three(client, world)
    headers = world["location_admin_l1"].headers
    path = templates_path(world.a)
    own, other, everywhere = (templates[name]["id"] for name in ("第一", "第二", "全拠点"))
    # Another location's code is unknown to it, as in its lists.
    elsewhere = await client.post(path, json=body(name="よそ", location_code="L2"), headers=headers)
    assert elsewhere.status_code == 422
    assert [(e["field"], e["code"]) for e in elsewhere.json()["errors"]] == [
        ("location_code", "unknown_location")
    ]
    assert (await client.patch(f"{path}/{own}", json={"notes": "変更"}, headers=headers)).status_code == 200
    assert (
        await client.patch(f"{path}/{everywhere}", json={"notes": "変更"}, headers=headers)
    ).status_code == 403
    assert (await client.patch(f"{path}/{other}", json={"notes": "変更"}, headers=headers)).status_code == 404
    moved = await client.patch(f"{path}/{own}", json={"location_code": None}, headers=headers)
    assert moved.status_code == 403
    assert (
        await client.post(f"{path}/{own}/copy", json={"name": "複製"}, headers=headers)
    ).status_code == 201
    assert (
        await client.post(f"{path}/{everywhere}/copy", json={"name": "複製二"}, headers=headers)
    ).status_code == 403
    assert (await client.delete(f"{path}/{everywhere}", headers=headers)).status_code == 403
    assert (await client.delete(f"{path}/{other}", headers=headers)).status_code == 404
    assert (await client.delete(f"{path}/{own}", headers=headers)).status_code == 204


@pytest.mark.parametrize("role", ["staff_submitter_l1", "linked_system"])
async def test_readers_change_nothing(world: World, client: httpx.AsyncClient, role: str) -> None:
    templates = await _three(client, world)
    headers = _headers(world, role)
    path = f"{templates_path(world.a)}/{templates['第一']['id']}"
    assert (await client.patch(path, json={"notes": "変更"}, headers=headers)).status_code == 403
    assert (await client.delete(path, headers=headers)).status_code == 403
    assert (await client.post(f"{path}/copy", json={"name": "複製"}, headers=headers)).status_code == 403
    unchanged = await client.get(path, headers=world.a.admin.headers)
    assert unchanged.json() == templates["第一"]
