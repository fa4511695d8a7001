"""Webhook endpoints through the API (SPEC §4, §5.2, §5.7): who may manage them, the secret shown
once and stored sealed, URL and event-type rules, the limit, ETags, Idempotency-Key, audit."""

import base64
import re

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from app.journal.feed import FEED_ACTIONS
from app.webhooks import repository as webhooks_repository
from app.webhooks.schemas import WebhookEndpoint
from tests.fixtures.listed import assert_listed_as_alone, deep_from_the_second_item
from tests.fixtures.world import World
from tests.webhooks.helpers import create_endpoint

URL = "https://localhost/hook"


async def test_create_answers_the_secret_once_and_stores_it_sealed(
    app: FastAPI, client: httpx.AsyncClient, world: World
) -> None:
    created = await client.post(
        f"{world.a.path}/webhook-endpoints",
        json={"url": URL, "description": "販売管理", "event_types": ["location.created"]},
        headers=world.a.admin.headers,
    )
    assert created.status_code == 201, created.text
    endpoint = created.json()
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", endpoint["secret"])
    assert len(base64.b64decode(endpoint["secret"].removeprefix("whsec_"))) == 32
    assert created.headers["Location"].endswith(f"/webhook-endpoints/{endpoint['id']}")
    assert created.headers["ETag"] == '"1"'
    assert endpoint["enabled"] is True
    assert endpoint["disabled_reason"] is None
    assert endpoint["event_types"] == ["location.created"]
    read = await client.get(
        f"{world.a.path}/webhook-endpoints/{endpoint['id']}", headers=world.a.admin.headers
    )
    assert read.status_code == 200
    assert "secret" not in read.json()
    assert read.json() == {name: value for name, value in endpoint.items() if name != "secret"}
    listed = await client.get(f"{world.a.path}/webhook-endpoints", headers=world.a.admin.headers)
    assert listed.json()["total"] == 1
    assert "secret" not in listed.json()["items"][0]
    secret = endpoint["secret"].encode()
    async with app.state.runtime.engine.connect() as connection:
        rows = (await connection.execute(text("SELECT * FROM webhook_endpoints"))).mappings().all()
        events = (await connection.execute(text("SELECT changes FROM audit_events"))).all()
    for value in rows[0].values():
        raw = bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode()
        assert secret not in raw
        assert secret.removeprefix(b"whsec_") not in raw
    assert not any(endpoint["secret"] in str(event) for event in events)


@pytest.mark.parametrize("caller", ["location_admin_all", "staff_submitter_l1"])
async def test_only_admins_and_operators_manage_endpoints(
    client: httpx.AsyncClient, world: World, caller: str
) -> None:
    refused = await client.post(
        f"{world.a.path}/webhook-endpoints", json={"url": URL}, headers=world[caller].headers
    )
    assert refused.status_code == 403
    listed = await client.get(f"{world.a.path}/webhook-endpoints", headers=world[caller].headers)
    assert listed.status_code == 403
    linked = await client.get(f"{world.a.path}/webhook-endpoints", headers=world.a.basic())
    assert linked.status_code == 403
    by_operator = await client.post(
        f"{world.a.path}/webhook-endpoints", json={"url": URL}, headers=world.operator.headers
    )
    assert by_operator.status_code == 201


async def test_another_organizations_endpoint_is_not_found(client: httpx.AsyncClient, world: World) -> None:
    endpoint = await create_endpoint(client, world.a, URL)
    other = await client.get(
        f"{world.b.path}/webhook-endpoints/{endpoint['id']}", headers=world.b.admin.headers
    )
    assert other.status_code == 404
    foreign = await client.get(f"{world.b.path}/webhook-endpoints", headers=world.a.admin.headers)
    assert foreign.status_code == 404


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://localhost/hook", "scheme"),
        ("https://user:pw@localhost/hook", "userinfo"),
        ("https://example.com/hook", "host_not_allowed"),
        ("https://", "malformed"),
    ],
)
async def test_urls_that_may_not_be_sent_to_are_refused(
    client: httpx.AsyncClient, world: World, url: str, reason: str
) -> None:
    refused = await client.post(
        f"{world.a.path}/webhook-endpoints", json={"url": url}, headers=world.a.admin.headers
    )
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["code"] == "webhook_url_not_allowed"
    assert problem["errors"][0]["field"] == "url"
    assert problem["errors"][0]["code"] == "webhook_url_not_allowed"


async def test_a_url_longer_than_2000_characters_is_refused(client: httpx.AsyncClient, world: World) -> None:
    url = "https://localhost/" + "a" * 1983
    assert len(url) == 2001
    refused = await client.post(
        f"{world.a.path}/webhook-endpoints", json={"url": url}, headers=world.a.admin.headers
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "url"
    accepted = await client.post(
        f"{world.a.path}/webhook-endpoints", json={"url": url[:-1]}, headers=world.a.admin.headers
    )
    assert accepted.status_code == 201


async def test_event_types_are_feed_actions(client: httpx.AsyncClient, world: World) -> None:
    refused = await client.post(
        f"{world.a.path}/webhook-endpoints",
        json={"url": URL, "event_types": ["location.created", "location.exploded"]},
        headers=world.a.admin.headers,
    )
    assert refused.status_code == 422
    error = refused.json()["errors"][0]
    assert error["field"] == "event_types.1"
    assert error["code"] == "webhook_event_type_unknown"
    every = sorted(set(FEED_ACTIONS.values()))
    accepted = await create_endpoint(client, world.a, URL, event_types=every)
    assert accepted["event_types"] == every


async def test_at_most_10_endpoints_per_organization(client: httpx.AsyncClient, world: World) -> None:
    for _ in range(10):
        await create_endpoint(client, world.a, URL)
    refused = await client.post(
        f"{world.a.path}/webhook-endpoints", json={"url": URL}, headers=world.a.admin.headers
    )
    assert refused.status_code == 409
    assert refused.json()["code"] == "webhook_endpoint_limit_reached"
    assert (await create_endpoint(client, world.b, URL))["enabled"] is True


async def test_patch_and_delete_take_if_match_and_are_audited(
    client: httpx.AsyncClient, world: World
) -> None:
    endpoint = await create_endpoint(client, world.a, URL)
    path = f"{world.a.path}/webhook-endpoints/{endpoint['id']}"
    stale = await client.patch(
        path, json={"description": "新"}, headers={**world.a.admin.headers, "If-Match": '"9"'}
    )
    assert stale.status_code == 412
    changed = await client.patch(
        path,
        json={"description": "新", "enabled": False, "url": "https://127.0.0.1/other"},
        headers={**world.a.admin.headers, "If-Match": '"1"'},
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["ETag"] == '"2"'
    assert changed.json()["enabled"] is False
    assert changed.json()["url"] == "https://127.0.0.1/other"
    null_url = await client.patch(path, json={"url": None}, headers=world.a.admin.headers)
    assert null_url.status_code == 422
    rotated = await client.post(f"{path}/rotate-secret", headers=world.a.admin.headers)
    assert rotated.headers["ETag"] == '"3"'
    deleted = await client.delete(path, headers={**world.a.admin.headers, "If-Match": '"3"'})
    assert deleted.status_code == 204
    assert (await client.get(path, headers=world.a.admin.headers)).status_code == 404
    events = await client.get(
        f"{world.a.path}/audit-events",
        params={"resource_type": "webhook_endpoint"},
        headers=world.a.admin.headers,
    )
    actions = sorted(event["action"] for event in events.json()["items"])
    assert actions == [
        "webhook_endpoint.create",
        "webhook_endpoint.delete",
        "webhook_endpoint.disable",
        "webhook_endpoint.rotate_secret",
    ]
    assert all(rotated.json()["secret"] not in str(event) for event in events.json()["items"])


async def test_a_repeated_idempotency_key_answers_the_same_endpoint_once(
    client: httpx.AsyncClient, world: World
) -> None:
    headers = {**world.a.admin.headers, "Idempotency-Key": "create-hook-1"}
    first = await client.post(f"{world.a.path}/webhook-endpoints", json={"url": URL}, headers=headers)
    again = await client.post(f"{world.a.path}/webhook-endpoints", json={"url": URL}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    listed = await client.get(f"{world.a.path}/webhook-endpoints", headers=world.a.admin.headers)
    assert listed.json()["total"] == 1


async def test_recover_refuses_a_cursor_past_retention(
    app: FastAPI, client: httpx.AsyncClient, world: World
) -> None:
    endpoint = await create_endpoint(client, world.a, URL)
    start = (await client.get(f"{world.a.path}/changes", headers=world.a.admin.headers)).json()["next_cursor"]
    for code in ("R1", "R2"):
        created = await client.post(
            f"{world.a.path}/locations",
            json={"code": code, "name": "拠点", "short_name": "拠点"},
            headers=world.a.admin.headers,
        )
        assert created.status_code == 201
    async with app.state.runtime.engine.begin() as connection:
        await connection.execute(text("UPDATE change_counters SET pruned_through = last"))
    path = f"{world.a.path}/webhook-endpoints/{endpoint['id']}/recover"
    expired = await client.post(path, json={"after": start}, headers=world.a.admin.headers)
    assert expired.status_code == 410
    assert expired.json()["code"] == "cursor_expired"
    foreign = (await client.get(f"{world.b.path}/changes", headers=world.b.admin.headers)).json()[
        "next_cursor"
    ]
    invalid = await client.post(path, json={"after": foreign}, headers=world.a.admin.headers)
    assert invalid.status_code == 400
    assert invalid.json()["code"] == "invalid_cursor"


async def test_every_listed_endpoint_reads_as_it_does_on_its_own(
    client: httpx.AsyncClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The list is read from rows as the single read is (app/http/resource.py): byte for byte the
    single reads of its endpoints, with their ETags, and what pydantic writes for the schema,
    never a secret, in both orders and deep."""
    headers = world.a.admin.headers
    first = await create_endpoint(client, world.a, URL, description="販売")
    await create_endpoint(client, world.a, f"{URL}/2", event_types=["user.created"])
    await create_endpoint(client, world.a, f"{URL}/3", description=None)
    path = f"{world.a.path}/webhook-endpoints"
    changed = await client.patch(f"{path}/{first['id']}", json={"enabled": False}, headers=headers)
    assert changed.status_code == 200, changed.text
    deep_from_the_second_item(monkeypatch, webhooks_repository)
    cases: list[tuple[dict[str, str | int], int]] = [
        ({}, 3),
        ({"sort": "-created_at"}, 3),
        ({"offset": 1}, 2),
        ({"offset": 2, "sort": "-created_at", "limit": 1}, 1),
    ]
    for params, count in cases:
        listed = await client.get(path, params=params, headers=headers)
        items = await assert_listed_as_alone(
            client, listed, WebhookEndpoint, lambda item: f"{path}/{item['id']}", headers
        )
        assert len(items) == count, params
        assert "secret" not in listed.text


async def test_an_endpoint_reads_and_changes_from_its_row(client: httpx.AsyncClient, world: World) -> None:
    """One endpoint is read and written from its row (app/http/resource.py): what the list shows,
    byte for byte what pydantic writes for the schema, never the secret; a change and a deletion
    record the public fields that moved (bookkeeping left out), and a no-op changes nothing."""
    headers = world.a.admin.headers
    created = await create_endpoint(
        client, world.a, URL, description="販売", event_types=["location.created", "user.created"]
    )
    path = f"{world.a.path}/webhook-endpoints/{created['id']}"
    alone = await client.get(path.lower(), headers=headers)
    assert alone.status_code == 200, alone.text
    assert alone.headers["etag"] == '"1"'
    assert alone.json() == {name: value for name, value in created.items() if name != "secret"}
    assert alone.content == WebhookEndpoint.model_validate(alone.json()).model_dump_json().encode()
    listed = await client.get(f"{world.a.path}/webhook-endpoints", headers=headers)
    assert listed.json()["items"] == [alone.json()]
    same = await client.patch(path, json={"description": "販売"}, headers=headers)
    assert same.status_code == 200
    assert same.content == alone.content
    assert same.headers["etag"] == '"1"'
    changed = await client.patch(
        path, json={"event_types": ["user.created", "user.created"], "enabled": True}, headers=headers
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["etag"] == '"2"'
    assert changed.json()["event_types"] == ["user.created"]
    assert changed.content == WebhookEndpoint.model_validate(changed.json()).model_dump_json().encode()
    assert (await client.get(path, headers=headers)).content == changed.content
    disabled = await client.patch(path, json={"enabled": False}, headers=headers)
    assert disabled.headers["etag"] == '"3"'
    stale = await client.delete(path, headers={**headers, "If-Match": '"2"'})
    assert stale.status_code == 412
    assert (await client.delete(path, headers={**headers, "If-Match": '"3"'})).status_code == 204
    events = await client.get(
        f"{world.a.path}/audit-events",
        params={"resource_type": "webhook_endpoint", "sort": "at"},
        headers=headers,
    )
    changes = {event["action"]: event["changes"] for event in events.json()["items"]}
    assert changes["webhook_endpoint.update"] == {
        "event_types": [["location.created", "user.created"], ["user.created"]]
    }
    assert changes["webhook_endpoint.disable"] == {"enabled": [True, False]}
    shown = {name: value for name, value in disabled.json().items() if name not in ("updated_at", "version")}
    assert changes["webhook_endpoint.delete"] == {name: [value, None] for name, value in shown.items()}
    assert all("secret" not in str(event) for event in events.json()["items"])
    assert (await client.get(path, headers=headers)).status_code == 404
