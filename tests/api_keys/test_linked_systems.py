"""SPEC §2.4, §5.1: API keys, the API password, and linked systems authenticating with them."""

import base64
from collections import Counter
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.api_keys import repository as api_keys_repository
from app.api_keys.schemas import ApiKey
from app.config.clock import ManualClock
from tests.fixtures.listed import assert_listed_as_alone, deep_from_the_second_item
from tests.fixtures.world import Org, World


def basic(key: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:{password}".encode()).decode()}


async def client_credentials(client: httpx.AsyncClient, key: str, password: str) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "client_credentials", "client_id": key, "client_secret": password},
    )


async def issue(client: httpx.AsyncClient, world: World, label: str | None = None) -> dict[str, Any]:
    response = await client.post(
        f"{world.a.path}/api-keys", json={"label": label}, headers=world.a.admin.headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def put_api_password(
    client: httpx.AsyncClient,
    org: Org,
    current: str,
    headers: dict[str, str],
    new: str = "another api secret",
) -> httpx.Response:
    """PUT the organization's API password from `current` to `new`; the answer, unchecked."""
    return await client.put(
        f"{org.path}/api-password", json={"current_password": current, "new_password": new}, headers=headers
    )


async def test_issue_list_and_revoke(world: World, client: httpx.AsyncClient) -> None:
    key = await issue(client, world, "販売管理システム")
    assert len(key["key"]) == 32
    int(key["key"], 16)
    assert key["key"] == key["key"].upper()
    assert key["created_by"] == "a.admin"
    assert key["revoked_at"] is None
    listed = await client.get(f"{world.a.path}/api-keys", headers=world.a.admin.headers)
    assert listed.json()["total"] == 2
    assert {item["key"] for item in listed.json()["items"]} == {world.a.api_key, key["key"]}
    revoked = await client.delete(f"{world.a.path}/api-keys/{key['id']}", headers=world.a.admin.headers)
    assert revoked.status_code == 204
    again = await client.delete(f"{world.a.path}/api-keys/{key['id']}", headers=world.a.admin.headers)
    assert again.status_code == 204
    listed = await client.get(f"{world.a.path}/api-keys", headers=world.a.admin.headers)
    assert [item["revoked_at"] is not None for item in listed.json()["items"] if item["id"] == key["id"]] == [
        True
    ]
    for key_id in ("999", "abc"):
        assert (
            await client.delete(f"{world.a.path}/api-keys/{key_id}", headers=world.a.admin.headers)
        ).status_code == 404
    other = await client.delete(f"{world.b.path}/api-keys/{key['id']}", headers=world.b.admin.headers)
    assert other.status_code == 404


async def test_two_active_keys_both_work(world: World, client: httpx.AsyncClient) -> None:
    second = await issue(client, world)
    for key in (world.a.api_key, second["key"]):
        response = await client.get(f"{world.a.path}/locations", headers=basic(key, world.a.api_password))
        assert response.status_code == 200
        token = await client_credentials(client, key, world.a.api_password)
        assert token.status_code == 200
        assert "refresh_token" not in token.json() or token.json()["refresh_token"] is None
        me = await client.get(
            "/api/v1/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"}
        )
        assert me.json()["kind"] == "linked_system"
        assert me.json()["organization_id"] == world.a.id


async def test_client_authentication_by_http_basic_at_the_token_endpoint(
    world: World, client: httpx.AsyncClient
) -> None:
    response = await client.post(
        "/api/v1/auth/token", data={"grant_type": "client_credentials"}, headers=world.a.basic()
    )
    assert response.status_code == 200
    wrong = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "client_credentials"},
        headers=basic(world.a.api_key, "wrong one"),
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    assert wrong.headers["www-authenticate"].startswith("Basic")


async def test_revoked_key_fails_at_once_even_after_a_cached_success(
    world: World, client: httpx.AsyncClient
) -> None:
    key = await issue(client, world)
    headers = basic(key["key"], world.a.api_password)
    token = (await client_credentials(client, key["key"], world.a.api_password)).json()["access_token"]
    assert (await client.get(f"{world.a.path}/locations", headers=headers)).status_code == 200
    assert (await client.get(f"{world.a.path}/locations", headers=headers)).status_code == 200
    await client.delete(f"{world.a.path}/api-keys/{key['id']}", headers=world.a.admin.headers)
    response = await client.get(f"{world.a.path}/locations", headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_client"
    assert (await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})).status_code == 401
    assert (await client_credentials(client, key["key"], world.a.api_password)).status_code == 401
    # The other key is untouched.
    assert (await client.get(f"{world.a.path}/locations", headers=world.a.basic())).status_code == 200


async def test_changed_api_password_invalidates_the_cached_path(
    world: World, client: httpx.AsyncClient
) -> None:
    old = world.a.basic()
    token = (await client_credentials(client, world.a.api_key, world.a.api_password)).json()["access_token"]
    assert (await client.get(f"{world.a.path}/locations", headers=old)).status_code == 200
    changed = await client.put(
        f"{world.a.path}/api-password",
        json={"new_password": "the new api password 1"},
        headers=world.a.admin.headers,
    )
    assert changed.status_code == 200
    assert changed.json()["api_password"] is None
    assert (await client.get(f"{world.a.path}/locations", headers=old)).status_code == 401
    assert (await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})).status_code == 401
    new = basic(world.a.api_key, "the new api password 1")
    assert (await client.get(f"{world.a.path}/locations", headers=new)).status_code == 200
    organization = await client.get(world.a.path, headers=world.a.admin.headers)
    assert organization.json()["api_password_changed_at"] == changed.json()["api_password_changed_at"]


async def test_basic_requests_do_not_hash_every_time(
    app: FastAPI, world: World, client: httpx.AsyncClient
) -> None:
    """The keyed digest stands in for argon2 after the first success; a wrong password still costs one."""
    context = app.state.runtime.hasher.context
    calls = {"verify": 0}
    original = context.verify_and_update

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls["verify"] += 1
        return original(*args, **kwargs)

    context.verify_and_update = counting
    try:
        for _ in range(5):
            assert (await client.get(f"{world.a.path}/locations", headers=world.a.basic())).status_code == 200
        assert calls["verify"] <= 1
        assert (
            await client.get(f"{world.a.path}/locations", headers=basic(world.a.api_key, "guess 1"))
        ).status_code == 401
        assert calls["verify"] <= 2
    finally:
        context.verify_and_update = original


async def test_wrong_passwords_are_throttled_not_locked(
    world: World, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    # The linked system has used its credentials before: its digest is known.
    assert (await client.get(f"{world.a.path}/locations", headers=world.a.basic())).status_code == 200
    wrong = basic(world.a.api_key, "not the api password")
    statuses = [(await client.get(f"{world.a.path}/locations", headers=wrong)).status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 401, 429]
    throttled = await client.get(f"{world.a.path}/locations", headers=wrong)
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) == 60
    assert throttled.json()["code"] == "rate_limited"
    # Someone else's guesses do not shut out the linked system that knows the password.
    assert (await client.get(f"{world.a.path}/locations", headers=world.a.basic())).status_code == 200
    token = await client_credentials(client, world.a.api_key, world.a.api_password)
    assert token.status_code == 200
    # A key whose right password was never checked needs argon2, and waits like any guess.
    fresh = await issue(client, world)
    waiting = await client.get(f"{world.a.path}/locations", headers=basic(fresh["key"], world.a.api_password))
    assert waiting.status_code == 429
    clock.advance(timedelta(seconds=61))
    assert (await client.get(f"{world.a.path}/locations", headers=wrong)).status_code == 401
    events = await client.get(
        f"{world.a.path}/audit-events",
        params={"action": "auth.api_key_failed", "limit": 200},
        headers=world.a.admin.headers,
    )
    reasons = Counter(event["changes"]["reason"][1] for event in events.json()["items"])
    assert reasons == {"wrong_api_password": 6, "throttled": 2}


async def test_unknown_key_is_refused_alike(world: World, client: httpx.AsyncClient) -> None:
    unknown = await client.get(f"{world.a.path}/locations", headers=basic("0" * 32, "whatever it is"))
    wrong = await client.get(f"{world.a.path}/locations", headers=basic(world.a.api_key, "whatever it is"))
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json()["code"] == wrong.json()["code"] == "invalid_client"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/users", None),
        ("POST", "/api-keys", {}),
        ("GET", "/api-keys", None),
        ("POST", "/locations", {"code": "X", "name": "拠点", "short_name": "拠点"}),
        ("PATCH", "/locations/L1", {"name": "拠点"}),
        ("DELETE", "/locations/L2", None),
        ("PATCH", "", {"name": "株式会社"}),
        ("GET", "/audit-events", None),
        ("POST", "/users/la.l1/password-reset", None),
    ],
)
async def test_a_linked_system_may_only_read_and_change_its_password(
    world: World, client: httpx.AsyncClient, method: str, path: str, body: dict[str, Any] | None
) -> None:
    response = await client.request(method, f"{world.a.path}{path}", json=body, headers=world.a.basic())
    assert response.status_code == 403, response.text
    other = await client.request(method, f"{world.b.path}{path}", json=body, headers=world.a.basic())
    assert other.status_code == 404


async def test_another_organizations_key_cannot_read(world: World, client: httpx.AsyncClient) -> None:
    for path in ("", "/locations", "/locations/L1"):
        assert (await client.get(f"{world.b.path}{path}", headers=world.a.basic())).status_code == 404
        assert (await client.get(f"{world.a.path}{path}", headers=world.a.basic())).status_code == 200


async def test_linked_system_changes_its_own_password(world: World, client: httpx.AsyncClient) -> None:
    path = f"{world.a.path}/api-password"
    missing = await client.put(path, json={"new_password": "another api secret"}, headers=world.a.basic())
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "current_password"
    wrong = await put_api_password(client, world.a, "nope nope", world.a.basic())
    assert wrong.status_code == 422
    changed = await put_api_password(client, world.a, world.a.api_password, world.a.basic())
    assert changed.status_code == 200
    assert (
        await client.get(world.a.path, headers=basic(world.a.api_key, "another api secret"))
    ).status_code == 200
    common = await client.put(path, json={"new_password": "password1"}, headers=world.a.admin.headers)
    assert common.status_code == 422
    assert common.json()["errors"][0]["code"] == "password_too_common"


async def test_generated_api_password_is_shown_once(world: World, client: httpx.AsyncClient) -> None:
    generated = await client.put(f"{world.a.path}/api-password", json={}, headers=world.a.admin.headers)
    secret = generated.json()["api_password"]
    assert len(secret) >= 24
    assert (await client.get(world.a.path, headers=basic(world.a.api_key, secret))).status_code == 200
    for path in ("", "/api-keys", "/audit-events", "/locations"):
        response = await client.get(f"{world.a.path}{path}", headers=world.a.admin.headers)
        assert secret not in response.text
        assert world.a.api_password not in response.text


async def test_last_used_at_moves_at_most_once_a_minute(
    world: World, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    async def last_used() -> str | None:
        listed = await client.get(f"{world.a.path}/api-keys", headers=world.a.admin.headers)
        value: str | None = next(
            i["last_used_at"] for i in listed.json()["items"] if i["key"] == world.a.api_key
        )
        return value

    await client.get(world.a.path, headers=world.a.basic())
    first = await last_used()
    assert first is not None
    clock.advance(timedelta(seconds=30))
    await client.get(world.a.path, headers=world.a.basic())
    assert await last_used() == first
    clock.advance(timedelta(seconds=31))
    await client.get(world.a.path, headers=world.a.basic())
    assert await last_used() != first


async def test_a_wrong_current_api_password_counts_as_a_failure_of_the_key(
    world: World, client: httpx.AsyncClient
) -> None:
    """SPEC §5.1: a linked system's wrong current_password is counted, throttled and audited as a
    failure of its key; its right credentials keep authenticating it meanwhile."""
    token = (await client_credentials(client, world.a.api_key, world.a.api_password)).json()["access_token"]
    answers = [
        await put_api_password(
            client,
            world.a,
            f"wrong guess {n}",
            world.a.basic() if n % 2 else {"Authorization": f"Bearer {token}"},
        )
        for n in range(7)
    ]
    assert [answer.status_code for answer in answers] == [422, 422, 422, 422, 429, 429, 429]
    assert answers[0].json()["errors"][0]["code"] == "current_password_incorrect"
    assert answers[-1].json()["code"] == "rate_limited"
    assert 0 < int(answers[-1].headers["retry-after"]) <= 60
    # Throttled: the right current password is not checked either, and nothing changed.
    right = await put_api_password(client, world.a, world.a.api_password, world.a.basic())
    assert right.status_code == 429
    assert (await client.get(world.a.path, headers=world.a.basic())).status_code == 200
    events = await client.get(
        f"{world.a.path}/audit-events",
        params={"action": "auth.api_key_failed", "limit": 200},
        headers=world.a.admin.headers,
    )
    items = events.json()["items"]
    key_id = (await client.get("/api/v1/me", headers=world.a.basic())).json()["key_id"]
    assert {item["actor"]["id"] for item in items} == {f"key:{key_id}"}
    assert Counter(item["changes"]["reason"][1] for item in items) == {
        "wrong_current_password": 5,
        "throttled": 3,
    }
    # Guesses through the key's own login are throttled too: the count is the key's.
    assert (await client_credentials(client, world.a.api_key, "one more guess")).status_code == 429


async def test_a_right_current_api_password_gives_its_attempt_back(
    world: World, client: httpx.AsyncClient
) -> None:
    for n in range(4):
        wrong = await put_api_password(client, world.a, f"guess {n}", world.a.basic())
        assert wrong.status_code == 422
    changed = await put_api_password(client, world.a, world.a.api_password, world.a.basic())
    assert changed.status_code == 200
    new = basic(world.a.api_key, "another api secret")
    # The count started again: four more wrong attempts are answered 422, not 429.
    for n in range(4):
        wrong = await put_api_password(client, world.a, f"again {n}", new, "yet another api secret")
        assert wrong.status_code == 422, n


async def test_every_listed_key_reads_as_it_does_on_its_own(
    world: World, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key is read, listed and written from its row (app/http/resource.py): the list must be,
    byte for byte, the single reads of its keys and what pydantic writes for the ApiKey schema,
    before and after a revocation, in every sort and deep; issuing answers what the read
    answers; a revocation is recorded once."""
    headers = world.a.admin.headers
    key = await issue(client, world, "在庫システム")
    alone = await client.get(f"{world.a.path}/api-keys/{key['id']}", headers=headers)
    assert alone.status_code == 200, alone.text
    assert alone.json() == key
    assert "etag" not in alone.headers
    await client.delete(f"{world.a.path}/api-keys/{key['id']}", headers=headers)
    await client.delete(f"{world.a.path}/api-keys/{key['id']}", headers=headers)
    await issue(client, world, None)
    deep_from_the_second_item(monkeypatch, api_keys_repository)
    cases: list[dict[str, str | int]] = [
        {},
        {"sort": "-revoked_at"},
        {"sort": "label"},
        {"offset": 1, "sort": "-created_at"},
    ]
    for params in cases:
        listed = await client.get(f"{world.a.path}/api-keys", params=params, headers=headers)
        items = await assert_listed_as_alone(
            client, listed, ApiKey, lambda item: f"{world.a.path}/api-keys/{item['id']}", headers
        )
        assert len(items) == listed.json()["total"] - int(params.get("offset", 0)) >= 1, params
    listed = await client.get(f"{world.a.path}/api-keys", headers=headers)
    revoked = next(item for item in listed.json()["items"] if item["id"] == key["id"])
    assert revoked["revoked_at"] is not None
    events = await client.get(f"{world.a.path}/audit-events", params={"limit": 200}, headers=headers)
    recorded = [
        item
        for item in events.json()["items"]
        if item["resource"]["id"] == key["id"] and item["resource"]["type"] == "api_key"
    ]
    assert sorted(item["action"] for item in recorded) == ["api_key.issue", "api_key.revoke"]
    assert (
        await client.get(f"{world.b.path}/api-keys/{key['id']}", headers=world.b.admin.headers)
    ).status_code == 404
    assert (await client.get(f"{world.a.path}/api-keys/99999", headers=headers)).status_code == 404
