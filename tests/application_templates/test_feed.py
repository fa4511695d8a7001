"""Templates in the change feed (SPEC §5.5): created, updated, deleted, with the template as its GET
answers it, seen by linked systems; and their audit events."""

import httpx

from tests.application_templates.helpers import create, templates_path
from tests.changes.feed import current_cursor, follow, summary
from tests.fixtures.world import World


async def test_a_linked_system_follows_template_changes(world: World, client: httpx.AsyncClient) -> None:
    linked = world.a.basic()
    cursor = await current_cursor(client, world.a, linked)
    created = await create(client, world.a, world.a.admin.headers)
    path = f"{templates_path(world.a)}/{created['id']}"
    changed = await client.patch(path, json={"notes": "変更"}, headers=world.a.admin.headers)
    assert changed.status_code == 200
    copy = await client.post(f"{path}/copy", json={"name": "転用"}, headers=world.a.admin.headers)
    assert copy.status_code == 201
    assert (await client.delete(path, headers=world.a.admin.headers)).status_code == 204

    items, _ = await follow(client, world.a, linked, cursor)
    id_, copied = created["id"], copy.json()["id"]
    assert summary(items) == [
        ("application_template.created", "application_template", id_),
        ("application_template.updated", "application_template", id_),
        ("application_template.created", "application_template", copied),
        ("application_template.deleted", "application_template", id_),
    ]
    assert items[0]["data"] == created
    assert items[1]["data"] == changed.json()
    assert items[2]["data"] == copy.json()
    assert items[3]["data"] is None
    # Another organization's feed has none of it.
    other, _ = await follow(
        client, world.b, world.b.basic(), await current_cursor(client, world.b, world.b.basic())
    )
    assert other == []


async def test_template_changes_are_audited(world: World, client: httpx.AsyncClient) -> None:
    created = await create(client, world.a, world.a.admin.headers, notes="前")
    path = f"{templates_path(world.a)}/{created['id']}"
    await client.patch(path, json={"notes": "後"}, headers=world.a.admin.headers)
    events = await client.get(
        f"{world.a.path}/audit-events",
        params={"resource_type": "application_template"},
        headers=world.a.admin.headers,
    )
    assert events.status_code == 200, events.text
    found = {event["action"]: event for event in events.json()["items"]}
    assert set(found) == {"application_template.create", "application_template.update"}
    assert found["application_template.update"]["changes"] == {"notes": ["前", "後"]}
    assert found["application_template.update"]["resource"] == {
        "type": "application_template",
        "id": created["id"],
    }
    assert found["application_template.create"]["actor"]["id"] == "a.admin"
