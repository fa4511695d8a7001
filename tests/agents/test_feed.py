"""Designations in the change feed (SPEC §5.5): their own changes, and every change of their agent."""

import httpx

from tests.agents.helpers import AGENTS, add_agent, add_designation, designations_path
from tests.changes.feed import current_cursor, follow, summary
from tests.fixtures.world import World


async def test_suspending_an_agent_reaches_the_feed_of_every_organization_that_designates_it(
    world: World, client: httpx.AsyncClient
) -> None:
    agent = await add_agent(client, world.operator)
    other = await add_agent(client, world.operator, name="千葉県自動車整備振興会", prefecture="12")
    in_a = await add_designation(client, world.a, agent["id"], location_code="L1", is_default=True)
    in_a_all = await add_designation(client, world.a, agent["id"])
    in_b = await add_designation(client, world.b, agent["id"])
    await add_designation(client, world.b, other["id"], location_code="L1")
    cursors = {org.id: await current_cursor(client, org, org.basic()) for org in (world.a, world.b)}

    suspended = await client.patch(
        f"{AGENTS}/{agent['id']}", json={"status": "suspended"}, headers=world.operator.headers
    )
    assert suspended.status_code == 200

    for org, expected in ((world.a, [in_a, in_a_all]), (world.b, [in_b])):
        items, _ = await follow(client, org, org.basic(), cursors[org.id])
        assert summary(items) == [
            ("agent_designation.updated", "agent_designation", designation["id"]) for designation in expected
        ]
        for item in items:
            # The entry's data is the designation exactly as its own GET answers it now.
            read = await client.get(f"{designations_path(org)}/{item['resource']['id']}", headers=org.basic())
            assert item["data"] == read.json()
            assert item["data"]["agent"]["status"] == "suspended"
            assert item["data"]["version"] == 2
            assert read.headers["etag"] == '"2"'


async def test_linked_systems_see_designation_changes_but_not_agent_directory_events(
    world: World, client: httpx.AsyncClient
) -> None:
    agent = await add_agent(client, world.operator)
    cursor = await current_cursor(client, world.a, world.a.basic())
    designation = await add_designation(client, world.a, agent["id"])
    path = f"{designations_path(world.a)}/{designation['id']}"
    changed = await client.patch(path, json={"note": "備考"}, headers=world.a.admin.headers)
    assert (await client.delete(path, headers=world.a.admin.headers)).status_code == 204
    # A change of an agent nobody designates any more writes no entry anywhere.
    await client.patch(
        f"{AGENTS}/{agent['id']}", json={"phone": "03-0000-0000"}, headers=world.operator.headers
    )
    items, _ = await follow(client, world.a, world.a.basic(), cursor)
    assert summary(items) == [
        ("agent_designation.created", "agent_designation", designation["id"]),
        ("agent_designation.updated", "agent_designation", designation["id"]),
        ("agent_designation.deleted", "agent_designation", designation["id"]),
    ]
    assert items[0]["data"] == designation
    assert items[1]["data"] == changed.json()
    assert items[2]["data"] is None
