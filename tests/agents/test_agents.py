"""代理人: the agent directory (SPEC §2.7): operators keep it, every principal reads it."""

from typing import Any

import httpx
import pytest

from app.agents import repository as agents_repository
from app.agents.schemas import Agent
from tests.agents.helpers import AGENTS, add_agent, add_designation
from tests.fixtures.listed import assert_listed_as_alone, deep_from_the_second_item
from tests.fixtures.world import World


async def test_an_operator_adds_an_agent_with_the_procedures_of_its_kind(
    world: World, client: httpx.AsyncClient
) -> None:
    response = await client.post(
        AGENTS,
        json={
            "kind": "jihanren",
            "name": "日本自動車販売協会連合会",
            "short_name": "自販連",
            "prefecture": "13",
        },
        headers=world.operator.headers,
    )
    assert response.status_code == 201, response.text
    agent = response.json()
    assert len(agent["id"]) == 9
    assert agent["id"].isdigit()
    assert agent["procedures"] == ["continuous_inspection", "kei_new_inspection"]
    assert agent["status"] == "active"
    assert response.headers["location"] == f"{AGENTS}/{agent['id']}"
    read = await client.get(response.headers["location"], headers=world["staff_preparer_l1"].headers)
    assert read.status_code == 200
    assert read.json() == agent
    assert read.headers["etag"] == f'"{agent["version"]}"'


async def test_every_principal_reads_the_directory_and_only_operators_change_it(
    world: World, client: httpx.AsyncClient
) -> None:
    agent = await add_agent(client, world.operator)
    for name in ("admin", "location_admin_l1", "staff_submitter_l1", "other_admin"):
        listed = await client.get(AGENTS, headers=world[name].headers)
        assert listed.status_code == 200
        assert [item["id"] for item in listed.json()["items"]] == [agent["id"]]
    linked = await client.get(AGENTS, headers=world.a.basic())
    assert linked.status_code == 200
    assert linked.json()["total"] == 1
    for name in ("admin", "location_admin_l1"):
        headers = world[name].headers
        assert (await client.post(AGENTS, json={"kind": "nisseiren"}, headers=headers)).status_code == 403
        patched = await client.patch(f"{AGENTS}/{agent['id']}", json={"status": "suspended"}, headers=headers)
        assert patched.status_code == 403
        assert (await client.delete(f"{AGENTS}/{agent['id']}", headers=headers)).status_code == 403


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        (
            {"kind": "nisseiren", "procedures": ["new_registration"]},
            422,
            "procedure_not_allowed",
            "procedures",
        ),
        ({"kind": "gyoseishoshi"}, 422, "validation_failed", "registration_number"),
        (
            {"kind": "gyoseishoshi", "registration_number": "１２３"},
            422,
            "validation_failed",
            "registration_number",
        ),
        ({"prefecture": "48"}, 422, "validation_failed", "prefecture"),
        ({"phone": "03-1234"}, 422, "validation_failed", "phone"),
        ({"name": "ﾄｳｷｮｳ振興会"}, 422, "validation_failed", "name"),
        ({"kind": "broker"}, 422, "validation_failed", "kind"),
    ],
)
async def test_a_bad_agent_is_refused_naming_the_field(
    world: World, client: httpx.AsyncClient, body: dict[str, Any], status: int, code: str, field: str
) -> None:
    full = {"kind": "nisseiren", "name": "振興会", "short_name": "振興会", "prefecture": "13", **body}
    response = await client.post(AGENTS, json=full, headers=world.operator.headers)
    assert response.status_code == status, response.text
    problem = response.json()
    assert problem["code"] == code
    assert [error["field"] for error in problem["errors"]] == [field]


async def test_procedure_not_allowed_names_the_procedures(world: World, client: httpx.AsyncClient) -> None:
    body = {
        "kind": "zenkeijikyo",
        "name": "全国軽自動車協会連合会",
        "short_name": "全軽自協",
        "prefecture": "13",
        "procedures": ["kei_new_inspection", "transfer_registration", "new_registration"],
    }
    response = await client.post(
        AGENTS, json=body, headers={**world.operator.headers, "Accept-Language": "en"}
    )
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["code"] == "procedure_not_allowed"
    assert error["procedures"] == ["new_registration", "transfer_registration"]
    assert error["allowed"] == ["continuous_inspection", "kei_new_inspection"]
    assert "new_registration, transfer_registration" in error["message"]


async def test_a_full_width_name_error_lists_characters_and_suggestions(
    world: World, client: httpx.AsyncClient
) -> None:
    body = {"kind": "nisseiren", "name": "ｶﾞｲﾄﾞ振興会", "short_name": "振興会", "prefecture": "13"}
    response = await client.post(AGENTS, json=body, headers=world.operator.headers)
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["code"] == "not_full_width"
    assert error["invalid_characters"][0] == {
        "position": 0,
        "character": "ｶ",
        "code_point": "U+FF76",
        "suggestion": "ガ",
    }


async def test_registration_number_is_unique_within_a_kind(world: World, client: httpx.AsyncClient) -> None:
    await add_agent(
        client, world.operator, kind="gyoseishoshi", name="行政　太郎", registration_number="12345"
    )
    again = await client.post(
        AGENTS,
        json={
            "kind": "gyoseishoshi",
            "name": "行政　次郎",
            "short_name": "行政",
            "prefecture": "13",
            "registration_number": "12345",
        },
        headers=world.operator.headers,
    )
    assert again.status_code == 409
    assert again.json()["code"] == "agent_already_registered"
    # Another kind may carry the same number.
    await add_agent(
        client, world.operator, kind="gyoseishoshi_corporation", name="行政法人", registration_number="12345"
    )


async def test_filters_and_sort(world: World, client: httpx.AsyncClient) -> None:
    tokyo = await add_agent(client, world.operator)
    osaka = await add_agent(
        client,
        world.operator,
        kind="zenkeijikyo",
        name="大阪府軽自動車協会",
        short_name="大阪軽協",
        prefecture="27",
    )
    scrivener = await add_agent(
        client,
        world.operator,
        kind="gyoseishoshi",
        name="ＡＢＣ行政書士事務所",
        short_name="ＡＢＣ",
        registration_number="9876543",
    )
    await client.patch(
        f"{AGENTS}/{osaka['id']}", json={"status": "suspended"}, headers=world.operator.headers
    )

    async def ids(**params: Any) -> list[str]:
        response = await client.get(AGENTS, params=params, headers=world.a.admin.headers)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await ids(kind="nisseiren") == [tokyo["id"]]
    assert await ids(prefecture="27") == [osaka["id"]]
    assert await ids(procedure="kei_new_inspection") == [osaka["id"], scrivener["id"]]
    assert await ids(procedure="new_registration") == [scrivener["id"]]
    assert await ids(status="suspended") == [osaka["id"]]
    assert await ids(name="abc") == [scrivener["id"]]  # width and case ignored
    assert await ids(name="振興会") == [tokyo["id"]]
    assert await ids(registration_number="765") == [scrivener["id"]]
    assert await ids(sort="-prefecture") == [osaka["id"], tokyo["id"], scrivener["id"]]
    bad = await client.get(AGENTS, params={"sort": "phone"}, headers=world.a.admin.headers)
    assert bad.status_code == 422


async def test_patch_honours_if_match_and_refuses_the_kind(world: World, client: httpx.AsyncClient) -> None:
    agent = await add_agent(client, world.operator)
    path = f"{AGENTS}/{agent['id']}"
    stale = await client.patch(
        path, json={"phone": "03-1234-5678"}, headers={**world.operator.headers, "If-Match": '"99"'}
    )
    assert stale.status_code == 412
    changed = await client.patch(
        path, json={"phone": "03-1234-5678"}, headers={**world.operator.headers, "If-Match": '"1"'}
    )
    assert changed.status_code == 200
    assert changed.json()["phone"] == "03-1234-5678"
    assert changed.headers["etag"] == '"2"'
    kind = await client.patch(path, json={"kind": "jihanren"}, headers=world.operator.headers)
    assert kind.status_code == 422


async def test_an_agent_in_use_cannot_be_deleted(world: World, client: httpx.AsyncClient) -> None:
    agent = await add_agent(client, world.operator)
    await add_designation(client, world.a, agent["id"])
    await add_designation(client, world.b, agent["id"])
    refused = await client.delete(f"{AGENTS}/{agent['id']}", headers=world.operator.headers)
    assert refused.status_code == 409
    assert refused.json()["code"] == "agent_in_use"
    assert refused.json()["count"] == 2
    assert (await client.get(f"{AGENTS}/{agent['id']}", headers=world.operator.headers)).status_code == 200
    unused = await add_agent(client, world.operator, name="埼玉県自動車整備振興会", prefecture="11")
    deleted = await client.delete(f"{AGENTS}/{unused['id']}", headers=world.operator.headers)
    assert deleted.status_code == 204
    assert (await client.get(f"{AGENTS}/{unused['id']}", headers=world.operator.headers)).status_code == 404


async def test_procedures_that_designations_use_stay(world: World, client: httpx.AsyncClient) -> None:
    agent = await add_agent(client, world.operator, kind="jihanren", name="自販連", short_name="自販連")
    await add_designation(client, world.a, agent["id"], procedures=["kei_new_inspection"])
    response = await client.patch(
        f"{AGENTS}/{agent['id']}",
        json={"procedures": ["continuous_inspection"]},
        headers=world.operator.headers,
    )
    assert response.status_code == 409
    assert response.json()["code"] == "agent_procedures_in_use"


async def test_every_listed_agent_reads_as_it_does_on_its_own(
    world: World, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The list and the single read (and a write's answer) take their rows through the schema
    once, with no ORM object (app/http/resource.py): each item must be what the single read
    answers, byte for byte what pydantic writes for the Agent schema, with its ETag, whatever
    the filters and the sort."""
    await add_agent(client, world.operator)
    scrivener = await add_agent(
        client,
        world.operator,
        kind="gyoseishoshi",
        name="見本行政書士事務所",
        short_name="見本事務所",
        registration_number="77",
        phone="03-1234-5678",
        procedures=["transfer_registration", "new_registration"],
    )
    path = f"{AGENTS}/{scrivener['id']}"
    changed = await client.patch(
        path, json={"status": "suspended"}, headers={**world.operator.headers, "If-Match": '"1"'}
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["etag"] == '"2"'
    assert changed.content == (await client.get(path, headers=world.a.basic())).content
    deep_from_the_second_item(monkeypatch, agents_repository)
    cases: list[tuple[dict[str, str | int], int]] = [
        ({"limit": 200}, 2),
        ({"offset": 1, "sort": "-name"}, 1),
        ({"offset": 1, "procedure": "continuous_inspection"}, 0),
        ({"procedure": "transfer_registration"}, 1),
        ({"procedure": "new_registration", "status": "suspended"}, 1),
        ({"procedure": "kei_new_inspection", "status": "suspended"}, 0),
        ({"name": "見本", "sort": "-name"}, 1),
        ({"sort": "-updated_at", "limit": 1}, 1),
    ]
    for params, count in cases:
        listed = await client.get(AGENTS, params=params, headers=world.a.basic())
        items = await assert_listed_as_alone(
            client, listed, Agent, lambda item: f"{AGENTS}/{item['id']}", world.a.basic()
        )
        assert len(items) == count, params
