"""申請テンプレート (SPEC §2.8): create, read, list, change, copy, delete, and every code."""

from typing import Any

import httpx
import pytest

from app.application_templates import repository as templates_repository
from app.application_templates.schemas import ApplicationTemplate
from tests.application_templates.helpers import BASE, OWNER, body, create, templates_path
from tests.fixtures.listed import assert_listed_as_alone, deep_from_the_second_item
from tests.fixtures.world import World


async def test_create_answers_201_with_the_template_its_location_and_etag(
    world: World, client: httpx.AsyncClient
) -> None:
    response = await client.post(
        templates_path(world.a), json=body(use="business", notes="備考です"), headers=world.a.admin.headers
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert len(created["id"]) == 9
    assert created["id"].isdigit()
    assert response.headers["location"] == f"{templates_path(world.a)}/{created['id']}"
    assert response.headers["etag"] == f'"{created["version"]}"'
    # The postal code typed with its hyphen is stored without it.
    assert created["owner"] == {**OWNER, "postal_code": "1050001"}
    assert created["base_location"] == BASE
    assert created | {"id": None, "created_at": None, "updated_at": None} == {
        "id": None,
        "name": "新規登録テンプレート",
        "procedure": "new_registration",
        "location_code": "L1",
        "agent_designation_id": None,
        "use": "business",
        "owner": {**OWNER, "postal_code": "1050001"},
        "user": None,
        "user_same_as_owner": True,
        "base_location": BASE,
        "notes": "備考です",
        "created_at": None,
        "created_by": "a.admin",
        "updated_at": None,
        "version": 1,
    }
    read = await client.get(response.headers["location"], headers=world.a.admin.headers)
    assert read.status_code == 200
    assert read.json() == created
    assert read.headers["etag"] == response.headers["etag"]


async def test_name_is_unique_within_the_organization(world: World, client: httpx.AsyncClient) -> None:
    await create(client, world.a, world.a.admin.headers, name="同じ名前")
    again = await client.post(
        templates_path(world.a), json=body(name="同じ名前"), headers=world.a.admin.headers
    )
    assert again.status_code == 409
    assert again.json()["code"] == "template_name_taken"
    assert "同じ名前" in again.json()["detail"]
    # Another organization may use it.
    other = await client.post(
        templates_path(world.b), json=body(name="同じ名前", location_code=None), headers=world.b.admin.headers
    )
    assert other.status_code == 201, other.text


async def test_renaming_onto_a_taken_name_answers_409(world: World, client: httpx.AsyncClient) -> None:
    await create(client, world.a, world.a.admin.headers, name="一つ目")
    second = await create(client, world.a, world.a.admin.headers, name="二つ目")
    path = f"{templates_path(world.a)}/{second['id']}"
    response = await client.patch(path, json={"name": "一つ目"}, headers=world.a.admin.headers)
    assert response.status_code == 409
    assert response.json()["code"] == "template_name_taken"
    # Its own name again is no conflict.
    same = await client.patch(path, json={"name": "二つ目"}, headers=world.a.admin.headers)
    assert same.status_code == 200
    assert same.json()["version"] == second["version"]


def _error(response: httpx.Response, field: str) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    found = [error for error in response.json()["errors"] if error["field"] == field]
    assert found, response.json()["errors"]
    error: dict[str, Any] = found[0]
    return error


async def test_nested_full_width_errors_name_the_field_each_character_and_its_fix(
    world: World, client: httpx.AsyncClient
) -> None:
    owner = {"name": "株式会社ｶﾞﾚｰｼﾞ", "postal_code": "1050001", "address": "東京都港区1丁目"}
    response = await client.post(
        templates_path(world.a),
        json=body(owner=owner, base_location={"postal_code": "1400002", "address": "品川区ﾊﾟｰｸ"}),
        headers=world.a.admin.headers,
    )
    address = _error(response, "owner.address")
    assert address["code"] == "not_full_width"
    assert address["invalid_characters"] == [
        {"position": 5, "character": "1", "code_point": "U+0031", "suggestion": "１"}
    ]
    name = _error(response, "owner.name")
    assert name["invalid_characters"][:2] == [
        {"position": 4, "character": "ｶ", "code_point": "U+FF76", "suggestion": "ガ"},
        {"position": 5, "character": "ﾞ", "code_point": "U+FF9E", "suggestion": ""},
    ]
    base = _error(response, "base_location.address")
    assert base["invalid_characters"][:2] == [
        {"position": 3, "character": "ﾊ", "code_point": "U+FF8A", "suggestion": "パ"},
        {"position": 4, "character": "ﾟ", "code_point": "U+FF9F", "suggestion": ""},
    ]
    # The user is checked as the owner is; a long address is refused by its length.
    user = {"name": "見本 太郎", "postal_code": "1500001", "address": "東" * 101}
    response = await client.post(
        templates_path(world.a), json=body(user_same_as_owner=False, user=user), headers=world.a.admin.headers
    )
    assert _error(response, "user.name")["invalid_characters"] == [
        {"position": 2, "character": " ", "code_point": "U+0020", "suggestion": "\u3000"}
    ]
    assert _error(response, "user.address")["code"] == "too_long"


async def test_messages_are_english_when_asked(world: World, client: httpx.AsyncClient) -> None:
    owner = {**OWNER, "address": "Tokyo"}
    response = await client.post(
        templates_path(world.a),
        json=body(owner=owner),
        headers={**world.a.admin.headers, "Accept-Language": "en"},
    )
    assert _error(response, "owner.address")["message"].startswith("Must be full-width")


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("123-4567", "1234567"), ("1234567", "1234567"), (" 123-4567 ", "1234567")],
)
async def test_postal_codes_are_stored_as_seven_digits(
    world: World, client: httpx.AsyncClient, typed: str, stored: str
) -> None:
    created = await create(client, world.a, world.a.admin.headers, owner={**OWNER, "postal_code": typed})
    assert created["owner"]["postal_code"] == stored


@pytest.mark.parametrize(
    ("typed", "code", "invalid"),
    [
        (
            "１２３-４５６７",
            "invalid_postal_code",
            [
                {"position": 0, "character": "１", "code_point": "U+FF11", "suggestion": "1"},
                {"position": 1, "character": "２", "code_point": "U+FF12", "suggestion": "2"},
                {"position": 2, "character": "３", "code_point": "U+FF13", "suggestion": "3"},
                {"position": 4, "character": "４", "code_point": "U+FF14", "suggestion": "4"},
                {"position": 5, "character": "５", "code_point": "U+FF15", "suggestion": "5"},
                {"position": 6, "character": "６", "code_point": "U+FF16", "suggestion": "6"},
                {"position": 7, "character": "７", "code_point": "U+FF17", "suggestion": "7"},
            ],
        ),
        (
            "123ー4567",
            "invalid_postal_code",
            [{"position": 3, "character": "ー", "code_point": "U+30FC", "suggestion": "-"}],
        ),
        (
            "12-34567",
            "invalid_postal_code",
            [{"position": 2, "character": "-", "code_point": "U+002D", "suggestion": None}],
        ),
        ("123456", "postal_code_length", None),
        ("12345678", "postal_code_length", None),
        ("123-456", "postal_code_length", None),
    ],
)
async def test_postal_codes_that_are_not_seven_half_width_digits_are_explained(
    world: World, client: httpx.AsyncClient, typed: str, code: str, invalid: list[dict[str, Any]] | None
) -> None:
    response = await client.post(
        templates_path(world.a),
        json=body(base_location={**BASE, "postal_code": typed}),
        headers=world.a.admin.headers,
    )
    error = _error(response, "base_location.postal_code")
    assert error["code"] == code
    assert error.get("invalid_characters") == invalid


async def test_user_must_be_null_when_the_same_as_the_owner(world: World, client: httpx.AsyncClient) -> None:
    response = await client.post(
        templates_path(world.a), json=body(user_same_as_owner=True, user=OWNER), headers=world.a.admin.headers
    )
    assert _error(response, "user")["code"] == "user_given_with_same_as_owner"
    created = await create(client, world.a, world.a.admin.headers, user_same_as_owner=False, user=OWNER)
    path = f"{templates_path(world.a)}/{created['id']}"
    patched = await client.patch(path, json={"user_same_as_owner": True}, headers=world.a.admin.headers)
    assert _error(patched, "user")["code"] == "user_given_with_same_as_owner"
    both = await client.patch(
        path, json={"user_same_as_owner": True, "user": None}, headers=world.a.admin.headers
    )
    assert both.status_code == 200, both.text
    assert (both.json()["user"], both.json()["user_same_as_owner"]) == (None, True)


@pytest.mark.parametrize(
    ("fields", "refused"),
    [
        ({"owner": OWNER}, ["owner"]),
        ({"user": OWNER}, ["user"]),
        ({"user_same_as_owner": True}, ["user_same_as_owner"]),
        ({"base_location": BASE}, ["base_location"]),
        (
            {"owner": OWNER, "user_same_as_owner": True, "base_location": BASE},
            ["owner", "user_same_as_owner", "base_location"],
        ),
    ],
)
async def test_continuous_inspection_refuses_parties_and_base_location(
    world: World, client: httpx.AsyncClient, fields: dict[str, Any], refused: list[str]
) -> None:
    request = {"name": "継続検査", "procedure": "continuous_inspection", "location_code": "L1", **fields}
    response = await client.post(templates_path(world.a), json=request, headers=world.a.admin.headers)
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [(error["field"], error["code"]) for error in errors] == [
        (name, "field_not_applicable") for name in refused
    ]
    assert "継続検査" in errors[0]["message"]


async def test_continuous_inspection_takes_nulls_and_false(world: World, client: httpx.AsyncClient) -> None:
    request = {
        "name": "継続検査",
        "procedure": "continuous_inspection",
        "owner": None,
        "user": None,
        "user_same_as_owner": False,
        "base_location": None,
        "use": "private",
    }
    response = await client.post(templates_path(world.a), json=request, headers=world.a.admin.headers)
    assert response.status_code == 201, response.text
    assert response.json()["location_code"] is None


async def test_a_change_to_continuous_inspection_is_checked_on_the_result(
    world: World, client: httpx.AsyncClient
) -> None:
    created = await create(client, world.a, world.a.admin.headers)
    path = f"{templates_path(world.a)}/{created['id']}"
    response = await client.patch(
        path, json={"procedure": "continuous_inspection"}, headers=world.a.admin.headers
    )
    assert response.status_code == 422
    assert {(e["field"], e["code"]) for e in response.json()["errors"]} == {
        ("owner", "field_not_applicable"),
        ("user_same_as_owner", "field_not_applicable"),
        ("base_location", "field_not_applicable"),
    }
    cleared = await client.patch(
        path,
        json={
            "procedure": "continuous_inspection",
            "owner": None,
            "user_same_as_owner": False,
            "base_location": None,
        },
        headers=world.a.admin.headers,
    )
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["procedure"] == "continuous_inspection"
    # Setting a party on it now is refused too.
    again = await client.patch(path, json={"owner": OWNER}, headers=world.a.admin.headers)
    assert [(e["field"], e["code"]) for e in again.json()["errors"]] == [("owner", "field_not_applicable")]


async def test_other_rules_of_the_fields(world: World, client: httpx.AsyncClient) -> None:
    headers = world.a.admin.headers
    path = templates_path(world.a)
    cases = [
        (body(use="rental"), "use", "enum"),
        (body(procedure="inspection"), "procedure", "enum"),
        (body(notes="あ" * 201), "notes", "too_long"),
        (body(location_code="NOPE"), "location_code", "unknown_location"),
        (body(agent_designation_id="12"), "agent_designation_id", "string_pattern_mismatch"),
        (body(agent_designation_id="000000999"), "agent_designation_id", "unknown_agent_designation"),
        (body(owner={"name": "見本", "address": "東京都"}), "owner.postal_code", "missing"),
        (body(color="red"), "color", "extra_forbidden"),
        (body(owner={**OWNER, "phone": "1"}), "owner.phone", "extra_forbidden"),
    ]
    for request, field, code in cases:
        response = await client.post(path, json=request, headers=headers)
        assert _error(response, field)["code"] == code, (field, response.json())


async def test_blank_optional_fields_are_null(world: World, client: httpx.AsyncClient) -> None:
    created = await create(
        client, world.a, world.a.admin.headers, location_code="", use="", notes=" ", agent_designation_id=""
    )
    assert (created["location_code"], created["use"], created["notes"], created["agent_designation_id"]) == (
        None,
        None,
        None,
        None,
    )


async def test_change_answers_the_template_with_a_new_etag(world: World, client: httpx.AsyncClient) -> None:
    created = await create(client, world.a, world.a.admin.headers)
    path = f"{templates_path(world.a)}/{created['id']}"
    changed = await client.patch(
        path,
        json={"location_code": "L2", "owner": {**OWNER, "address": "大阪府大阪市"}, "notes": "変更"},
        headers={**world.a.admin.headers, "If-Match": f'"{created["version"]}"'},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["location_code"] == "L2"
    assert changed.json()["owner"]["address"] == "大阪府大阪市"
    assert changed.json()["version"] == created["version"] + 1
    assert changed.headers["etag"] == f'"{created["version"] + 1}"'
    stale = await client.patch(
        path, json={"notes": "古い"}, headers={**world.a.admin.headers, "If-Match": f'"{created["version"]}"'}
    )
    assert stale.status_code == 412
    immutable = await client.patch(path, json={"id": "000000001"}, headers=world.a.admin.headers)
    assert _error(immutable, "id")["code"] == "immutable_field"
    null_name = await client.patch(path, json={"name": None}, headers=world.a.admin.headers)
    assert _error(null_name, "name")["code"] == "string_type"


async def test_copy_makes_a_new_template_with_the_same_fields(
    world: World, client: httpx.AsyncClient
) -> None:
    source = await create(client, world.a, world.a.admin.headers, use="private", notes="元")
    response = await client.post(
        f"{templates_path(world.a)}/{source['id']}/copy",
        json={"name": "転用した"},
        headers=world.a.admin.headers,
    )
    assert response.status_code == 201, response.text
    copied = response.json()
    assert copied["id"] != source["id"]
    assert response.headers["location"] == f"{templates_path(world.a)}/{copied['id']}"
    assert copied["name"] == "転用した"
    kept = (
        "procedure",
        "location_code",
        "agent_designation_id",
        "use",
        "owner",
        "user",
        "user_same_as_owner",
        "base_location",
        "notes",
    )
    assert {k: copied[k] for k in kept} == {k: source[k] for k in kept}
    taken = await client.post(
        f"{templates_path(world.a)}/{source['id']}/copy",
        json={"name": "転用した"},
        headers=world.a.admin.headers,
    )
    assert taken.status_code == 409
    assert taken.json()["code"] == "template_name_taken"
    bad = await client.post(
        f"{templates_path(world.a)}/{source['id']}/copy", json={"name": "copy"}, headers=world.a.admin.headers
    )
    assert _error(bad, "name")["code"] == "not_full_width"
    listed = await client.get(templates_path(world.a), headers=world.a.admin.headers)
    assert listed.json()["total"] == 2


async def test_delete_answers_204_and_honours_if_match(world: World, client: httpx.AsyncClient) -> None:
    created = await create(client, world.a, world.a.admin.headers)
    path = f"{templates_path(world.a)}/{created['id']}"
    stale = await client.delete(path, headers={**world.a.admin.headers, "If-Match": '"99"'})
    assert stale.status_code == 412
    deleted = await client.delete(
        path, headers={**world.a.admin.headers, "If-Match": f'"{created["version"]}"'}
    )
    assert deleted.status_code == 204
    assert (await client.get(path, headers=world.a.admin.headers)).status_code == 404


async def test_another_organizations_template_is_not_found(world: World, client: httpx.AsyncClient) -> None:
    created = await create(client, world.a, world.a.admin.headers)
    foreign = f"{templates_path(world.b)}/{created['id']}"
    headers = world.b.admin.headers
    assert (await client.get(foreign, headers=headers)).status_code == 404
    assert (await client.patch(foreign, json={"notes": "x"}, headers=headers)).status_code == 404
    assert (await client.delete(foreign, headers=headers)).status_code == 404
    assert (await client.post(f"{foreign}/copy", json={"name": "盗む"}, headers=headers)).status_code == 404
    # And through A's path, B's admin reaches nothing at all.
    assert (
        await client.get(f"{templates_path(world.a)}/{created['id']}", headers=headers)
    ).status_code == 404
    for malformed in ("1", "abc", "0000000001"):
        assert (
            await client.get(f"{templates_path(world.a)}/{malformed}", headers=world.a.admin.headers)
        ).status_code == 404


async def test_list_filters(world: World, client: httpx.AsyncClient) -> None:
    headers = world.a.admin.headers
    await create(client, world.a, headers, name="リース新規")
    await create(
        client, world.a, headers, name="全拠点の移転", procedure="transfer_registration", location_code=None
    )
    await create(
        client, world.a, headers, name="第二の記載変更", procedure="description_change", location_code="L2"
    )

    async def names(**params: str) -> list[str]:
        response = await client.get(templates_path(world.a), params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [item["name"] for item in response.json()["items"]]

    assert await names() == ["リース新規", "全拠点の移転", "第二の記載変更"]
    assert await names(name="ﾘｰｽ") == ["リース新規"]
    assert await names(procedure="transfer_registration") == ["全拠点の移転"]
    assert await names(location_code="L2") == ["第二の記載変更"]
    assert await names(location_code="") == ["全拠点の移転"]
    assert await names(location_code="NONE") == []
    assert await names(agent_designation_id="000000001") == []
    assert await names(sort="-name", limit="2") == ["第二の記載変更", "全拠点の移転"]
    bad = await client.get(templates_path(world.a), params={"procedure": "x"}, headers=headers)
    assert _error(bad, "procedure")["code"] == "enum"


async def test_idempotency_key_replays_a_create(world: World, client: httpx.AsyncClient) -> None:
    headers = {**world.a.admin.headers, "Idempotency-Key": "template-1"}
    first = await client.post(templates_path(world.a), json=body(), headers=headers)
    again = await client.post(templates_path(world.a), json=body(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    other = await client.post(templates_path(world.a), json=body(name="別の本文"), headers=headers)
    assert other.status_code == 422
    listed = await client.get(templates_path(world.a), headers=world.a.admin.headers)
    assert listed.json()["total"] == 1


async def test_location_with_templates_cannot_be_deleted(world: World, client: httpx.AsyncClient) -> None:
    headers = world.a.admin.headers
    await client.post(
        f"{world.a.path}/locations",
        json={"code": "L3", "name": "第三拠点", "short_name": "第三"},
        headers=headers,
    )
    first = await create(client, world.a, headers, name="一", location_code="L3")
    await create(client, world.a, headers, name="二", location_code="L3")
    refused = await client.delete(f"{world.a.path}/locations/L3", headers=headers)
    assert refused.status_code == 409
    assert refused.json()["code"] == "location_has_templates"
    assert "2" in refused.json()["detail"]
    await client.delete(f"{templates_path(world.a)}/{first['id']}", headers=headers)
    refused = await client.delete(
        f"{world.a.path}/locations/L3", headers={**headers, "Accept-Language": "en"}
    )
    assert refused.json()["detail"].startswith("1 application templates")
    listed = await client.get(templates_path(world.a), params={"location_code": "L3"}, headers=headers)
    for item in listed.json()["items"]:
        await client.delete(f"{templates_path(world.a)}/{item['id']}", headers=headers)
    assert (await client.delete(f"{world.a.path}/locations/L3", headers=headers)).status_code == 204


async def test_the_documented_example_of_each_procedure_is_accepted(
    world: World, client: httpx.AsyncClient
) -> None:
    document = (await client.get("/openapi.json")).json()
    operation = document["paths"]["/api/v1/organizations/{org_id}/application-templates"]["post"]
    examples = operation["requestBody"]["content"]["application/json"]["examples"]
    assert sorted(examples) == sorted(
        [
            "new_registration",
            "change_registration",
            "transfer_registration",
            "description_change",
            "continuous_inspection",
            "kei_new_inspection",
        ]
    )
    for procedure, example in examples.items():
        assert example["value"]["procedure"] == procedure
        # This world's location, and no designation (the example's does not exist here).
        request = {**example["value"], "location_code": "L1", "agent_designation_id": None}
        response = await client.post(templates_path(world.a), json=request, headers=world.a.admin.headers)
        assert response.status_code == 201, (procedure, response.text)


async def test_every_listed_template_reads_as_it_does_on_its_own(
    world: World, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A single read (and a write's answer) takes its row and its location's code through the
    schema once, and so does the list (app/http/resource.py): each item must be what the single
    read answers, byte for byte what pydantic writes, for templates of a location and of all
    locations, with parties and without, as an admin and a location's admin see them, filtered
    and sorted."""
    headers = world.a.admin.headers
    first = await create(client, world.a, headers, name="第一", use="business", notes="備考")
    await create(client, world.a, headers, name="第二", location_code=None)
    await create(
        client,
        world.a,
        headers,
        name="第三",
        procedure="continuous_inspection",
        owner=None,
        user_same_as_owner=False,
        base_location=None,
        location_code="L2",
    )
    path = f"{templates_path(world.a)}/{first['id']}"
    changed = await client.patch(
        path, json={"location_code": "L2", "notes": None}, headers={**headers, "If-Match": '"1"'}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["location_code"] == "L2"
    assert changed.headers["etag"] == '"2"'
    assert changed.content == (await client.get(path, headers=headers)).content
    copied = await client.post(f"{path}/copy", json={"name": "第一の写し"}, headers=headers)
    assert copied.status_code == 201, copied.text
    assert copied.content == (await client.get(copied.headers["location"], headers=headers)).content
    located = world["location_admin_l1"]
    deep_from_the_second_item(monkeypatch, templates_repository)
    cases: list[tuple[Any, dict[str, str | int], int]] = [
        (world.a.admin, {"limit": 200}, 4),
        (world.a.admin, {"offset": 1, "sort": "location_code"}, 3),
        (world.a.admin, {"offset": 2, "location_code": "L2", "sort": "-updated_at"}, 1),
        (located, {"limit": 200}, 1),
        (world.a.admin, {"location_code": "L2", "sort": "-location_code"}, 3),
        (world.a.admin, {"location_code": ""}, 1),
        (world.a.admin, {"name": "第一", "sort": "-name"}, 2),
        (world.a.admin, {"procedure": "continuous_inspection"}, 1),
    ]
    for caller, params, count in cases:
        listed = await client.get(templates_path(world.a), params=params, headers=caller.headers)
        items = await assert_listed_as_alone(
            client,
            listed,
            ApplicationTemplate,
            lambda item: f"{templates_path(world.a)}/{item['id']}",
            caller.headers,
        )
        assert len(items) == count, params
