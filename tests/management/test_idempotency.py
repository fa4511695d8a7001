"""SPEC §5.3 Idempotency-Key: a retried POST changes nothing and gets the first answer."""

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi.dependencies.models import Dependant

from app.config.clock import ManualClock
from app.idempotency.routing import ResourceRoute
from app.idempotency.service import idempotency
from app.main import create_app
from tests.conftest import make_settings
from tests.fixtures.world import World

BODY = {"code": "IDEM1", "name": "冪等拠点", "short_name": "冪等"}


async def test_retry_with_the_same_key_replays_the_first_answer(
    world: World, client: httpx.AsyncClient
) -> None:
    headers = {**world.a.admin.headers, "Idempotency-Key": "create-IDEM1-attempt"}
    first = await client.post(f"{world.a.path}/locations", json=BODY, headers=headers)
    assert first.status_code == 201
    retry = await client.post(f"{world.a.path}/locations", json=BODY, headers=headers)
    assert retry.status_code == 201
    assert retry.content == first.content
    assert retry.headers["location"] == first.headers["location"]
    assert retry.headers["etag"] == first.headers["etag"]
    assert retry.headers["idempotent-replayed"] == "true"
    listed = await client.get(
        f"{world.a.path}/locations", params={"code": "IDEM"}, headers=world.a.admin.headers
    )
    assert listed.json()["total"] == 1
    audit = await client.get(
        f"{world.a.path}/audit-events", params={"action": "location.create"}, headers=world.a.admin.headers
    )
    assert sum(item["resource"]["id"] == "IDEM1" for item in audit.json()["items"]) == 1


async def test_a_replayed_secret_answer_is_the_same_answer(world: World, client: httpx.AsyncClient) -> None:
    headers = {**world.a.admin.headers, "Idempotency-Key": "reset-1"}
    first = await client.post(f"{world.a.path}/users/preparer.l1/password-reset", headers=headers)
    retry = await client.post(f"{world.a.path}/users/preparer.l1/password-reset", headers=headers)
    assert retry.json()["temporary_password"] == first.json()["temporary_password"]


async def test_same_key_with_another_body_is_refused(world: World, client: httpx.AsyncClient) -> None:
    headers = {**world.a.admin.headers, "Idempotency-Key": "k-1"}
    assert (await client.post(f"{world.a.path}/locations", json=BODY, headers=headers)).status_code == 201
    other = await client.post(f"{world.a.path}/locations", json={**BODY, "code": "IDEM2"}, headers=headers)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert (
        await client.get(f"{world.a.path}/locations/IDEM2", headers=world.a.admin.headers)
    ).status_code == 404


async def test_keys_belong_to_one_principal(world: World, client: httpx.AsyncClient) -> None:
    key = {"Idempotency-Key": "shared-key"}
    first = await client.post(
        f"{world.a.path}/locations", json=BODY, headers={**world.a.admin.headers, **key}
    )
    assert first.status_code == 201
    other = await client.post(
        f"{world.a.path}/locations", json=BODY, headers={**world.operator.headers, **key}
    )
    assert other.status_code == 409  # not a replay: a new request, and the code is taken
    assert other.json()["code"] == "location_code_taken"


async def test_failed_requests_are_not_stored(world: World, client: httpx.AsyncClient) -> None:
    headers = {**world.a.admin.headers, "Idempotency-Key": "after-a-fix"}
    bad = await client.post(f"{world.a.path}/locations", json={**BODY, "name": "bad name"}, headers=headers)
    assert bad.status_code == 422
    fixed = await client.post(f"{world.a.path}/locations", json={**BODY, "name": "良い名前"}, headers=headers)
    assert fixed.status_code == 201


async def test_keys_are_kept_24_hours(world: World, client: httpx.AsyncClient, clock: ManualClock) -> None:
    headers = {**world.a.admin.headers, "Idempotency-Key": "day-old"}
    assert (await client.post(f"{world.a.path}/locations", json=BODY, headers=headers)).status_code == 201
    clock.advance(timedelta(hours=24, seconds=1))
    fresh_login = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": "a.admin", "password": "correct horse battery staple"},
    )
    headers = {"Authorization": f"Bearer {fresh_login.json()['access_token']}", "Idempotency-Key": "day-old"}
    again = await client.post(f"{world.a.path}/locations", json=BODY, headers=headers)
    assert again.status_code == 409  # executed anew: the stored answer had expired


async def test_malformed_keys_are_refused(world: World, client: httpx.AsyncClient) -> None:
    for key in (b"x" * 256, b"tab\there", "日本語".encode()):
        headers: dict[str, str | bytes] = {**world.a.admin.headers, "Idempotency-Key": key}
        response = await client.post(f"{world.a.path}/locations", json=BODY, headers=headers)
        assert response.status_code in (400, 422), key
    assert (
        await client.get(f"{world.a.path}/locations/IDEM1", headers=world.a.admin.headers)
    ).status_code == 404


def _calls(dependant: Dependant) -> list[Any]:
    """Every dependency FastAPI solves for a route, subtrees included, as often as it solves it."""
    return [call for sub in dependant.dependencies for call in (sub.call, *_calls(sub))]


def test_each_post_checks_its_key_once(tmp_path: Path) -> None:
    # Including a router builds its routes again: the key's dependency must not pile up (each
    # copy is solved again, subtree and all, on every POST).
    app = create_app(make_settings(f"sqlite+aiosqlite:///{tmp_path / 'routes.db'}"))
    posts = [route for route in app.routes if isinstance(route, ResourceRoute) and "POST" in route.methods]
    assert posts
    for route in posts:
        assert _calls(route.dependant).count(idempotency) == 1, route.path
