"""A users upload tells no more about login IDs of other organizations than single creates do
(issue 25, item 3): a file may name only a few taken login IDs, and each such upload is audited."""

import httpx

from app.users.service import MAX_TAKEN_LOGIN_IDS
from tests.exports.files import audit_actions, csv_text, upload
from tests.fixtures.world import World, post_user

HEADER = ["login_id", "name", "location_code", "role"]


async def _others(client: httpx.AsyncClient, world: World, count: int) -> list[str]:
    """Users of organization B (invisible to A)."""
    login_ids = [f"b.user{n}" for n in range(count)]
    for login_id in login_ids:
        created = await post_user(
            client, world.b, world.b.admin.headers, login_id, "別 利用者", "staff_preparer"
        )
        assert created.status_code == 201, created.text
    return login_ids


async def test_a_few_taken_login_ids_are_named_and_audited(world: World, client: httpx.AsyncClient) -> None:
    taken = await _others(client, world, 2)
    file = csv_text(
        [
            HEADER,
            *([login_id, "試し", "L1", "担当者（送信可）"] for login_id in taken),
            ["new.one", "新", "L1", "担当者（送信可）"],
        ]
    )
    response = await upload(client, world.a, "users", file, world["location_admin_l1"].headers, dry_run=True)
    assert response.status_code == 422, response.text
    assert [(e["row"], e["code"]) for e in response.json()["errors"]] == [
        (2, "login_id_taken"),
        (3, "login_id_taken"),
    ]
    (event,) = await audit_actions(client, world.a, "user.import_login_ids_taken")
    assert event["actor"]["id"] == "la.l1"
    assert event["changes"]["login_ids"] == [None, taken]
    assert event["changes"]["count"] == [None, 2]
    assert event["changes"]["dry_run"] == [None, True]


async def test_many_taken_login_ids_are_refused_without_naming_them(
    world: World, client: httpx.AsyncClient
) -> None:
    taken = await _others(client, world, MAX_TAKEN_LOGIN_IDS + 1)
    probes = [[login_id, "試し", "L1", "担当者（送信可）"] for login_id in taken]
    probes += [[f"free.{n}", "試し", "L1", "担当者（送信可）"] for n in range(50)]
    file = csv_text([HEADER, *probes])
    response = await upload(
        client,
        world.a,
        "users",
        file,
        {**world["location_admin_l1"].headers, "Accept-Language": "en"},
        dry_run=True,
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "csv_login_ids_taken"
    assert "errors" not in problem
    assert not any(login_id in response.text for login_id in taken)
    (event,) = await audit_actions(client, world.a, "user.import_login_ids_taken")
    assert event["changes"]["count"] == [None, MAX_TAKEN_LOGIN_IDS + 1]
    assert len(event["changes"]["login_ids"][1]) == MAX_TAKEN_LOGIN_IDS
    # A single create tells one login ID per request, as before.
    single = await post_user(client, world.a, world.a.admin.headers, taken[-1], "試し", "staff_preparer")
    assert (single.status_code, single.json()["code"]) == (409, "login_id_taken")
