"""The change feed (SPEC §5.5) through HTTP, on SQLite and PostgreSQL: what each change says,
paging, stable cursors, the list-then-follow loop, bad and foreign cursors, retention, rollbacks."""

import base64
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from app.config.clock import ManualClock
from app.journal.feed_reader import prune_changes
from tests.changes.feed import changes_path, current_cursor, follow, page, summary
from tests.fixtures.principals import login
from tests.fixtures.world import PASSWORD, World, add_location, post_user


async def read(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def etag(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> str:
    return (await client.get(path, headers=headers)).headers["etag"]


async def test_each_change_carries_the_resource_as_its_get_answered(
    world: World, client: httpx.AsyncClient
) -> None:
    a, admin = world.a, world.a.admin.headers
    start = await current_cursor(client, a, admin)
    expected: list[tuple[str, str, str, Any]] = []
    location = f"{a.path}/locations/F1"
    user = f"{a.path}/users/feed.user"

    created = await client.post(
        f"{a.path}/locations",
        json={"code": "F1", "name": "追跡拠点", "short_name": "追跡", "delegate_number": "123"},
        headers=admin,
    )
    assert created.status_code == 201
    expected.append(("location.created", "location", "F1", await read(client, location, admin)))
    changed = await client.patch(
        location,
        json={"name": "追跡拠点改", "delegate_number": None},
        headers={**admin, "If-Match": await etag(client, location, admin)},
    )
    assert changed.status_code == 200
    expected.append(("location.updated", "location", "F1", await read(client, location, admin)))
    renamed = await client.patch(
        a.path,
        json={"short_name": "改名自動車"},
        headers={**admin, "If-Match": await etag(client, a.path, admin)},
    )
    assert renamed.status_code == 200
    # The organization as a linked system reads it; an admin's answer adds the requester
    # certificate, a resource of its own that is not in the feed.
    as_linked = await read(client, a.path, a.basic())
    assert {**as_linked, "certificate": None} == await read(client, a.path, admin)
    expected.append(("organization.updated", "organization", a.id, as_linked))
    added = await post_user(
        client,
        a,
        admin,
        "feed.user",
        "追跡 太郎",
        "staff_preparer",
        "a temporary passphrase",
        location_code="F1",
    )
    assert added.status_code == 201
    expected.append(("user.created", "user", "feed.user", await read(client, user, admin)))
    moved = await client.patch(
        user,
        json={"location_code": None, "role": "staff_submitter"},
        headers={**admin, "If-Match": await etag(client, user, admin)},
    )
    assert moved.status_code == 200
    expected.append(("user.updated", "user", "feed.user", await read(client, user, admin)))
    assert (await client.delete(user, headers=admin)).status_code == 204
    expected.append(("user.deleted", "user", "feed.user", None))
    assert (await client.delete(location, headers=admin)).status_code == 204
    expected.append(("location.deleted", "location", "F1", None))

    items, end = await follow(client, a, admin, start)
    assert [(*key, item["data"]) for key, item in zip(summary(items), items, strict=True)] == expected
    assert end == items[-1]["cursor"]
    assert all(item["at"] == "2026-04-01T09:00:00Z" for item in items)
    # Never a secret: the temporary password appears nowhere in the feed.
    everything = await page(client, a, admin, start, limit=1000)
    assert "a temporary passphrase" not in str(everything)
    # Nothing else was recorded: a login, a failed login and a key event are not changes.
    await client.post(
        "/api/v1/auth/token", data={"grant_type": "password", "username": "la.l1", "password": "wrong wrong"}
    )
    assert (await client.post(f"{a.path}/api-keys", json={}, headers=admin)).status_code == 201
    assert (await page(client, a, admin, end))["items"] == []


async def test_an_unchanged_patch_writes_no_change(world: World, client: httpx.AsyncClient) -> None:
    start = await current_cursor(client, world.a, world.a.admin.headers)
    same = await client.patch(
        f"{world.a.path}/locations/L1", json={"name": "第一拠点"}, headers=world.a.admin.headers
    )
    assert same.status_code == 200
    assert (await page(client, world.a, world.a.admin.headers, start))["items"] == []


@pytest.mark.parametrize("how", ["basic", "token"])
async def test_linked_systems_see_organization_and_location_changes_only(
    world: World, client: httpx.AsyncClient, how: str
) -> None:
    a, admin = world.a, world.a.admin.headers
    if how == "basic":
        linked = a.basic()
    else:
        token = await client.post(
            "/api/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": a.api_key,
                "client_secret": a.api_password,
            },
        )
        linked = {"Authorization": f"Bearer {token.json()['access_token']}"}
    start = await current_cursor(client, a, linked)
    await add_location(client, a, "LS1", "連携拠点")
    added = await post_user(
        client,
        a,
        admin,
        "hidden.user",
        "見えない",
        "staff_submitter",
        "a temporary passphrase",
        location_code=None,
    )
    assert added.status_code == 201
    renamed = await client.patch(
        a.path,
        json={"name": "株式会社連携自動車"},
        headers={**admin, "If-Match": await etag(client, a.path, admin)},
    )
    assert renamed.status_code == 200

    seen, end = await follow(client, a, linked, start)
    assert summary(seen) == [
        ("location.created", "location", "LS1"),
        ("organization.updated", "organization", a.id),
    ]
    everything, _ = await follow(client, a, admin, start)
    assert [item["action"] for item in everything] == [
        "location.created",
        "user.created",
        "organization.updated",
    ]
    # The same changes, the same cursors: a linked system's cursor means what an admin's means.
    assert [item["cursor"] for item in seen] == [everything[0]["cursor"], everything[2]["cursor"]]

    # Only user changes after the cursor: no items, and the cursor moves past them.
    assert (await client.delete(f"{a.path}/users/hidden.user", headers=admin)).status_code == 204
    hidden = await page(client, a, linked, end)
    assert hidden["items"] == []
    assert hidden["next_cursor"] != end
    assert (await page(client, a, admin, hidden["next_cursor"]))["items"] == []


async def test_small_pages_give_what_one_big_page_gives(world: World, client: httpx.AsyncClient) -> None:
    a, admin = world.a, world.a.admin.headers
    start = await current_cursor(client, a, admin)
    for number in range(7):
        await add_location(client, a, f"P{number}", "頁拠点")
        assert (await client.delete(f"{a.path}/locations/P{number}", headers=admin)).status_code == 204
    big = await page(client, a, admin, start, limit=1000)
    assert len(big["items"]) == 14
    for limit in (1, 2, 3, 5):
        items, end = await follow(client, a, admin, start, limit=limit)
        assert items == big["items"], limit
        assert end == big["next_cursor"]
    # Each item's cursor resumes right after it.
    resumed = await page(client, a, admin, big["items"][5]["cursor"], limit=1000)
    assert resumed["items"] == big["items"][6:]


async def test_the_same_cursor_gives_the_same_answer_until_a_change_commits(
    world: World, client: httpx.AsyncClient
) -> None:
    a, admin = world.a, world.a.admin.headers
    start = await current_cursor(client, a, admin)
    assert await current_cursor(client, a, admin) == start
    await add_location(client, a, "S1", "同一拠点")
    await add_location(client, a, "S2", "同一拠点")
    answers = [
        (await client.get(changes_path(a), params={"after": start, "limit": 1}, headers=admin)).content
        for _ in range(3)
    ]
    assert answers[0] == answers[1] == answers[2]
    whole = await page(client, a, admin, start)
    again = await page(client, a, admin, start)
    assert whole == again
    nothing_new = await page(client, a, admin, whole["next_cursor"])
    assert nothing_new == {"items": [], "next_cursor": whole["next_cursor"]}
    await add_location(client, a, "S3", "同一拠点")
    grown = await page(client, a, admin, start)
    assert grown["items"][:2] == whole["items"]
    assert summary(grown["items"][2:]) == [("location.created", "location", "S3")]


async def test_take_a_cursor_list_then_follow_misses_nothing(world: World, client: httpx.AsyncClient) -> None:
    """The integrator's loop (README): a change made between any two steps is seen."""
    a, linked = world.a, world.a.basic()
    await add_location(client, a, "B0", "前拠点")  # before: the list shows it
    cursor = await current_cursor(client, a, linked)
    await add_location(client, a, "B1", "間拠点")  # between cursor and list: list and feed
    listed = await client.get(f"{a.path}/locations", params={"limit": 200}, headers=linked)
    held = {item["code"]: item for item in listed.json()["items"]}
    await add_location(client, a, "B2", "後拠点")  # after the list: the feed only
    assert (await client.delete(f"{a.path}/locations/B0", headers=a.admin.headers)).status_code == 204

    items, _ = await follow(client, a, linked, cursor)
    for item in items:  # applying a change twice is harmless
        code = item["resource"]["id"]
        if item["data"] is None:
            held.pop(code, None)
        else:
            held[code] = item["data"]
    truth = await client.get(f"{a.path}/locations", params={"limit": 200}, headers=linked)
    assert held == {item["code"]: item for item in truth.json()["items"]}
    assert set(held) == {"L1", "L2", "B1", "B2"}


def _flip(cursor: str) -> str:
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[5] ^= 1  # a bit of the position
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "bad",
    ["x", "not a cursor", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "flipped", "ｃｕｒｓｏｒ", "A" * 300],
)
async def test_a_cursor_the_service_did_not_issue_answers_400(
    world: World, client: httpx.AsyncClient, bad: str
) -> None:
    admin = world.a.admin.headers
    if bad == "flipped":
        bad = _flip(await current_cursor(client, world.a, admin))
    response = await client.get(changes_path(world.a), params={"after": bad}, headers=admin)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "invalid_cursor"
    assert "カーソル" in response.json()["detail"]


async def test_another_organizations_cursor_answers_400(world: World, client: httpx.AsyncClient) -> None:
    op = world.operator.headers
    await add_location(client, world.b, "X1", "他社拠点")
    of_b = await current_cursor(client, world.b, op)
    of_a = await current_cursor(client, world.a, op)
    assert of_a != of_b
    response = await client.get(
        changes_path(world.a), params={"after": of_b}, headers={**op, "Accept-Language": "en"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_cursor"
    assert "not valid here" in response.json()["detail"]
    assert (await client.get(changes_path(world.b), params={"after": of_b}, headers=op)).status_code == 200


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 1001}, {"limit": "many"}, {"wait": -1}, {"wait": 31}, {"wait": "soon"}],
)
async def test_limit_and_wait_are_bounded(
    world: World, client: httpx.AsyncClient, params: dict[str, object]
) -> None:
    start = await current_cursor(client, world.a, world.a.admin.headers)
    response = await client.get(
        changes_path(world.a), params={"after": start, **params}, headers=world.a.admin.headers
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == next(iter(params))


async def test_a_cursor_behind_the_retention_period_answers_410(
    app: FastAPI, world: World, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    a, admin = world.a, world.a.admin.headers
    old = await current_cursor(client, a, admin)
    await add_location(client, a, "R1", "古い拠点")
    kept_from = await current_cursor(client, a, admin)
    clock.advance(timedelta(days=29))
    a.admin = await login(client, "a.admin", PASSWORD)  # the old token expired meanwhile
    await add_location(client, a, "R2", "新しい拠点")
    clock.advance(timedelta(days=2))  # R1's change is 31 days old, R2's 2 days
    admin = (await login(client, "a.admin", PASSWORD)).headers

    assert await prune_changes(app.state.runtime) >= 1
    expired = await client.get(
        changes_path(a), params={"after": old}, headers={**admin, "Accept-Language": "en"}
    )
    assert expired.status_code == 410
    assert expired.json()["code"] == "cursor_expired"
    assert "30 days" in expired.json()["detail"]
    # What is within the period is all there, and a new cursor works.
    assert summary((await page(client, a, admin, kept_from))["items"]) == [
        ("location.created", "location", "R2")
    ]
    assert (await page(client, a, admin, await current_cursor(client, a, admin)))["items"] == []
    # Pruning again removes nothing more.
    assert await prune_changes(app.state.runtime) == 0
    assert (await client.get(changes_path(a), params={"after": old}, headers=admin)).status_code == 410


async def test_retention_is_configurable(
    world: World, client: httpx.AsyncClient, app: FastAPI, clock: ManualClock
) -> None:
    runtime = app.state.runtime
    runtime.settings.change_retention_days = 90
    start = await current_cursor(client, world.a, world.a.admin.headers)
    await add_location(client, world.a, "K1", "長期拠点")
    clock.advance(timedelta(days=60))
    assert await prune_changes(runtime) == 0
    admin = (await login(client, "a.admin", PASSWORD)).headers
    assert len((await page(client, world.a, admin, start))["items"]) == 1


async def test_a_rolled_back_change_never_appears_and_gives_its_number_back(
    app: FastAPI, world: World, client: httpx.AsyncClient
) -> None:
    a, admin = world.a, world.a.admin.headers
    # A change that commits with the request's session (a new location's statement commits by
    # itself: there is no commit of its own to refuse, see test_audit's failing audit insert).
    await add_location(client, a, "RB0", "変わらぬ拠点")
    start = await current_cursor(client, a, admin)
    armed = {"on": True}

    def fail_commit(session: Session) -> None:
        if armed["on"]:
            armed["on"] = False
            raise RuntimeError("commit refused")

    event.listen(Session, "before_commit", fail_commit)
    try:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as failing:
            lost = await failing.patch(f"{a.path}/locations/RB0", json={"name": "消える名前"}, headers=admin)
    finally:
        event.remove(Session, "before_commit", fail_commit)
    assert lost.status_code == 500
    await add_location(client, a, "RB2", "残る拠点")

    items, _ = await follow(client, a, admin, start)
    assert summary(items) == [("location.created", "location", "RB2")]
    engine = app.state.runtime.engine
    async with engine.connect() as connection:
        numbers = (
            (
                await connection.execute(
                    text("SELECT seq FROM changes WHERE organization_id = :id ORDER BY seq"),
                    {"id": int(a.id)},
                )
            )
            .scalars()
            .all()
        )
        last = (
            await connection.execute(
                text("SELECT last FROM change_counters WHERE organization_id = :id"), {"id": int(a.id)}
            )
        ).scalar_one()
    assert list(numbers) == list(range(1, len(numbers) + 1))
    assert last == len(numbers)


async def test_who_reads_the_feed(world: World, client: httpx.AsyncClient) -> None:
    a = world.a
    for caller in ("location_admin_l1", "location_admin_all", "staff_submitter_l1", "staff_preparer_l1"):
        refused = await client.get(changes_path(a), headers=world[caller].headers)
        assert refused.status_code == 403, caller
        assert refused.json()["code"] == "forbidden"
    assert (await client.get(changes_path(a), headers=world.b.admin.headers)).status_code == 404
    assert (await client.get(changes_path(a), headers=world.b.basic())).status_code == 404
    assert (await client.get(changes_path(a))).status_code == 401
    for headers in (world.operator.headers, a.admin.headers, a.basic()):
        assert (await client.get(changes_path(a), headers=headers)).status_code == 200
