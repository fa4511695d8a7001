"""依頼先代理人: designations of an organization, their defaults, resolve and scope (SPEC §2.7, §4)."""

from typing import Any

import httpx
import pytest

from app.agents import repository as agents_repository
from app.agents.schemas import AgentDesignation
from tests.agents.helpers import AGENTS, add_agent, add_designation, designate, designations_path
from tests.fixtures.listed import assert_listed_as_alone, deep_from_the_second_item
from tests.fixtures.world import World

CONTINUOUS = "continuous_inspection"


async def _agents(client: httpx.AsyncClient, world: World) -> tuple[dict[str, Any], dict[str, Any]]:
    """A 振興会 (継続検査 only) and a 行政書士法人 (everything)."""
    shinkokai = await add_agent(client, world.operator)
    corporation = await add_agent(
        client,
        world.operator,
        kind="gyoseishoshi_corporation",
        name="行政書士法人ＡＩＮＡＳ",
        short_name="ＡＩＮＡＳ",
        registration_number="1001",
    )
    return shinkokai, corporation


async def test_designate_read_change_delete(world: World, client: httpx.AsyncClient) -> None:
    shinkokai, _ = await _agents(client, world)
    response = await designate(
        client,
        world.a,
        world.a.admin.headers,
        shinkokai["id"],
        location_code="L1",
        is_default=True,
        note="車検",
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["agent"] == {
        key: shinkokai[key]
        for key in ("id", "kind", "name", "short_name", "registration_number", "prefecture", "status")
    }
    assert created["procedures"] == [CONTINUOUS]  # the agent's, by default
    assert (created["location_code"], created["is_default"], created["note"]) == ("L1", True, "車検")
    path = response.headers["location"]
    assert path == f"{designations_path(world.a)}/{created['id']}"
    read = await client.get(path, headers=world.a.admin.headers)
    assert read.json() == created
    assert read.headers["etag"] == '"1"'
    changed = await client.patch(
        path, json={"location_code": "", "note": ""}, headers={**world.a.admin.headers, "If-Match": '"1"'}
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["location_code"], changed.json()["note"], changed.json()["version"]) == (
        None,
        None,
        2,
    )
    stale = await client.delete(path, headers={**world.a.admin.headers, "If-Match": '"1"'})
    assert stale.status_code == 412
    assert (await client.delete(path, headers=world.a.admin.headers)).status_code == 204
    assert (await client.get(path, headers=world.a.admin.headers)).status_code == 404


async def test_error_codes_of_designations(world: World, client: httpx.AsyncClient) -> None:
    shinkokai, corporation = await _agents(client, world)
    headers = world.a.admin.headers

    async def problem(response: httpx.Response, status: int) -> dict[str, Any]:
        assert response.status_code == status, response.text
        body: dict[str, Any] = response.json()
        return body

    refused = await problem(
        await designate(client, world.a, headers, shinkokai["id"], procedures=["new_registration"]), 422
    )
    assert refused["code"] == "procedure_not_allowed"
    assert refused["errors"][0]["procedures"] == ["new_registration"]
    unknown = await problem(await designate(client, world.a, headers, "000999999"), 422)
    assert unknown["errors"] == [
        {"field": "agent_id", "code": "unknown_agent", "message": unknown["errors"][0]["message"]}
    ]
    nowhere = await problem(
        await designate(client, world.a, headers, shinkokai["id"], location_code="ZZ9"), 422
    )
    assert [(e["field"], e["code"]) for e in nowhere["errors"]] == [("location_code", "unknown_location")]
    first = await add_designation(client, world.a, corporation["id"], location_code="L1", is_default=True)
    again = await problem(
        await designate(client, world.a, headers, corporation["id"], location_code="L1"), 409
    )
    assert again["code"] == "agent_already_designated"
    assert again["designation_id"] == first["id"]
    # Another location, or all locations, is another designation.
    await add_designation(client, world.a, corporation["id"], location_code="L2")
    await add_designation(client, world.a, corporation["id"])
    taken = await problem(
        await designate(client, world.a, headers, shinkokai["id"], location_code="L1", is_default=True), 409
    )
    assert taken["code"] == "default_already_set"
    assert (taken["designation_id"], taken["procedure"]) == (first["id"], CONTINUOUS)
    assert first["id"] in taken["detail"]
    # Not a default, it is welcome; made default by a change, it is refused the same way.
    second = await add_designation(client, world.a, shinkokai["id"], location_code="L1")
    patched = await problem(
        await client.patch(
            f"{designations_path(world.a)}/{second['id']}", json={"is_default": True}, headers=headers
        ),
        409,
    )
    assert (patched["code"], patched["designation_id"]) == ("default_already_set", first["id"])
    # The holder lets go: now it may.
    await client.patch(
        f"{designations_path(world.a)}/{first['id']}", json={"is_default": False}, headers=headers
    )
    made = await client.patch(
        f"{designations_path(world.a)}/{second['id']}", json={"is_default": True}, headers=headers
    )
    assert made.status_code == 200
    assert made.json()["is_default"] is True
    await client.patch(
        f"{AGENTS}/{corporation['id']}", json={"status": "suspended"}, headers=world.operator.headers
    )
    suspended = await problem(await designate(client, world.b, world.b.admin.headers, corporation["id"]), 422)
    assert suspended["code"] == "agent_suspended"
    assert [(e["field"], e["code"]) for e in suspended["errors"]] == [("agent_id", "agent_suspended")]
    not_subset = await problem(
        await client.patch(
            f"{designations_path(world.a)}/{second['id']}",
            json={"procedures": ["new_registration"]},
            headers=headers,
        ),
        422,
    )
    assert not_subset["code"] == "procedure_not_allowed"
    immutable = await client.patch(
        f"{designations_path(world.a)}/{second['id']}", json={"agent_id": corporation["id"]}, headers=headers
    )
    assert immutable.status_code == 422


async def _resolve(
    client: httpx.AsyncClient, world: World, headers: dict[str, str], **params: str
) -> httpx.Response:
    return await client.get(f"{designations_path(world.a)}/resolve", params=params, headers=headers)


async def test_resolve_precedence(world: World, client: httpx.AsyncClient) -> None:
    shinkokai, corporation = await _agents(client, world)
    kanagawa = await add_agent(client, world.operator, name="神奈川県自動車整備振興会", prefecture="14")
    admin = world.a.admin.headers
    nothing = await _resolve(client, world, admin, procedure=CONTINUOUS, location_code="L1")
    assert nothing.status_code == 404
    assert nothing.json()["code"] == "no_agent_designated"
    everywhere = await add_designation(client, world.a, corporation["id"], is_default=True)
    at_l1 = await add_designation(client, world.a, shinkokai["id"], location_code="L1", is_default=True)
    await add_designation(client, world.a, kanagawa["id"], location_code="L2")  # not a default

    async def resolved(**params: str) -> str:
        response = await _resolve(client, world, admin, **params)
        assert response.status_code == 200, response.text
        designation_id: str = response.json()["id"]
        return designation_id

    assert await resolved(procedure=CONTINUOUS, location_code="L1") == at_l1["id"]
    assert await resolved(procedure=CONTINUOUS, location_code="L2") == everywhere["id"]
    assert await resolved(procedure=CONTINUOUS) == everywhere["id"]
    assert await resolved(procedure="new_registration", location_code="L1") == everywhere["id"]
    # A suspended agent's default is skipped: L1 falls back to the all-locations default.
    await client.patch(
        f"{AGENTS}/{shinkokai['id']}", json={"status": "suspended"}, headers=world.operator.headers
    )
    assert await resolved(procedure=CONTINUOUS, location_code="L1") == everywhere["id"]
    listed = await client.get(designations_path(world.a), params={"location_code": "L1"}, headers=admin)
    assert [(item["id"], item["agent"]["status"]) for item in listed.json()["items"]] == [
        (at_l1["id"], "suspended")
    ]
    await client.patch(
        f"{AGENTS}/{corporation['id']}", json={"status": "suspended"}, headers=world.operator.headers
    )
    none = await _resolve(client, world, admin, procedure=CONTINUOUS, location_code="L1")
    assert none.status_code == 404
    assert none.json()["code"] == "no_agent_designated"
    await client.patch(
        f"{AGENTS}/{shinkokai['id']}", json={"status": "active"}, headers=world.operator.headers
    )
    assert await resolved(procedure=CONTINUOUS, location_code="L1") == at_l1["id"]
    unknown = await _resolve(client, world, admin, procedure=CONTINUOUS, location_code="ZZ9")
    assert unknown.status_code == 422
    bad = await _resolve(client, world, admin, procedure="registration")
    assert bad.status_code == 422


async def test_list_filters(world: World, client: httpx.AsyncClient) -> None:
    shinkokai, corporation = await _agents(client, world)
    everywhere = await add_designation(client, world.a, corporation["id"], procedures=["new_registration"])
    at_l1 = await add_designation(client, world.a, shinkokai["id"], location_code="L1")
    at_l2 = await add_designation(client, world.a, corporation["id"], location_code="L2")

    async def ids(**params: str) -> list[str]:
        response = await client.get(designations_path(world.a), params=params, headers=world.a.admin.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["total"] == len(body["items"])
        return [item["id"] for item in body["items"]]

    assert await ids() == [everywhere["id"], at_l1["id"], at_l2["id"]]
    assert await ids(location_code="") == [everywhere["id"]]
    assert await ids(location_code="L1") == [at_l1["id"]]
    assert await ids(location_code="L") == []  # exact
    assert await ids(procedure="new_registration") == [everywhere["id"], at_l2["id"]]
    assert await ids(procedure=CONTINUOUS) == [at_l1["id"], at_l2["id"]]
    assert await ids(kind="nisseiren") == [at_l1["id"]]
    assert await ids(name="ａｉｎａｓ") == [everywhere["id"], at_l2["id"]]
    assert await ids(sort="-kind") == [at_l1["id"], everywhere["id"], at_l2["id"]]


# Who sees which designation: one of L1, one of L2 and one of all locations, in organization A.
READS = {
    "operator": {"L1", "L2", "ALL"},
    "admin": {"L1", "L2", "ALL"},
    "location_admin_l1": {"L1", "ALL"},
    "location_admin_all": {"L1", "L2", "ALL"},
    "staff_submitter_l1": {"L1", "ALL"},
    "staff_preparer_l1": {"L1", "ALL"},
    "staff_submitter_l2": {"L2", "ALL"},
    "linked_system": {"L1", "L2", "ALL"},
    "other_admin": set(),
}
# Which of them each may change and delete (403 for one it sees but may not manage).
WRITES = {
    "operator": {"L1", "L2", "ALL"},
    "admin": {"L1", "L2", "ALL"},
    "location_admin_l1": {"L1"},
    "location_admin_all": {"L1", "L2", "ALL"},
    "staff_submitter_l1": set(),
    "staff_preparer_l1": set(),
    "staff_submitter_l2": set(),
    "linked_system": set(),
    "other_admin": set(),
}


@pytest.mark.parametrize("role", sorted(READS))
async def test_scope_of_each_role(world: World, client: httpx.AsyncClient, role: str) -> None:
    shinkokai, corporation = await _agents(client, world)
    made = {
        "L1": await add_designation(client, world.a, shinkokai["id"], location_code="L1", is_default=True),
        "L2": await add_designation(client, world.a, shinkokai["id"], location_code="L2"),
        "ALL": await add_designation(client, world.a, corporation["id"], is_default=True),
    }
    headers = world.a.basic() if role == "linked_system" else world[role].headers
    listed = await client.get(designations_path(world.a), headers=headers)
    if role == "other_admin":
        assert listed.status_code == 404
    else:
        assert listed.status_code == 200
        assert {item["id"] for item in listed.json()["items"]} == {made[key]["id"] for key in READS[role]}
    for key, designation in made.items():
        path = f"{designations_path(world.a)}/{designation['id']}"
        read = await client.get(path, headers=headers)
        assert read.status_code == (200 if key in READS[role] else 404), (key, read.text)
        # A stale If-Match: allowed callers reach the version check (412) and change nothing.
        patched = await client.patch(path, json={"note": "変更"}, headers={**headers, "If-Match": '"99"'})
        if role == "other_admin":
            expected = 404
        elif not WRITES[role]:  # the kind of caller may not write at all: 403 before any lookup
            expected = 403
        else:
            expected = 412 if key in WRITES[role] else 404 if key not in READS[role] else 403
        assert patched.status_code == expected, (key, patched.text)
    if role != "other_admin":
        resolved = await client.get(
            f"{designations_path(world.a)}/resolve", params={"procedure": CONTINUOUS}, headers=headers
        )
        assert resolved.status_code == 200
        assert resolved.json()["id"] == made["ALL"]["id"]
    # Creating: at L1, at L2, for all locations.
    kanagawa = await add_agent(client, world.operator, name="神奈川県自動車整備振興会", prefecture="14")
    for key, code in (("L1", "L1"), ("L2", "L2"), ("ALL", None)):
        response = await designate(client, world.a, headers, kanagawa["id"], location_code=code)
        if key in WRITES[role]:
            assert response.status_code == 201, (key, response.text)
        elif role in ("other_admin",):
            assert response.status_code == 404
        elif not WRITES[role]:
            assert response.status_code == 403, (key, response.text)
        else:  # a location admin: another location is unknown to it; all locations are not its own
            assert response.status_code == (422 if code else 403), (key, response.text)


async def test_a_location_with_designations_cannot_be_deleted(
    world: World, client: httpx.AsyncClient
) -> None:
    shinkokai, corporation = await _agents(client, world)
    await client.post(
        f"{world.a.path}/locations",
        json={"code": "L3", "name": "第三拠点", "short_name": "第三"},
        headers=world.a.admin.headers,
    )
    await add_designation(client, world.a, shinkokai["id"], location_code="L3")
    designation = await add_designation(client, world.a, corporation["id"], location_code="L3")
    refused = await client.delete(f"{world.a.path}/locations/L3", headers=world.a.admin.headers)
    assert refused.status_code == 409
    assert refused.json()["code"] == "location_has_designations"
    assert "2" in refused.json()["detail"]
    # The users' count keeps its own message.
    users = await client.delete(f"{world.a.path}/locations/L1", headers=world.a.admin.headers)
    assert (users.status_code, users.json()["code"]) == (409, "location_in_use")
    for item in (
        await client.get(
            designations_path(world.a), params={"location_code": "L3"}, headers=world.a.admin.headers
        )
    ).json()["items"]:
        await client.delete(f"{designations_path(world.a)}/{item['id']}", headers=world.a.admin.headers)
    assert (
        await client.get(f"{designations_path(world.a)}/{designation['id']}", headers=world.a.admin.headers)
    ).status_code == 404
    deleted = await client.delete(f"{world.a.path}/locations/L3", headers=world.a.admin.headers)
    assert deleted.status_code == 204


async def test_changes_are_audited(world: World, client: httpx.AsyncClient) -> None:
    shinkokai, _ = await _agents(client, world)
    designation = await add_designation(client, world.a, shinkokai["id"], location_code="L1")
    path = f"{designations_path(world.a)}/{designation['id']}"
    await client.patch(path, json={"is_default": True}, headers=world.a.admin.headers)
    await client.delete(path, headers=world.a.admin.headers)
    events = await client.get(
        f"{world.a.path}/audit-events",
        params={"resource_type": "agent_designation"},
        headers=world.a.admin.headers,
    )
    assert events.status_code == 200
    actions = [(event["action"], event["resource"]["id"]) for event in events.json()["items"]]
    assert sorted(actions) == sorted(
        [
            ("agent_designation.create", designation["id"]),
            ("agent_designation.update", designation["id"]),
            ("agent_designation.delete", designation["id"]),
        ]
    )
    update = next(event for event in events.json()["items"] if event["action"] == "agent_designation.update")
    assert update["changes"] == {"is_default": [False, True]}


async def test_a_retried_post_with_an_idempotency_key_designates_once(
    world: World, client: httpx.AsyncClient
) -> None:
    shinkokai, _ = await _agents(client, world)
    headers = {**world.a.admin.headers, "Idempotency-Key": "designate-once"}
    body = {"agent_id": shinkokai["id"], "location_code": "L1"}
    first = await client.post(designations_path(world.a), json=body, headers=headers)
    again = await client.post(designations_path(world.a), json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    other = await client.post(designations_path(world.a), json={**body, "note": "別"}, headers=headers)
    assert other.status_code == 422
    listed = await client.get(designations_path(world.a), headers=world.a.admin.headers)
    assert listed.json()["total"] == 1


async def test_every_listed_designation_reads_as_it_does_on_its_own(
    world: World, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A single read (and a write's answer) takes its row, its agent's and its location's code
    through the schema once, and so does the list (app/http/resource.py): each item must be
    what the single read answers, byte for byte what pydantic writes, for designations of a
    location and of all locations, as an admin and a location's admin see them, filtered or not."""
    shinkokai, corporation = await _agents(client, world)
    await add_designation(client, world.a, shinkokai["id"], location_code="L1", is_default=True, note="車検")
    everywhere = await add_designation(client, world.a, corporation["id"])
    await add_designation(client, world.a, corporation["id"], location_code="L2")
    path = f"{designations_path(world.a)}/{everywhere['id']}"
    changed = await client.patch(
        path,
        json={"procedures": ["transfer_registration"], "note": "移転"},
        headers={**world.a.admin.headers, "If-Match": '"1"'},
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["etag"] == '"2"'
    assert changed.content == (await client.get(path, headers=world.a.basic())).content
    located = world["location_admin_l1"]
    deep_from_the_second_item(monkeypatch, agents_repository)
    cases: list[tuple[Any, dict[str, str | int], int]] = [
        (world.a.admin, {"limit": 200}, 3),
        (world.a.admin, {"offset": 1, "sort": "-updated_at"}, 2),
        (located, {"offset": 1, "name": "法人"}, 0),
        (located, {"limit": 200}, 2),
        (world.a.admin, {"procedure": CONTINUOUS}, 2),
        (world.a.admin, {"procedure": "transfer_registration", "location_code": ""}, 1),
        (located, {"location_code": "L2"}, 0),
        (world.a.admin, {"name": "法人", "sort": "-updated_at"}, 2),
    ]
    for caller, params, count in cases:
        listed = await client.get(designations_path(world.a), params=params, headers=caller.headers)
        items = await assert_listed_as_alone(
            client,
            listed,
            AgentDesignation,
            lambda item: f"{designations_path(world.a)}/{item['id']}",
            caller.headers,
        )
        assert len(items) == count, params
    resolved = await client.get(
        f"{designations_path(world.a)}/resolve",
        params={"procedure": CONTINUOUS, "location_code": "L1"},
        headers=world.a.basic(),
    )
    assert resolved.status_code == 200, resolved.text
    alone = await client.get(f"{designations_path(world.a)}/{resolved.json()['id']}", headers=world.a.basic())
    assert resolved.content == alone.content
