"""利用登録 and 依頼人組織: onboarding, listing, reading and renaming organizations."""

import httpx
import pytest
from fastapi import FastAPI

from app.http.pagination import Page
from app.organizations import repository as organizations_repository
from app.organizations.schemas import Organization
from tests.fixtures.listed import assert_listed_as_alone, deep_from_the_second_item
from tests.fixtures.principals import operator
from tests.fixtures.world import World, first_login, onboard

ONBOARD = {
    "name": "株式会社ＡＩＮＡＳ自動車販売",
    "short_name": "ＡＩＮＡＳ自販",
    "admins": [{"login_id": "yamada.t", "name": "山田 太郎"}, {"login_id": "suzuki.h", "name": "鈴木 花子"}],
}


async def test_onboarding_answers_the_registration_notice_once(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    op = await operator(app, client)
    response = await client.post("/api/v1/organizations", json=ONBOARD, headers=op.headers)
    assert response.status_code == 201
    body = response.json()
    organization = body["organization"]
    notice = body["registration_notice"]
    assert len(organization["id"]) == 9
    assert organization["id"].isdigit()
    assert response.headers["location"] == f"/api/v1/organizations/{organization['id']}"
    assert response.headers["etag"] == f'"{organization["version"]}"'
    assert notice["organization_id"] == organization["id"]
    assert notice["organization_name"] == ONBOARD["name"]
    assert len(notice["api_key"]) == 32
    assert notice["api_key"] == notice["api_key"].upper()
    int(notice["api_key"], 16)
    assert len(notice["api_initial_password"]) >= 16
    assert [(a["login_id"], a["name"]) for a in notice["admins"]] == [
        ("yamada.t", "山田 太郎"),
        ("suzuki.h", "鈴木 花子"),
    ]
    assert all(len(a["initial_password"]) >= 16 for a in notice["admins"])
    assert organization["api_password_changed_at"] is not None

    # The secrets are shown only in that answer.
    read = await client.get(f"/api/v1/organizations/{organization['id']}", headers=op.headers)
    secrets = [notice["api_initial_password"], *(a["initial_password"] for a in notice["admins"])]
    assert not any(secret in read.text for secret in secrets)

    # The initial password is temporary: it only lets the admin change it.
    first = await client.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "password",
            "username": "yamada.t",
            "password": notice["admins"][0]["initial_password"],
        },
    )
    assert first.json()["password_change_required"] is True
    admin = await first_login(client, "suzuki.h", notice["admins"][1]["initial_password"])
    assert (
        await client.get(f"/api/v1/organizations/{organization['id']}", headers=admin.headers)
    ).status_code == 200


async def test_organization_ids_are_never_reused(app: FastAPI, client: httpx.AsyncClient) -> None:
    op = await operator(app, client)
    ids = []
    for index in range(3):
        body = {**ONBOARD, "admins": [{"login_id": f"admin{index}", "name": "管理者"}]}
        response = await client.post("/api/v1/organizations", json=body, headers=op.headers)
        ids.append(response.json()["organization"]["id"])
    assert len(set(ids)) == 3
    assert ids == sorted(ids)


async def test_onboarding_rejects_bad_input_and_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    op = await operator(app, client)
    bad = {"name": "ABC Motors", "short_name": "ＡＩＮＡＳ自動車販売株式会社", "admins": []}
    response = await client.post("/api/v1/organizations", json=bad, headers=op.headers)
    assert response.status_code == 422
    errors = {error["field"]: error for error in response.json()["errors"]}
    assert errors["name"]["code"] == "not_full_width"
    assert errors["name"]["invalid_characters"][0] == {
        "position": 0,
        "character": "A",
        "code_point": "U+0041",
        "suggestion": "Ａ",
    }
    assert errors["name"]["invalid_characters"][3]["suggestion"] == "\u3000"
    assert errors["short_name"]["code"] == "too_long"
    assert errors["admins"]["code"] == "too_short_list"
    duplicate = {
        **ONBOARD,
        "admins": [{"login_id": "same", "name": "一"}, {"login_id": "SAME", "name": "二"}],
    }
    response = await client.post("/api/v1/organizations", json=duplicate, headers=op.headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "admins[1].login_id"
    listed = await client.get("/api/v1/organizations", headers=op.headers)
    assert listed.json()["total"] == 0


async def test_onboarding_with_a_taken_login_id_is_a_conflict(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    op = await operator(app, client)
    await client.post("/api/v1/organizations", json=ONBOARD, headers=op.headers)
    again = {**ONBOARD, "admins": [{"login_id": "YAMADA.T", "name": "別人"}]}
    response = await client.post("/api/v1/organizations", json=again, headers=op.headers)
    assert response.status_code == 409
    assert response.json()["code"] == "login_id_taken"
    assert (await client.get("/api/v1/organizations", headers=op.headers)).json()["total"] == 1


async def test_only_operators_onboard(world: World, client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/organizations", json=ONBOARD, headers=world.a.admin.headers)
    assert response.status_code == 403


async def test_operator_lists_and_searches_all_others_see_their_own(
    world: World, client: httpx.AsyncClient
) -> None:
    everything = await client.get("/api/v1/organizations", headers=world.operator.headers)
    assert everything.json()["total"] == 2
    by_name = await client.get(
        "/api/v1/organizations", params={"name": "べつ"}, headers=world.operator.headers
    )
    assert [item["id"] for item in by_name.json()["items"]] == [world.b.id]
    by_id = await client.get(
        "/api/v1/organizations", params={"id": world.a.id}, headers=world.operator.headers
    )
    assert [item["id"] for item in by_id.json()["items"]] == [world.a.id]
    own = await client.get("/api/v1/organizations", headers=world["staff_preparer_l1"].headers)
    assert [item["id"] for item in own.json()["items"]] == [world.a.id]
    linked = await client.get("/api/v1/organizations", headers=world.a.basic())
    assert [item["id"] for item in linked.json()["items"]] == [world.a.id]


async def test_rename_with_if_match(world: World, client: httpx.AsyncClient) -> None:
    path = world.a.path
    read = await client.get(path, headers=world.a.admin.headers)
    etag = read.headers["etag"]
    renamed = await client.patch(
        path, json={"name": "株式会社新社名"}, headers={**world.a.admin.headers, "If-Match": etag}
    )
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "株式会社新社名"
    assert renamed.headers["etag"] != etag
    stale = await client.patch(
        path, json={"short_name": "新社名"}, headers={**world.a.admin.headers, "If-Match": etag}
    )
    assert stale.status_code == 412
    assert stale.json()["code"] == "precondition_failed"
    assert (await client.get(path, headers=world.a.admin.headers)).json()["short_name"] == "テスト自動車"


async def test_rename_rules(world: World, client: httpx.AsyncClient) -> None:
    path = world.a.path
    assert (
        await client.patch(path, json={"name": "株式会社甲"}, headers=world.operator.headers)
    ).status_code == 200
    assert (
        await client.patch(path, json={"name": "株式会社乙"}, headers=world["location_admin_all"].headers)
    ).status_code == 403
    assert (
        await client.patch(path, json={"name": "株式会社丙"}, headers=world.b.admin.headers)
    ).status_code == 404
    immutable = await client.patch(path, json={"id": "000000009"}, headers=world.a.admin.headers)
    assert immutable.status_code == 422
    assert immutable.json()["errors"][0]["code"] == "immutable_field"
    null_name = await client.patch(path, json={"name": None}, headers=world.a.admin.headers)
    assert null_name.status_code == 422


async def test_malformed_or_foreign_ids_are_not_found(world: World, client: httpx.AsyncClient) -> None:
    for org_id in ("1", "abc", "0000000001", world.b.id, "999999999"):
        response = await client.get(f"/api/v1/organizations/{org_id}", headers=world.a.admin.headers)
        assert response.status_code == 404, org_id


async def test_second_onboarding_helper(app: FastAPI, client: httpx.AsyncClient) -> None:
    op = await operator(app, client)
    org = await onboard(client, op, "helper.admin")
    assert (await client.get(org.path, headers=org.admin.headers)).json()["id"] == org.id


async def test_an_organization_reads_and_changes_from_its_row(
    world: World, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The organization is read and listed from its row (no ORM object) and renamed by one
    versioned UPDATE: each kind of caller reads what the list shows, with `certificate` only for
    operators and admins (for the others, byte for byte: the list is their single reads and
    pydantic's page, deep too); the rename answers what the next read answers, records the
    fields that moved (the feed's entry too), and the name filter finds the new name."""
    path = world.a.path
    deep_from_the_second_item(monkeypatch, organizations_repository)
    cases: list[dict[str, str | int]] = [{}, {"sort": "-short_name"}, {"offset": 1, "sort": "-created_at"}]
    for params in cases:
        everything = await client.get("/api/v1/organizations", params=params, headers=world.operator.headers)
        assert everything.status_code == 200, everything.text
        page = everything.json()
        assert len(page["items"]) == page["total"] - int(params.get("offset", 0)) >= 1
        assert everything.content == Page[Organization].model_validate(page).model_dump_json().encode()
    for caller_headers in (world["staff_preparer_l1"].headers, world.a.basic()):
        own = await client.get("/api/v1/organizations", headers=caller_headers)
        items = await assert_listed_as_alone(client, own, Organization, lambda _: path, caller_headers)
        assert [own_item["id"] for own_item in items] == [world.a.id]
    listed = await client.get(
        "/api/v1/organizations", params={"id": world.a.id}, headers=world.operator.headers
    )
    item = listed.json()["items"][0]
    for caller, certified in (
        (world.operator, True),
        (world.a.admin, True),
        (world["staff_preparer_l1"], False),
    ):
        read = await client.get(path, headers=caller.headers)
        assert read.status_code == 200, read.text
        assert read.headers["etag"] == f'"{item["version"]}"'
        assert read.headers["content-type"] == "application/json"
        body = read.json()
        assert ("certificate" in body) is certified
        assert {name: value for name, value in body.items() if name != "certificate"} == item
        assert "api_password_hash" not in read.text
    linked = await client.get(path, headers=world.a.basic())
    assert linked.status_code == 200
    unchanged = await client.patch(
        path, json={"short_name": item["short_name"]}, headers=world.a.admin.headers
    )
    assert unchanged.status_code == 200
    assert unchanged.headers["etag"] == f'"{item["version"]}"'
    renamed = await client.patch(
        path,
        json={"short_name": "新略称"},
        headers={**world.operator.headers, "If-Match": f'"{item["version"]}"'},
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.headers["etag"] == f'"{item["version"] + 1}"'
    again = await client.get(path, headers=world.operator.headers)
    assert renamed.content == again.content
    assert again.json()["short_name"] == "新略称"
    found = await client.get(
        "/api/v1/organizations", params={"name": "新略称"}, headers=world.operator.headers
    )
    assert [found_item["id"] for found_item in found.json()["items"]] == [world.a.id]
    events = await client.get(
        f"{path}/audit-events",
        params={"resource_type": "organization", "action": "organization.update"},
        headers=world.a.admin.headers,
    )
    assert [event["changes"] for event in events.json()["items"]] == [
        {"short_name": [item["short_name"], "新略称"]}
    ]
    assert (
        await client.get("/api/v1/organizations/999999999", headers=world.operator.headers)
    ).status_code == 404
