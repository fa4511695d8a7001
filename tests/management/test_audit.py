"""SPEC §2.5: every change writes an audit event in its transaction, never with a secret in it."""

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, text

from app.http.pagination import Page
from app.journal import audit_repository
from app.journal.audit_schemas import AuditEvent
from tests.fixtures.listed import deep_from_the_second_item
from tests.fixtures.world import World


async def events(client: httpx.AsyncClient, world: World, **params: Any) -> list[dict[str, Any]]:
    """The events the list answers; written from their rows, they must be the bytes pydantic writes
    for the page."""
    response = await client.get(
        f"{world.a.path}/audit-events", params={"limit": 200, **params}, headers=world.a.admin.headers
    )
    assert response.status_code == 200, response.text
    assert response.content == Page[AuditEvent].model_validate(response.json()).model_dump_json().encode()
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_a_deep_page_is_the_rest_of_the_list(
    world: World, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deep page (its ids first) shows the same events, nested actor and resource and all, as
    the page read from the start, in each order and with a filter."""
    await client.patch(world.a.path, json={"short_name": "改名"}, headers=world.a.admin.headers)
    for params in ({}, {"sort": "at"}, {"action": "auth."}):
        everything = await events(client, world, **params)
        assert len(everything) >= 3, params
        deep_from_the_second_item(monkeypatch, audit_repository)
        assert await events(client, world, offset=1, **params) == everything[1:]
        monkeypatch.undo()


async def test_every_change_is_recorded(world: World, client: httpx.AsyncClient) -> None:
    headers = world.a.admin.headers
    await client.patch(world.a.path, json={"short_name": "改名"}, headers=headers)
    await client.post(
        f"{world.a.path}/locations",
        json={"code": "A1", "name": "監査拠点", "short_name": "監査"},
        headers=headers,
    )
    await client.patch(f"{world.a.path}/locations/A1", json={"delegate_number": "77"}, headers=headers)
    await client.delete(f"{world.a.path}/locations/A1", headers=headers)
    await client.patch(f"{world.a.path}/users/preparer.l1", json={"name": "新しい名前"}, headers=headers)
    await client.post(f"{world.a.path}/users/preparer.l1/password-reset", headers=headers)
    await client.delete(f"{world.a.path}/users/preparer.l1", headers=headers)
    await client.post(f"{world.a.path}/api-keys", json={"label": "新システム"}, headers=headers)
    await client.put(f"{world.a.path}/api-password", json={}, headers=headers)
    actions = [item["action"] for item in await events(client, world)]
    for action in (
        "organization.create",
        "organization.update",
        "location.create",
        "location.update",
        "location.delete",
        "user.create",
        "user.update",
        "user.password_reset",
        "user.delete",
        "user.password_change",
        "api_key.issue",
        "api_password.change",
        "auth.login",
    ):
        assert action in actions, action
    # The action filter matches any part, ignoring case, with wildcards taken as themselves.
    assert {item["action"] for item in await events(client, world, action="LOCATION.")} == {
        "location.create",
        "location.update",
        "location.delete",
    }
    assert {item["action"] for item in await events(client, world, action="_reset")} == {
        "user.password_reset"
    }
    assert await events(client, world, action="location%update") == []
    update = (await events(client, world, action="location.update"))[0]
    assert update["changes"] == {"delegate_number": [None, "77"]}
    assert update["actor"] == {"kind": "user", "id": "a.admin"}
    assert update["resource"] == {"type": "location", "id": "A1"}
    assert update["request_id"]
    assert update["client_ip"]
    renamed = (await events(client, world, action="user.update"))[0]
    assert renamed["changes"] == {"name": ["利用者 preparer.l1", "新しい名前"]}


async def test_audit_events_carry_no_secret(world: World, client: httpx.AsyncClient) -> None:
    reset = await client.post(f"{world.a.path}/users/la.l1/password-reset", headers=world.a.admin.headers)
    generated = await client.put(f"{world.a.path}/api-password", json={}, headers=world.a.admin.headers)
    response = await client.get(
        f"{world.a.path}/audit-events", params={"limit": 200}, headers=world.a.admin.headers
    )
    text = response.text
    for secret in (
        reset.json()["temporary_password"],
        generated.json()["api_password"],
        world.a.api_password,
        "correct horse",
    ):
        assert secret not in text
    assert "$argon2" not in text


async def test_filters_and_who_may_read(world: World, client: httpx.AsyncClient) -> None:
    logins = await events(client, world, action="auth.login", actor="la.")
    assert logins
    assert {item["actor"]["id"] for item in logins} == {"la.l1", "la.all"}
    users = await events(client, world, resource_type="user")
    assert users
    assert all(item["resource"]["type"] == "user" for item in users)
    newest = users[0]["at"]
    assert await events(client, world, since="2100-01-01T00:00:00Z") == []
    assert len(await events(client, world, until=newest)) < len(await events(client, world))
    for name, status in (
        ("operator", 200),
        ("location_admin_all", 403),
        ("staff_submitter_l1", 403),
        ("other_admin", 404),
    ):
        response = await client.get(f"{world.a.path}/audit-events", headers=world[name].headers)
        assert response.status_code == status, name
    assert (await client.get(f"{world.a.path}/audit-events", headers=world.a.basic())).status_code == 403
    bad = await client.get(
        f"{world.a.path}/audit-events", params={"since": "yesterday"}, headers=world.a.admin.headers
    )
    assert bad.status_code == 422


async def test_events_cannot_be_changed_through_the_api(world: World, client: httpx.AsyncClient) -> None:
    path = f"{world.a.path}/audit-events"
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        response = await client.request(method, path, json={}, headers=world.operator.headers)
        assert response.status_code == 405, method


async def test_a_change_whose_audit_write_fails_is_not_committed(
    app: FastAPI, world: World, client: httpx.AsyncClient
) -> None:
    """Break the audit insert for one request: the location it records must not exist afterwards.

    On PostgreSQL the insert runs on the driver's own path (app/db/prepared.py), which no
    SQLAlchemy event sees: there the database itself refuses it (a trigger made for this test),
    as a failing audit store would; on SQLite the statement goes through SQLAlchemy."""
    engine = app.state.runtime.engine
    on_postgres = engine.dialect.name == "postgresql"

    def fail_audit_insert(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "INSERT INTO AUDIT_EVENTS" in statement.upper():
            raise RuntimeError("audit store unavailable")

    refuse = [
        "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'audit store unavailable'; END $$",
        "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events FOR EACH ROW "
        "WHEN (NEW.resource_id = 'LOST') EXECUTE FUNCTION refuse_audit()",
    ]
    if on_postgres:
        async with engine.begin() as connection:
            for statement in refuse:
                await connection.execute(text(statement))
    else:
        event.listen(engine.sync_engine, "before_cursor_execute", fail_audit_insert)
    try:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as failing:
            response = await failing.post(
                f"{world.a.path}/locations",
                json={"code": "LOST", "name": "消える拠点", "short_name": "消える"},
                headers=world.a.admin.headers,
            )
    finally:
        if on_postgres:
            async with engine.begin() as connection:
                await connection.execute(text("DROP TRIGGER refuse_audit ON audit_events"))
                await connection.execute(text("DROP FUNCTION refuse_audit()"))
        else:
            event.remove(engine.sync_engine, "before_cursor_execute", fail_audit_insert)
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"] == response.json()["request_id"]
    assert "audit store" not in response.text
    assert (
        await client.get(f"{world.a.path}/locations/LOST", headers=world.a.admin.headers)
    ).status_code == 404


@pytest.mark.parametrize("login_id", ["nobody", "la.l1"])
async def test_failed_logins_are_recorded(world: World, client: httpx.AsyncClient, login_id: str) -> None:
    await client.post(
        "/api/v1/auth/token", data={"grant_type": "password", "username": login_id, "password": "nope nope"}
    )
    failures = await events(client, world, action="auth.login_failed")
    if login_id == "la.l1":
        assert failures[0]["actor"]["id"] == "la.l1"
        assert failures[0]["changes"]["reason"] == ["", "wrong_password"]
    else:
        # An unknown login ID belongs to no organization: it is in the service's trail, not A's.
        assert failures == []


async def _single(client: httpx.AsyncClient, world: World, action: str, resource_id: str) -> dict[str, Any]:
    found = [
        item for item in await events(client, world, action=action) if item["resource"]["id"] == resource_id
    ]
    assert len(found) == 1, found
    return found[0]


async def test_create_and_delete_record_every_field_of_the_resource(
    world: World, client: httpx.AsyncClient
) -> None:
    """What a create and a delete record is the resource's whole public form (its GET answer), so a
    field added to the schema is recorded without another change."""
    headers = world.a.admin.headers
    body = {"code": "D1", "name": "削除拠点", "short_name": "削除", "delegate_number": "12"}
    assert (await client.post(f"{world.a.path}/locations", json=body, headers=headers)).status_code == 201
    user = {"login_id": "leaving.one", "name": "退職 一郎", "password": "a long first password"}
    user |= {"location_code": "D1", "role": "staff_preparer"}
    assert (await client.post(f"{world.a.path}/users", json=user, headers=headers)).status_code == 201
    shown_user = (await client.get(f"{world.a.path}/users/leaving.one", headers=headers)).json()
    assert (await client.delete(f"{world.a.path}/users/leaving.one", headers=headers)).status_code == 204
    shown_location = (await client.get(f"{world.a.path}/locations/D1", headers=headers)).json()
    assert (await client.delete(f"{world.a.path}/locations/D1", headers=headers)).status_code == 204

    for resource, id_, shown in (("location", "D1", shown_location), ("user", "leaving.one", shown_user)):
        deleted = await _single(client, world, f"{resource}.delete", id_)
        assert deleted["changes"] == {name: [value, None] for name, value in shown.items()}
        created = await _single(client, world, f"{resource}.create", id_)
        assert set(created["changes"]) == set(shown) - {"updated_at", "version"}
        assert all(before is None for before, _ in created["changes"].values())
    assert (await _single(client, world, "user.create", "leaving.one"))["changes"]["location_code"] == [
        None,
        "D1",
    ]


async def test_an_update_records_the_public_fields_it_changed(
    world: World, client: httpx.AsyncClient
) -> None:
    """A user moved to another location is recorded by location code (what the API shows), not by the
    stored location id; a change to nothing records nothing."""
    headers = world.a.admin.headers
    path = f"{world.a.path}/users/preparer.l1"
    before = (await client.get(path, headers=headers)).json()
    moved = await client.patch(path, json={"location_code": "L2"}, headers=headers)
    assert moved.status_code == 200, moved.text
    event_ = await _single(client, world, "user.update", "preparer.l1")
    # The location's name is part of the public form too (read only: it moves with the code).
    assert event_["changes"] == {
        "location_code": [before["location_code"], "L2"],
        "location_name": [before["location_name"], "第二拠点"],
    }
    same = await client.patch(path, json={"location_code": "L2"}, headers=headers)
    assert same.json()["version"] == moved.json()["version"]
    assert len(await events(client, world, action="user.update")) == 1
