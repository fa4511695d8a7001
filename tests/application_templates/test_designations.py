"""A template's designated agent (§2.8): it must fit, and while it is used it cannot be deleted
or changed so that it no longer fits (409 designation_in_use, naming how many templates)."""

import httpx

from tests.application_templates.helpers import body, create, designate, templates_path
from tests.fixtures.world import World


def _codes(response: httpx.Response) -> list[tuple[str, str]]:
    assert response.status_code == 422, response.text
    return [(error["field"], error["code"]) for error in response.json()["errors"]]


async def test_a_designation_must_fit_the_procedure_and_the_location(
    world: World, client: httpx.AsyncClient
) -> None:
    headers = world.a.admin.headers
    everywhere = await designate(client, world, ["new_registration", "transfer_registration"])
    at_l2 = await designate(client, world, ["new_registration"], "L2", registration_number="5678")
    created = await create(client, world.a, headers, agent_designation_id=everywhere["id"])
    assert created["agent_designation_id"] == everywhere["id"]
    refused = [
        body(name="手続が違う", procedure="description_change", agent_designation_id=everywhere["id"]),
        body(name="拠点が違う", location_code="L1", agent_designation_id=at_l2["id"]),
        body(name="全拠点に拠点の代理人", location_code=None, agent_designation_id=at_l2["id"]),
    ]
    for request in refused:
        response = await client.post(templates_path(world.a), json=request, headers=headers)
        assert _codes(response) == [("agent_designation_id", "designation_not_applicable")]
    unknown = await client.post(
        templates_path(world.a), json=body(name="無い", agent_designation_id="000009999"), headers=headers
    )
    assert _codes(unknown) == [("agent_designation_id", "unknown_agent_designation")]
    # Another organization's designation is unknown too.
    foreign = await client.post(
        templates_path(world.b),
        json=body(name="他社", location_code="L1", agent_designation_id=everywhere["id"]),
        headers=world.b.admin.headers,
    )
    assert _codes(foreign) == [("agent_designation_id", "unknown_agent_designation")]
    # A location admin of L1 does not see L2's designation: unknown, not "does not fit".
    hidden = await client.post(
        templates_path(world.a),
        json=body(name="見えない", location_code="L1", agent_designation_id=at_l2["id"]),
        headers=world["location_admin_l1"].headers,
    )
    assert _codes(hidden) == [("agent_designation_id", "unknown_agent_designation")]
    fits = await client.post(
        templates_path(world.a),
        json=body(name="第二拠点", location_code="L2", agent_designation_id=at_l2["id"]),
        headers=headers,
    )
    assert fits.status_code == 201, fits.text
    listed = await client.get(
        templates_path(world.a), params={"agent_designation_id": at_l2["id"]}, headers=headers
    )
    assert [item["name"] for item in listed.json()["items"]] == ["第二拠点"]


async def test_a_template_change_keeps_its_designation_fitting(
    world: World, client: httpx.AsyncClient
) -> None:
    headers = world.a.admin.headers
    everywhere = await designate(client, world, ["new_registration"])
    created = await create(client, world.a, headers, agent_designation_id=everywhere["id"])
    path = f"{templates_path(world.a)}/{created['id']}"
    response = await client.patch(path, json={"procedure": "transfer_registration"}, headers=headers)
    assert _codes(response) == [("agent_designation_id", "designation_not_applicable")]
    moved = await client.patch(path, json={"location_code": "L2"}, headers=headers)
    assert moved.status_code == 200, moved.text
    dropped = await client.patch(
        path, json={"procedure": "transfer_registration", "agent_designation_id": None}, headers=headers
    )
    assert dropped.status_code == 200, dropped.text
    assert dropped.json()["agent_designation_id"] is None


async def test_a_designation_in_use_cannot_be_narrowed_or_deleted(
    world: World, client: httpx.AsyncClient
) -> None:
    headers = world.a.admin.headers
    designation = await designate(client, world, ["new_registration", "transfer_registration"])
    path = f"{world.a.path}/agent-designations/{designation['id']}"
    first = await create(client, world.a, headers, name="一", agent_designation_id=designation["id"])
    await create(client, world.a, headers, name="二", agent_designation_id=designation["id"])
    await create(
        client,
        world.a,
        headers,
        name="三",
        procedure="transfer_registration",
        location_code=None,
        agent_designation_id=designation["id"],
    )

    narrowed = await client.patch(path, json={"procedures": ["transfer_registration"]}, headers=headers)
    assert narrowed.status_code == 409, narrowed.text
    assert narrowed.json()["code"] == "designation_in_use"
    assert narrowed.json()["count"] == 2
    assert "2件" in narrowed.json()["detail"]
    moved = await client.patch(path, json={"location_code": "L1"}, headers=headers)
    assert moved.status_code == 409
    assert moved.json()["count"] == 1  # the all-locations template would no longer fit
    deleted = await client.delete(path, headers={**headers, "Accept-Language": "en"})
    assert deleted.status_code == 409
    assert deleted.json()["count"] == 3
    assert deleted.json()["detail"].startswith("3 application templates")

    # Changes that keep every template fitting go through.
    kept = await client.patch(
        path,
        json={"note": "備考", "procedures": ["new_registration", "transfer_registration"]},
        headers=headers,
    )
    assert kept.status_code == 200, kept.text
    widened = await client.patch(
        path,
        json={"procedures": ["new_registration", "transfer_registration", "description_change"]},
        headers=headers,
    )
    assert widened.status_code == 200, widened.text

    # Once no template names it, it goes.
    listed = await client.get(
        templates_path(world.a), params={"agent_designation_id": designation["id"]}, headers=headers
    )
    assert listed.json()["total"] == 3
    for item in listed.json()["items"]:
        assert (
            await client.delete(f"{templates_path(world.a)}/{item['id']}", headers=headers)
        ).status_code == 204
    assert first["agent_designation_id"] == designation["id"]
    assert (await client.delete(path, headers=headers)).status_code == 204
