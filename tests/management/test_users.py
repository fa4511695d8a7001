"""依頼人ユーザー: search, add, read, change, delete, reset a password; the rules of SPEC §4."""

from typing import Any

import httpx
import pytest

from app.users.schemas import User
from tests.fixtures.listed import assert_listed_as_alone
from tests.fixtures.principals import token_response
from tests.fixtures.world import PASSWORD, World, add_user, first_login


def new_user(login_id: str, role: str, location_code: str | None) -> dict[str, Any]:
    return {
        "login_id": login_id,
        "name": "新人 一郎",
        "password": "welcome aboard 2026",
        "location_code": location_code,
        "role": role,
    }


async def test_admin_adds_a_staff_user_with_a_temporary_password(
    world: World, client: httpx.AsyncClient
) -> None:
    response = await client.post(
        f"{world.a.path}/users",
        json=new_user("new.staff", "staff_preparer", "L2"),
        headers=world.a.admin.headers,
    )
    assert response.status_code == 201
    assert response.headers["location"] == f"{world.a.path}/users/new.staff"
    body = response.json()
    assert body["role"] == "staff_preparer"
    assert body["location_code"] == "L2"
    assert body["password_change_required"] is True
    assert body["password_expires_at"] is not None
    assert "password" not in body
    assert "welcome aboard" not in response.text
    login = await token_response(client, "new.staff", "welcome aboard 2026")
    assert login.json()["password_change_required"] is True


async def test_login_ids_are_unique_ignoring_case_across_organizations(
    world: World, client: httpx.AsyncClient
) -> None:
    response = await client.post(
        f"{world.b.path}/users", json=new_user("LA.L1", "staff_preparer", None), headers=world.b.admin.headers
    )
    assert response.status_code == 409
    assert response.json()["code"] == "login_id_taken"


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("login_id", "ab", "too_short"),
        ("login_id", "名前", "invalid_login_id"),
        ("login_id", "a b c", "invalid_login_id"),
        ("name", "", "too_short"),
        ("name", "名前\u0007", "invalid_characters"),
        ("role", "operator", "enum"),
        ("role", "superuser", "enum"),
        ("location_code", "NOPE", "unknown_location"),
        ("password", "short", "password_too_short"),
        ("password", "qwerty123", "password_too_common"),
        ("password", "my-new.staff-pass", "password_contains_login_id"),
    ],
)
async def test_user_fields_are_validated(
    world: World, client: httpx.AsyncClient, field: str, value: str, code: str
) -> None:
    body = {**new_user("new.staff", "staff_preparer", None), field: value}
    response = await client.post(f"{world.a.path}/users", json=body, headers=world.a.admin.headers)
    assert response.status_code == 422, response.text
    assert [(error["field"], error["code"]) for error in response.json()["errors"]] == [(field, code)]


async def test_admins_have_no_location(world: World, client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"{world.a.path}/users", json=new_user("admin2", "admin", "L1"), headers=world.operator.headers
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "admin_has_no_location"


@pytest.mark.parametrize(
    ("caller", "role", "location", "status"),
    [
        ("operator", "admin", None, 201),
        ("admin", "admin", None, 403),
        ("admin", "location_admin", "L2", 201),
        ("admin", "staff_submitter", None, 201),
        ("location_admin_l1", "staff_submitter", "L1", 201),
        ("location_admin_l1", "staff_submitter", "L2", 422),
        ("location_admin_l1", "staff_submitter", None, 403),
        ("location_admin_l1", "location_admin", "L1", 403),
        ("location_admin_all", "staff_preparer", "L2", 201),
        ("location_admin_all", "location_admin", None, 403),
        ("staff_submitter_l1", "staff_preparer", "L1", 403),
        ("other_admin", "staff_preparer", None, 404),
    ],
)
async def test_who_may_add_whom(
    world: World, client: httpx.AsyncClient, caller: str, role: str, location: str | None, status: int
) -> None:
    response = await client.post(
        f"{world.a.path}/users", json=new_user("newcomer", role, location), headers=world[caller].headers
    )
    assert response.status_code == status, response.text
    found = await client.get(f"{world.a.path}/users/newcomer", headers=world.operator.headers)
    assert found.status_code == (200 if status == 201 else 404)


async def test_who_sees_which_users(world: World, client: httpx.AsyncClient) -> None:
    async def visible(name: str) -> set[str]:
        response = await client.get(
            f"{world.a.path}/users", params={"limit": 200}, headers=world[name].headers
        )
        assert response.status_code == 200
        return {item["login_id"] for item in response.json()["items"]}

    everyone = {"a.admin", "la.l1", "la.all", "submitter.l1", "preparer.l1", "submitter.l2"}
    assert await visible("operator") == everyone
    assert await visible("admin") == everyone
    assert await visible("location_admin_all") == everyone
    assert await visible("location_admin_l1") == {"la.l1", "submitter.l1", "preparer.l1"}
    assert await visible("staff_submitter_l1") == {"submitter.l1"}
    assert (
        await client.get(f"{world.a.path}/users/submitter.l2", headers=world["location_admin_l1"].headers)
    ).status_code == 404
    assert (
        await client.get(f"{world.a.path}/users/preparer.l1", headers=world["staff_submitter_l1"].headers)
    ).status_code == 404
    assert (await client.get(f"{world.a.path}/users", headers=world.a.basic())).status_code == 403
    assert (await client.get(f"{world.a.path}/users", headers=world.b.admin.headers)).status_code == 404


async def test_search_filters_with_repeatable_role(world: World, client: httpx.AsyncClient) -> None:
    headers = world.a.admin.headers
    by_role = await client.get(
        f"{world.a.path}/users",
        params=[("role", "staff_submitter"), ("role", "staff_preparer")],
        headers=headers,
    )
    assert {item["login_id"] for item in by_role.json()["items"]} == {
        "submitter.l1",
        "preparer.l1",
        "submitter.l2",
    }
    assert by_role.json()["total"] == 3
    by_location = await client.get(f"{world.a.path}/users", params={"location_code": "L2"}, headers=headers)
    assert [item["login_id"] for item in by_location.json()["items"]] == ["submitter.l2"]
    by_login = await client.get(
        f"{world.a.path}/users", params={"login_id": "L1", "sort": "-login_id"}, headers=headers
    )
    assert [item["login_id"] for item in by_login.json()["items"]] == ["submitter.l1", "preparer.l1", "la.l1"]
    by_name = await client.get(f"{world.a.path}/users", params={"name": "管理"}, headers=headers)
    assert [item["login_id"] for item in by_name.json()["items"]] == ["a.admin"]


async def test_change_name_location_and_role(world: World, client: httpx.AsyncClient) -> None:
    path = f"{world.a.path}/users/submitter.l1"
    headers = world.a.admin.headers
    etag = (await client.get(path, headers=headers)).headers["etag"]
    changed = await client.patch(
        path,
        json={"name": "改名 花子", "location_code": "L2", "role": "staff_preparer"},
        headers={**headers, "If-Match": etag},
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["name"], changed.json()["location_code"], changed.json()["role"]) == (
        "改名 花子",
        "L2",
        "staff_preparer",
    )
    stale = await client.patch(path, json={"name": "古い"}, headers={**headers, "If-Match": etag})
    assert stale.status_code == 412
    to_all = await client.patch(path, json={"location_code": None}, headers=headers)
    assert to_all.json()["location_code"] is None
    immutable = await client.patch(path, json={"login_id": "renamed"}, headers=headers)
    assert immutable.status_code == 422
    assert immutable.json()["errors"][0]["code"] == "immutable_field"
    # The user's own view follows at once: now a preparer for all locations.
    me = await client.get("/api/v1/me", headers=world["staff_submitter_l1"].headers)
    assert (me.json()["role"], me.json()["location_code"]) == ("staff_preparer", None)


@pytest.mark.parametrize(
    ("caller", "target", "body", "status"),
    [
        ("admin", "a.admin", {"name": "管理者 改名"}, 200),
        ("admin", "a.admin", {"role": "staff_submitter"}, 403),
        ("operator", "a.admin", {"role": "staff_submitter"}, 409),
        ("admin", "la.l1", {"role": "admin", "location_code": None}, 403),
        ("location_admin_l1", "submitter.l1", {"role": "staff_preparer"}, 200),
        ("location_admin_l1", "submitter.l1", {"location_code": "L2"}, 422),
        ("location_admin_l1", "submitter.l1", {"role": "location_admin"}, 403),
        ("location_admin_l1", "la.l1", {"name": "自分"}, 403),
        ("location_admin_all", "la.l1", {"name": "同僚"}, 403),
        ("location_admin_all", "submitter.l2", {"location_code": "L1"}, 200),
        ("staff_submitter_l1", "submitter.l1", {"name": "自分"}, 403),
    ],
)
async def test_who_may_change_whom(
    world: World, client: httpx.AsyncClient, caller: str, target: str, body: dict[str, Any], status: int
) -> None:
    response = await client.patch(f"{world.a.path}/users/{target}", json=body, headers=world[caller].headers)
    assert response.status_code == status, response.text


async def test_the_last_admin_stays_and_nobody_deletes_themselves(
    world: World, client: httpx.AsyncClient
) -> None:
    op = world.operator.headers
    demote = await client.patch(f"{world.a.path}/users/a.admin", json={"role": "staff_submitter"}, headers=op)
    assert demote.status_code == 409
    assert demote.json()["code"] == "last_admin"
    delete = await client.delete(f"{world.a.path}/users/a.admin", headers=op)
    assert delete.status_code == 409
    own = await client.delete(f"{world.a.path}/users/a.admin", headers=world.a.admin.headers)
    assert own.status_code == 409
    assert own.json()["code"] == "cannot_delete_self"
    # With a second admin, the first may go.
    second = await client.post(f"{world.a.path}/users", json=new_user("admin.two", "admin", None), headers=op)
    assert second.status_code == 201
    assert (
        await client.patch(f"{world.a.path}/users/a.admin", json={"role": "location_admin"}, headers=op)
    ).status_code == 200
    assert (await client.delete(f"{world.a.path}/users/admin.two", headers=op)).status_code == 409


async def test_delete_users(world: World, client: httpx.AsyncClient) -> None:
    headers = world["location_admin_l1"].headers
    assert (await client.delete(f"{world.a.path}/users/submitter.l2", headers=headers)).status_code == 404
    assert (
        await client.delete(f"{world.a.path}/users/a.admin", headers=world.a.admin.headers)
    ).status_code == 409
    etag = (await client.get(f"{world.a.path}/users/preparer.l1", headers=headers)).headers["etag"]
    assert (
        await client.delete(f"{world.a.path}/users/preparer.l1", headers={**headers, "If-Match": '"77"'})
    ).status_code == 412
    assert (
        await client.delete(f"{world.a.path}/users/preparer.l1", headers={**headers, "If-Match": etag})
    ).status_code == 204
    assert (
        await client.get(f"{world.a.path}/users/preparer.l1", headers=world.a.admin.headers)
    ).status_code == 404
    # A deleted user's token stops working at once.
    assert (await client.get("/api/v1/me", headers=world["staff_preparer_l1"].headers)).status_code == 401
    assert (
        await client.delete(f"{world.a.path}/users/la.l1", headers=world.a.admin.headers)
    ).status_code == 204


async def test_password_reset(world: World, client: httpx.AsyncClient) -> None:
    target = world["staff_submitter_l1"]
    for attempt in range(5):
        await token_response(client, target.login_id, f"wrong {attempt}")
    locked = await token_response(client, target.login_id, PASSWORD)
    assert locked.json()["code"] == "account_locked"

    response = await client.post(
        f"{world.a.path}/users/submitter.l1/password-reset", headers=world["location_admin_l1"].headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["login_id"] == "submitter.l1"
    assert len(body["temporary_password"]) >= 16
    # The reset ends the old session, unlocks, and the temporary password must be changed first.
    assert (await client.get("/api/v1/me", headers=target.headers)).status_code == 401
    assert (await token_response(client, target.login_id, PASSWORD)).status_code == 400
    fresh = await first_login(client, target.login_id, body["temporary_password"], "after the reset 2026")
    assert (await client.get("/api/v1/me", headers=fresh.headers)).status_code == 200


@pytest.mark.parametrize(
    ("caller", "target", "status"),
    [
        ("operator", "a.admin", 200),
        ("admin", "la.l1", 200),
        ("admin", "a.admin", 403),
        ("location_admin_l1", "preparer.l1", 200),
        ("location_admin_l1", "submitter.l2", 404),
        ("location_admin_all", "la.l1", 403),
        ("staff_submitter_l1", "submitter.l1", 403),
        ("other_admin", "submitter.l1", 404),
    ],
)
async def test_who_may_reset_whose_password(
    world: World, client: httpx.AsyncClient, caller: str, target: str, status: int
) -> None:
    response = await client.post(
        f"{world.a.path}/users/{target}/password-reset", headers=world[caller].headers
    )
    assert response.status_code == status


async def test_temporary_password_expires_after_72_hours(
    world: World, client: httpx.AsyncClient, clock: Any
) -> None:
    from datetime import timedelta

    reset = await client.post(
        f"{world.a.path}/users/preparer.l1/password-reset", headers=world.a.admin.headers
    )
    temporary = reset.json()["temporary_password"]
    clock.advance(timedelta(hours=72, seconds=1))
    response = await token_response(client, "preparer.l1", temporary)
    assert response.status_code == 400
    assert response.json()["code"] == "temporary_password_expired"


async def test_add_user_helper_logs_in(world: World, client: httpx.AsyncClient) -> None:
    caller = await add_user(client, world.a, world.a.admin, "helper.user", "staff_preparer", "L1")
    assert (await client.get("/api/v1/me", headers=caller.headers)).json()["login_id"] == "helper.user"


async def test_location_code_filter_is_exact_and_blank_means_all_locations(
    world: World, client: httpx.AsyncClient
) -> None:
    """SPEC §5.2: `location_code` matches exactly (its width aside); `location_code=` finds the
    users of all locations (全拠点)."""
    headers = world.a.admin.headers

    async def found(code: str) -> list[str]:
        response = await client.get(f"{world.a.path}/users", params={"location_code": code}, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["total"] == len(response.json()["items"])
        return sorted(item["login_id"] for item in response.json()["items"])

    assert await found("L1") == ["la.l1", "preparer.l1", "submitter.l1"]
    assert await found("Ｌ１") == ["la.l1", "preparer.l1", "submitter.l1"]
    assert await found("L") == []  # not a partial match
    assert await found("l1") == []  # codes are case-sensitive
    assert await found("ZZ") == []
    assert await found("") == ["a.admin", "la.all"]
    everyone = await client.get(f"{world.a.path}/users", headers=headers)
    assert everyone.json()["total"] == 6


async def test_name_search_matches_any_part_of_any_length(world: World, client: httpx.AsyncClient) -> None:
    """PostgreSQL finds names by one- and two-character grams (migration 0003); the answers are
    those of a plain partial match, on both databases."""
    headers = world.a.admin.headers
    cases = {
        "管理 太": ["a.admin"],  # two words
        "管": ["a.admin"],  # one character
        "SUBMITTER": ["submitter.l1", "submitter.l2"],  # ignoring case
        "用者 s": ["submitter.l1", "submitter.l2"],
        "%": [],  # a wildcard is searched for as itself
    }
    for name, expected in cases.items():
        found = await client.get(f"{world.a.path}/users", params={"name": name}, headers=headers)
        assert found.status_code == 200, found.text
        assert [item["login_id"] for item in found.json()["items"]] == expected, name
        assert found.json()["total"] == len(expected)


async def test_never_logged_in_sorts_as_the_oldest_login(world: World, client: httpx.AsyncClient) -> None:
    headers = world.a.admin.headers
    created = await client.post(
        f"{world.a.path}/users", json=new_user("never.in", "staff_preparer", "L1"), headers=headers
    )
    assert created.status_code == 201, created.text
    newest_first = await client.get(
        f"{world.a.path}/users", params={"sort": "-last_login_at"}, headers=headers
    )
    oldest_first = await client.get(
        f"{world.a.path}/users", params={"sort": "last_login_at"}, headers=headers
    )
    assert newest_first.json()["items"][-1]["login_id"] == "never.in"
    assert newest_first.json()["items"][-1]["last_login_at"] is None
    assert oldest_first.json()["items"][0]["login_id"] == "never.in"


async def test_every_listed_user_reads_as_it_does_on_its_own(world: World, client: httpx.AsyncClient) -> None:
    """The single read is written from its row straight to JSON (app/http/resource.py), the list
    through pydantic: each item must be what the single read answers, byte for byte what pydantic
    writes for the User schema, for users with and without a location, with a temporary password
    and locked out, as each kind of caller sees them."""
    created = await client.post(
        f"{world.a.path}/users",
        json=new_user("Fresh.Case", "staff_submitter", None),
        headers=world.a.admin.headers,
    )
    assert created.status_code == 201, created.text
    for _ in range(6):  # lock it out: locked_until set
        await token_response(client, "fresh.case", "wrong password here")
    located = world["location_admin_l1"]
    for caller in (world.a.admin, located, world.operator):
        listed = await client.get(f"{world.a.path}/users", params={"limit": 200}, headers=caller.headers)
        items = await assert_listed_as_alone(
            client,
            listed,
            User,
            lambda item: f"{world.a.path}/users/{item['login_id'].upper()}",
            caller.headers,
        )
        assert {item["location_code"] is None for item in items} == (
            {True, False} if caller is not located else {False}
        )
    fresh = (await client.get(f"{world.a.path}/users/fresh.case", headers=world.a.admin.headers)).json()
    assert fresh["password_change_required"] is True
    assert fresh["locked_until"] is not None


async def test_every_write_answers_what_the_read_answers(world: World, client: httpx.AsyncClient) -> None:
    """POST and PATCH write the row and answer it without reading it again: the user's location
    code and name come from the location they name. Each answer must be, byte for byte and with
    its ETag, what GET answers next."""
    headers = world.a.admin.headers
    created = await client.post(
        f"{world.a.path}/users", json=new_user("Same.Bytes", "staff_submitter", "L1"), headers=headers
    )
    assert created.status_code == 201, created.text
    assert created.headers["location"].endswith("/users/Same.Bytes")
    path = f"{world.a.path}/users/same.bytes"

    async def read_as(answer: httpx.Response) -> None:
        alone = await client.get(path, headers=headers)
        assert alone.content == answer.content
        assert alone.content == User.model_validate(alone.json()).model_dump_json().encode()
        assert alone.headers["etag"] == answer.headers["etag"] == f'"{alone.json()["version"]}"'

    await read_as(created)
    assert (created.json()["location_code"], created.json()["location_name"]) == ("L1", "第一拠点")
    for body in (
        {"location_code": "L2"},
        {"name": "同じ 二郎", "role": "staff_preparer"},
        {"location_code": None},
        {"location_code": "L1", "name": "同じ 三郎"},
        {"location_code": "L1"},  # nothing changes: the same version answered again
    ):
        etag = (await client.get(path, headers=headers)).headers["etag"]
        changed = await client.patch(path, json=body, headers={**headers, "If-Match": etag})
        assert changed.status_code == 200, changed.text
        await read_as(changed)
    assert changed.headers["etag"] == etag
