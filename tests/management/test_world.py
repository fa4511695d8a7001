"""The onboarding walkthrough of the admin guide, end to end."""

import httpx

from tests.fixtures.world import World


async def test_world_builds(world: World, client: httpx.AsyncClient) -> None:
    me = await client.get("/api/v1/me", headers=world["staff_submitter_l1"].headers)
    assert me.status_code == 200
    assert me.json()["organization_id"] == world.a.id
    assert me.json()["location_code"] == "L1"
    assert me.json()["role"] == "staff_submitter"
