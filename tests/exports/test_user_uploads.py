"""Uploads of users (SPEC §5.6, §4): rows allowed as the JSON API allows them, temporary passwords."""

from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from app.config.clock import ManualClock
from tests.exports.files import USER_HEADER, audit_actions, csv_text, download, upload
from tests.fixtures.principals import token_response
from tests.fixtures.world import World, first_login, post_user
from tests.security.state import differences, snapshot


async def users_of(client: httpx.AsyncClient, world: World) -> dict[str, dict[str, object]]:
    response = await client.get(f"{world.a.path}/users", params={"limit": 200}, headers=world.a.admin.headers)
    assert response.status_code == 200, response.text
    return {item["login_id"]: item for item in response.json()["items"]}


async def test_a_downloaded_file_uploaded_again_changes_nothing(
    app: FastAPI, world: World, client: httpx.AsyncClient
) -> None:
    before = await snapshot(app.state.runtime.engine)
    for caller in (world.a.admin, world.operator, world["location_admin_l1"], world["location_admin_all"]):
        for encoding in ("utf-8", "shift_jis"):
            file = await download(client, world.a, "users", caller.headers, encoding=encoding)
            response = await upload(client, world.a, "users", file.content, caller.headers)
            assert response.status_code == 200, response.text
            body = response.json()
            assert (body["created"], body["updated"], body["temporary_passwords"]) == (0, 0, [])
            assert body["unchanged"] == len(file.content.splitlines()) - 1
    assert differences(before, await snapshot(app.state.runtime.engine)) == []


async def test_new_users_get_temporary_passwords_that_log_in(
    world: World, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    file = csv_text(
        [
            ["role", "login_id", "name", "location_code"],
            ["担当者（送信可）", "new.one", "新人 一郎", "L1"],
            ["staff_preparer", "New.Two", "新人 二郎", ""],
            ["拠点管理者", "new.three", "新人 三郎", "L2"],
        ]
    )
    response = await upload(client, world.a, "users", file, world.a.admin.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["created"], body["updated"], body["unchanged"]) == (3, 0, 0)
    passwords = {entry["login_id"]: entry for entry in body["temporary_passwords"]}
    assert set(passwords) == {"new.one", "New.Two", "new.three"}
    assert {entry["expires_at"] for entry in passwords.values()} == {"2026-04-04T09:00:00Z"}  # 72 hours
    users = await users_of(client, world)
    assert (users["new.one"]["role"], users["new.one"]["location_code"]) == ("staff_submitter", "L1")
    assert (users["New.Two"]["role"], users["New.Two"]["location_code"]) == ("staff_preparer", None)
    assert users["new.three"]["role"] == "location_admin"
    assert all(users[login]["password_change_required"] for login in passwords)
    # The temporary password logs in once, to be changed; then the user works.
    first = await token_response(client, "new.one", passwords["new.one"]["password"])
    assert first.json()["password_change_required"] is True
    caller = await first_login(client, "new.one", passwords["new.one"]["password"])
    assert (await client.get("/api/v1/me", headers=caller.headers)).json()["login_id"] == "new.one"
    # After 72 hours the others' temporary passwords no longer work.
    clock.advance(timedelta(hours=72, seconds=1))
    expired = await token_response(client, "new.three", passwords["new.three"]["password"])
    assert expired.status_code == 400
    assert expired.json()["code"] == "temporary_password_expired"


async def test_updates_name_location_and_role_and_an_empty_location_is_all(
    world: World, client: httpx.AsyncClient
) -> None:
    file = csv_text(
        [
            USER_HEADER,
            ["submitter.l1", "改名 一郎", "L2", "どこでも無視", "担当者（送信不可）", "2000/01/01 00:00"],
            ["preparer.l1", "利用者 preparer.l1", "", "", "担当者（送信不可）", ""],
            ["submitter.l2", "利用者 submitter.l2", "L2", "第二拠点", "担当者（送信可）", ""],
        ]
    )
    response = await upload(client, world.a, "users", file, world.a.admin.headers)
    assert response.status_code == 200, response.text
    assert {key: response.json()[key] for key in ("created", "updated", "unchanged")} == {
        "created": 0,
        "updated": 2,
        "unchanged": 1,
    }
    users = await users_of(client, world)
    assert {key: users["submitter.l1"][key] for key in ("name", "location_code", "role")} == {
        "name": "改名 一郎",
        "location_code": "L2",
        "role": "staff_preparer",
    }
    assert users["preparer.l1"]["location_code"] is None  # 全拠点
    events = await audit_actions(client, world.a, "user.update")
    assert {event["resource"]["id"]: event["changes"] for event in events} == {
        "submitter.l1": {
            "name": ["利用者 submitter.l1", "改名 一郎"],
            "role": ["staff_submitter", "staff_preparer"],
            "location_code": ["L1", "L2"],
            "location_name": ["第一拠点", "第二拠点"],  # part of a user's public form, read only
        },
        "preparer.l1": {"location_code": ["L1", None], "location_name": ["第一拠点", None]},
    }


async def test_every_wrong_row_is_named_and_nothing_changes(
    app: FastAPI, world: World, client: httpx.AsyncClient
) -> None:
    file = csv_text(
        [
            ["ログインID", "ユーザー名", "依頼人拠点コード", "権限"],
            ["good.one", "良い 人", "L1", "担当者（送信可）"],
            ["bad id!", "悪い\x07人", "L1", "担当者"],
            ["b.admin", "他社 管理者", "", "管理者"],
            ["good.two", "良い 人", "NOPE", "staff_submitter"],
            ["GOOD.ONE", "重複", "L1", "staff_submitter"],
            ["new.admin", "管理 花子", "L1", "管理者"],
        ]
    )
    before = await snapshot(app.state.runtime.engine)
    response = await upload(
        client, world.a, "users", file, {**world.a.admin.headers, "Accept-Language": "en"}
    )
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [(e["row"], e["field"], e["code"]) for e in errors] == [
        (3, "login_id", "invalid_login_id"),
        (3, "name", "invalid_characters"),
        (3, "role", "invalid_role"),
        (4, "login_id", "login_id_taken"),
        (5, "location_code", "unknown_location"),
        (6, "login_id", "csv_duplicate_row"),
        (7, "location_code", "admin_has_no_location"),
    ]
    assert errors[0]["invalid_characters"] == [
        {"position": 3, "character": " ", "code_point": "U+0020", "suggestion": None},
        {"position": 6, "character": "!", "code_point": "U+0021", "suggestion": None},
    ]
    assert errors[1]["invalid_characters"][0]["code_point"] == "U+0007"
    assert errors[2]["message"] == "Must be one of admin, location_admin, staff_submitter, staff_preparer."
    assert errors[3]["message"] == "The login ID b.admin is already taken."
    # Nothing changed but the audit event of the login ID found taken elsewhere (issue 25).
    changed = differences(before, await snapshot(app.state.runtime.engine))
    assert [entry.split(":")[0] for entry in changed] == ["audit_events"], changed
    assert "user.import_login_ids_taken" in changed[0]
    assert "b.admin" in changed[0]


async def test_admins_may_not_touch_admin_roles(world: World, client: httpx.AsyncClient) -> None:
    created = await post_user(client, world.a, world.operator.headers, "a.admin2", "管理 次郎", "admin")
    assert created.status_code == 201, created.text
    header = ["login_id", "name", "location_code", "role"]
    refused = csv_text(
        [
            header,
            ["new.admin", "新 管理者", "", "管理者"],
            ["a.admin2", "管理 次郎", "L1", "担当者（送信可）"],
            ["la.all", "利用者 la.all", "", "管理者"],
        ]
    )
    response = await upload(client, world.a, "users", refused, world.a.admin.headers)
    assert [(e["row"], e["field"], e["code"]) for e in response.json()["errors"]] == [
        (2, "role", "role_not_allowed"),
        (3, "role", "role_not_allowed"),
        (4, "role", "role_not_allowed"),
    ]
    # Renaming an admin is allowed (as PATCH allows it); the operator changes admin roles.
    renamed = csv_text([header, ["a.admin2", "管理 改名", "", "管理者"]])
    response = await upload(client, world.a, "users", renamed, world.a.admin.headers)
    assert response.json()["updated"] == 1
    response = await upload(client, world.a, "users", refused, world.operator.headers)
    assert response.status_code == 200, response.text
    assert (response.json()["created"], response.json()["updated"]) == (1, 2)


async def test_the_last_admin_stays(world: World, client: httpx.AsyncClient) -> None:
    file = csv_text([["login_id", "name", "role"], ["a.admin", "管理 太郎", "担当者（送信可）"]])
    response = await upload(client, world.a, "users", file, world.operator.headers)
    assert response.status_code == 422
    assert [(e["row"], e["field"], e["code"]) for e in response.json()["errors"]] == [
        (2, "role", "last_admin")
    ]
    # With a new admin earlier in the same file, the old one may go.
    file = csv_text(
        [
            ["login_id", "name", "role"],
            ["a.new", "新 管理者", "管理者"],
            ["a.admin", "管理 太郎", "担当者（送信可）"],
        ]
    )
    response = await upload(client, world.a, "users", file, world.operator.headers)
    assert response.status_code == 200, response.text
    assert (await users_of(client, world))["a.admin"]["role"] == "staff_submitter"


async def test_a_location_admin_changes_only_staff_of_its_location(
    app: FastAPI, world: World, client: httpx.AsyncClient
) -> None:
    headers = world["location_admin_l1"].headers
    header = ["login_id", "name", "location_code", "role"]
    refused = csv_text(
        [
            header,
            ["la.staff", "拠点 担当", "L1", "担当者（送信可）"],  # allowed
            ["la.other", "他拠点 担当", "L2", "担当者（送信可）"],  # another location: unknown to it
            ["la.all.staff", "全拠点 担当", "", "担当者（送信可）"],  # all locations: beyond its scope
            ["la.boss", "拠点 管理", "L1", "拠点管理者"],  # a role above staff
            ["submitter.l2", "他拠点の人", "L2", "担当者（送信可）"],  # a user it cannot see
            ["submitter.l1", "利用者 submitter.l1", "L1", "拠点管理者"],  # promotion
            ["la.l1", "自分 改名", "L1", "拠点管理者"],  # itself, a location admin
        ]
    )
    before = await snapshot(app.state.runtime.engine)
    response = await upload(client, world.a, "users", refused, headers)
    assert response.status_code == 422, response.text
    assert [(e["row"], e["field"], e["code"]) for e in response.json()["errors"]] == [
        (3, "location_code", "unknown_location"),
        (4, "role", "role_not_allowed"),
        (5, "role", "role_not_allowed"),
        (6, "login_id", "login_id_taken"),
        (7, "role", "role_not_allowed"),
        (8, "role", "role_not_allowed"),
    ]
    changed = differences(before, await snapshot(app.state.runtime.engine))
    assert [entry.split(":")[0] for entry in changed] == ["audit_events"], changed
    assert "user.import_login_ids_taken" in changed[0]
    allowed = csv_text(
        [
            header,
            ["la.staff", "拠点 担当", "L1", "担当者（送信可）"],
            ["preparer.l1", "改名 準備", "L1", "担当者（送信可）"],
        ]
    )
    response = await upload(client, world.a, "users", allowed, headers)
    assert response.status_code == 200, response.text
    assert (response.json()["created"], response.json()["updated"]) == (1, 1)
    assert [entry["login_id"] for entry in response.json()["temporary_passwords"]] == ["la.staff"]
    # A location admin of no location manages staff anywhere, and never location admins.
    response = await upload(
        client,
        world.a,
        "users",
        csv_text([header, ["all.staff", "全拠点 担当", "", "担当者（送信不可）"]]),
        world["location_admin_all"].headers,
    )
    assert response.json()["created"] == 1


async def test_who_may_upload_users(world: World, client: httpx.AsyncClient) -> None:
    file = csv_text([["login_id", "name", "role"], ["w.staff", "権限 確認", "担当者（送信可）"]])
    assert (await upload(client, world.a, "users", file, world.a.basic())).status_code == 403
    assert (
        await upload(client, world.a, "users", file, world["staff_submitter_l1"].headers)
    ).status_code == 403
    assert (await upload(client, world.b, "users", file, world.a.admin.headers)).status_code == 404
    assert (await upload(client, world.b, "users", file, world.operator.headers)).json()["created"] == 1


async def test_temporary_passwords_are_kept_only_sealed(
    app: FastAPI, world: World, client: httpx.AsyncClient
) -> None:
    file = csv_text([["login_id", "name", "role"], ["sealed.one", "封印 一郎", "担当者（送信可）"]])
    headers = {**world.a.admin.headers, "Idempotency-Key": "users-upload-1"}
    first = await upload(client, world.a, "users", file, headers)
    assert first.status_code == 200, first.text
    password = first.json()["temporary_passwords"][0]["password"]
    # A retry answers the same passwords (it created nothing more)...
    again = await upload(client, world.a, "users", file, headers)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    # ...from a record that holds them only encrypted, and no audit event holds them.
    async with app.state.runtime.engine.connect() as connection:
        stored = b"".join(
            bytes(row[0]) for row in await connection.execute(text("SELECT body FROM idempotency_records"))
        )
        audit = "".join(
            str(row[0]) for row in await connection.execute(text("SELECT changes FROM audit_events"))
        )
    assert stored
    assert password.encode() not in stored
    assert password not in audit
    assert (
        len(
            [
                e
                for e in await audit_actions(client, world.a, "user.create")
                if e["resource"]["id"] == "sealed.one"
            ]
        )
        == 1
    )


async def test_dry_run_answers_counts_without_passwords(
    app: FastAPI, world: World, client: httpx.AsyncClient
) -> None:
    file = csv_text(
        [
            ["login_id", "name", "role"],
            ["dry.one", "試し 一郎", "担当者（送信可）"],
            ["la.all", "改名", "拠点管理者"],
        ]
    )
    before = await snapshot(app.state.runtime.engine)
    dry = await upload(client, world.a, "users", file, world.a.admin.headers, dry_run=True)
    assert dry.json() == {
        "created": 1,
        "updated": 1,
        "unchanged": 0,
        "planned": [
            {
                "row": 2,
                "action": "create",
                "key": "dry.one",
                "fields": {
                    "login_id": "dry.one",
                    "name": "試し 一郎",
                    "location_code": None,
                    "role": "staff_submitter",
                },
            },
            {"row": 3, "action": "update", "key": "la.all", "fields": {"name": ["利用者 la.all", "改名"]}},
        ],
        "temporary_passwords": [],
    }
    assert differences(before, await snapshot(app.state.runtime.engine)) == []
    real = await upload(client, world.a, "users", file, world.a.admin.headers)
    assert {key: real.json()[key] for key in ("created", "updated", "unchanged")} == {
        "created": 1,
        "updated": 1,
        "unchanged": 0,
    }
    assert len(real.json()["temporary_passwords"]) == 1
