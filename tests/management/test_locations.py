"""依頼人拠点: search, add, read, change, delete, and who sees which location."""

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, insert, text

from app.config.clock import ManualClock
from app.locations.schemas import Location
from app.models import Location as LocationRow
from tests.fixtures.listed import assert_listed_as_alone
from tests.fixtures.world import World, add_location


async def test_add_location_answers_201_with_location_and_etag(
    world: World, client: httpx.AsyncClient
) -> None:
    body = {"code": "OSK01", "name": "大阪支店", "short_name": "大阪", "delegate_number": "0123456789"}
    response = await client.post(f"{world.a.path}/locations", json=body, headers=world.a.admin.headers)
    assert response.status_code == 201
    assert response.headers["location"] == f"{world.a.path}/locations/OSK01"
    created = response.json()
    assert {k: created[k] for k in body} == body
    assert response.headers["etag"] == f'"{created["version"]}"'
    read = await client.get(response.headers["location"], headers=world.a.admin.headers)
    assert read.json() == created
    assert read.headers["etag"] == response.headers["etag"]


async def test_input_is_normalized_before_it_is_stored(world: World, client: httpx.AsyncClient) -> None:
    # Decomposed カ + combining voiced mark becomes ガ; ideographic spaces at the ends are trimmed.
    body = {"code": " N01 ", "name": "\u3000名古屋カ\u3099レージ\u3000", "short_name": "名古屋"}
    response = await client.post(f"{world.a.path}/locations", json=body, headers=world.a.admin.headers)
    assert response.status_code == 201
    assert response.json()["name"] == "名古屋ガレージ"
    assert response.json()["code"] == "N01"


@pytest.mark.parametrize(
    ("body", "field", "code", "first_invalid"),
    [
        (
            {"code": "X1", "name": "ｶﾞﾚｰｼﾞ", "short_name": "拠点"},
            "name",
            "not_full_width",
            {"position": 0, "character": "ｶ", "code_point": "U+FF76", "suggestion": "ガ"},
        ),
        (
            {"code": "X1", "name": "拠点", "short_name": "本店-1"},
            "short_name",
            "not_full_width",
            {"position": 2, "character": "-", "code_point": "U+002D", "suggestion": "－"},
        ),
        (
            {"code": "X1", "name": "拠点", "short_name": "拠点", "delegate_number": "１２３"},
            "delegate_number",
            "not_half_width_digits",
            {"position": 0, "character": "１", "code_point": "U+FF11", "suggestion": "1"},
        ),
        (
            {"code": "Ｘ1", "name": "拠点", "short_name": "拠点"},
            "code",
            "invalid_location_code",
            {"position": 0, "character": "Ｘ", "code_point": "U+FF38", "suggestion": "X"},
        ),
        (
            {"code": "X1", "name": "①番店", "short_name": "拠点"},
            "name",
            "not_full_width",
            {"position": 0, "character": "①", "code_point": "U+2460", "suggestion": "１"},
        ),
    ],
)
async def test_rejected_characters_are_named_with_a_fix(
    world: World,
    client: httpx.AsyncClient,
    body: dict[str, str],
    field: str,
    code: str,
    first_invalid: dict[str, object],
) -> None:
    response = await client.post(f"{world.a.path}/locations", json=body, headers=world.a.admin.headers)
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [error["field"] for error in errors] == [field]
    assert errors[0]["code"] == code
    assert errors[0]["invalid_characters"][0] == first_invalid
    english = await client.post(
        f"{world.a.path}/locations", json=body, headers={**world.a.admin.headers, "Accept-Language": "en"}
    )
    assert "invalid_characters" in english.json()["errors"][0]["message"]
    listed = await client.get(f"{world.a.path}/locations", headers=world.a.admin.headers)
    assert listed.json()["total"] == 2


async def test_abbreviation_allows_ten_characters(world: World, client: httpx.AsyncClient) -> None:
    ten = {"code": "T10", "name": "拠点", "short_name": "一二三四五六七八九十"}
    eleven = {"code": "T11", "name": "拠点", "short_name": "一二三四五六七八九十一"}
    assert (
        await client.post(f"{world.a.path}/locations", json=ten, headers=world.a.admin.headers)
    ).status_code == 201
    response = await client.post(f"{world.a.path}/locations", json=eleven, headers=world.a.admin.headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "too_long"


async def test_duplicate_code_is_a_conflict_but_other_organizations_may_reuse_it(
    world: World, client: httpx.AsyncClient
) -> None:
    again = {"code": "L1", "name": "重複", "short_name": "重複"}
    response = await client.post(f"{world.a.path}/locations", json=again, headers=world.a.admin.headers)
    assert response.status_code == 409
    assert response.json()["code"] == "location_code_taken"
    # B also has L1 (world); codes are unique per organization only.
    assert (
        await client.get(f"{world.b.path}/locations/L1", headers=world.b.admin.headers)
    ).status_code == 200


@pytest.mark.postgres_only
async def test_a_new_location_and_its_records_are_one_statement(
    app: FastAPI, world: World, client: httpx.AsyncClient
) -> None:
    """SPEC §5.5: the location, its audit event and its feed entry commit together. On PostgreSQL
    they are one statement that commits by itself: after the caller's read, one round trip (no
    BEGIN, no COMMIT). A taken code writes none of the three."""
    sent: list[str] = []
    watched: set[Any] = set()

    def log(record: Any) -> None:
        sent.append(record.query)

    def watch(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        dbapi_connection.driver_connection.add_query_logger(log)
        watched.add(dbapi_connection.driver_connection)

    engine = app.state.runtime.engine
    body = {"code": "ONE1", "name": "一文拠点", "short_name": "一文"}
    event.listen(engine.sync_engine, "checkout", watch)
    try:
        created = await client.post(f"{world.a.path}/locations", json=body, headers=world.a.admin.headers)
        taken = await client.post(f"{world.a.path}/locations", json=body, headers=world.a.admin.headers)
        await asyncio.sleep(0.01)  # asyncpg calls its query loggers soon after each statement
    finally:
        event.remove(engine.sync_engine, "checkout", watch)
        for driver in watched:
            driver.remove_query_logger(log)
    assert (created.status_code, taken.status_code) == (201, 409)
    assert [query.split()[0].upper() for query in sent] == ["SELECT", "WITH", "SELECT", "WITH"]
    async with engine.connect() as connection:
        for table in ("audit_events", "changes"):
            counted = await connection.execute(
                text(f"SELECT count(*) FROM {table} WHERE resource_id = 'ONE1'")  # noqa: S608
            )
            assert counted.scalar_one() == 1, table


async def test_search_filters_total_sort_and_paging(world: World, client: httpx.AsyncClient) -> None:
    for index in range(3, 8):
        await add_location(client, world.a, f"S{index}", f"検索拠点{chr(0xFF10 + index)}")
    headers = world.a.admin.headers
    everything = await client.get(f"{world.a.path}/locations", headers=headers)
    assert everything.json()["total"] == 7
    assert everything.json()["limit"] == 50
    page = await client.get(
        f"{world.a.path}/locations",
        params={"name": "検索", "limit": 2, "offset": 1, "sort": "-code"},
        headers=headers,
    )
    body = page.json()
    assert body["total"] == 5
    assert [item["code"] for item in body["items"]] == ["S6", "S5"]
    assert (body["limit"], body["offset"]) == (2, 1)
    by_code = await client.get(f"{world.a.path}/locations", params={"code": "l"}, headers=headers)
    assert [item["code"] for item in by_code.json()["items"]] == ["L1", "L2"]
    wildcard = await client.get(f"{world.a.path}/locations", params={"code": "%"}, headers=headers)
    assert wildcard.json()["total"] == 0
    bad_sort = await client.get(f"{world.a.path}/locations", params={"sort": "password"}, headers=headers)
    assert bad_sort.status_code == 422
    assert bad_sort.json()["errors"][0]["code"] == "invalid_sort"
    for params in ({"limit": 0}, {"limit": 201}, {"offset": -1}, {"limit": "ten"}):
        assert (
            await client.get(f"{world.a.path}/locations", params=params, headers=headers)
        ).status_code == 422


async def test_change_name_and_commission_number(world: World, client: httpx.AsyncClient) -> None:
    path = f"{world.a.path}/locations/L1"
    headers = world.a.admin.headers
    etag = (await client.get(path, headers=headers)).headers["etag"]
    changed = await client.patch(
        path, json={"short_name": "第一", "delegate_number": "42"}, headers={**headers, "If-Match": etag}
    )
    assert changed.status_code == 200
    assert changed.json()["short_name"] == "第一"
    assert changed.json()["delegate_number"] == "42"
    assert changed.json()["name"] == "第一拠点"
    cleared = await client.patch(path, json={"delegate_number": None}, headers=headers)
    assert cleared.json()["delegate_number"] is None
    stale = await client.patch(path, json={"name": "古い版"}, headers={**headers, "If-Match": etag})
    assert stale.status_code == 412
    malformed = await client.patch(path, json={"name": "版"}, headers={**headers, "If-Match": "yesterday"})
    assert malformed.status_code == 422
    code_change = await client.patch(path, json={"code": "L9"}, headers=headers)
    assert code_change.status_code == 422
    assert code_change.json()["errors"][0] == {
        "field": "code",
        "code": "immutable_field",
        "message": "この項目は変更できません。",
    }
    unknown = await client.patch(path, json={"organization_id": 2}, headers=headers)
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["code"] == "extra_forbidden"
    assert (await client.get(path, headers=headers)).json()["short_name"] == "第一"


async def test_delete_is_refused_while_users_are_assigned(world: World, client: httpx.AsyncClient) -> None:
    headers = world.a.admin.headers
    refused = await client.delete(f"{world.a.path}/locations/L1", headers=headers)
    assert refused.status_code == 409
    assert refused.json()["code"] == "location_in_use"
    assert "3" in refused.json()["detail"]  # la.l1, submitter.l1, preparer.l1
    await add_location(client, world.a, "EMPTY", "空き拠点")
    etag = (await client.get(f"{world.a.path}/locations/EMPTY", headers=headers)).headers["etag"]
    stale = await client.delete(f"{world.a.path}/locations/EMPTY", headers={**headers, "If-Match": '"999"'})
    assert stale.status_code == 412
    deleted = await client.delete(f"{world.a.path}/locations/EMPTY", headers={**headers, "If-Match": etag})
    assert deleted.status_code == 204
    assert (await client.get(f"{world.a.path}/locations/EMPTY", headers=headers)).status_code == 404


async def test_a_user_with_a_location_sees_only_that_location(
    world: World, client: httpx.AsyncClient
) -> None:
    for name in ("staff_submitter_l1", "staff_preparer_l1", "location_admin_l1"):
        headers = world[name].headers
        listed = await client.get(f"{world.a.path}/locations", headers=headers)
        assert [item["code"] for item in listed.json()["items"]] == ["L1"], name
        assert listed.json()["total"] == 1
        assert (await client.get(f"{world.a.path}/locations/L2", headers=headers)).status_code == 404
    unscoped = await client.get(f"{world.a.path}/locations", headers=world["location_admin_all"].headers)
    assert unscoped.json()["total"] == 2
    linked = await client.get(f"{world.a.path}/locations", headers=world.a.basic())
    assert linked.json()["total"] == 2


async def test_only_admins_and_operators_change_locations(world: World, client: httpx.AsyncClient) -> None:
    body = {"code": "NEW", "name": "新拠点", "short_name": "新拠点"}
    for name in ("location_admin_all", "location_admin_l1", "staff_submitter_l1"):
        response = await client.post(f"{world.a.path}/locations", json=body, headers=world[name].headers)
        assert response.status_code == 403, name
    assert (
        await client.post(f"{world.a.path}/locations", json=body, headers=world.a.basic())
    ).status_code == 403
    assert (
        await client.post(f"{world.a.path}/locations", json=body, headers=world.b.admin.headers)
    ).status_code == 404
    assert (
        await client.post(f"{world.a.path}/locations", json=body, headers=world.operator.headers)
    ).status_code == 201


async def test_deep_pages_read_the_right_rows(app: FastAPI, world: World, client: httpx.AsyncClient) -> None:
    """From offset 1,000 a page is read by its ids first; it must be the same page."""
    now = app.state.runtime.clock.now()
    organization_id = int(world.a.id)
    rows = [
        {
            "organization_id": organization_id,
            "code": f"D{index:05d}",
            "name": "深い拠点",
            "short_name": "深い",
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        for index in range(1100)
    ]
    async with app.state.runtime.sessionmaker() as session:
        await session.execute(insert(LocationRow), rows)
        await session.commit()
    path = f"{world.a.path}/locations"
    headers = world.a.admin.headers
    deep = await client.get(path, params={"offset": 1000, "limit": 5, "sort": "code"}, headers=headers)
    assert deep.json()["total"] == 1102
    assert [item["code"] for item in deep.json()["items"]] == [
        "D01000",
        "D01001",
        "D01002",
        "D01003",
        "D01004",
    ]
    backwards = await client.get(path, params={"offset": 1098, "limit": 50, "sort": "-code"}, headers=headers)
    assert [item["code"] for item in backwards.json()["items"]] == ["D00003", "D00002", "D00001", "D00000"]
    filtered = await client.get(
        path, params={"offset": 1000, "name": "深い", "sort": "code"}, headers=headers
    )
    assert filtered.json()["total"] == 1100
    assert [item["code"] for item in filtered.json()["items"]][:2] == ["D01000", "D01001"]
    past_the_end = await client.get(path, params={"offset": 5000}, headers=headers)
    assert past_the_end.json() == {"items": [], "total": 1102, "limit": 50, "offset": 5000}


async def test_every_listed_location_reads_as_it_does_on_its_own(
    world: World, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    """The list and the single read are written from their rows straight to JSON
    (app/http/pagination.py, app/http/resource.py): each item must be what the single read
    answers, and that must be the bytes pydantic writes for the Location schema."""
    headers = world.a.admin.headers
    await add_location(client, world.a, "ABC12", "品川駅前")
    await add_location(client, world.a, "ST9", "新宿駅")
    clock.advance(timedelta(seconds=1, microseconds=5))  # microseconds in the JSON, too
    changed = await client.patch(
        f"{world.a.path}/locations/ST9",
        json={"delegate_number": "1234567"},
        headers={**headers, "If-Match": '"1"'},
    )
    assert changed.status_code == 200, changed.text
    cases: list[tuple[dict[str, str | int], list[str]]] = [
        ({}, ["ABC12", "L1", "L2", "ST9"]),
        ({"name": "駅"}, ["ABC12", "ST9"]),  # one character: lower() LIKE
        ({"name": "品川駅"}, ["ABC12"]),  # three: ILIKE (trigram-sized)
        ({"code": "abc"}, ["ABC12"]),
        ({"delegate_number": "345"}, ["ST9"]),
        ({"sort": "-updated_at", "limit": 1}, ["ST9"]),
        ({"code": "_"}, []),  # a wildcard character is searched for as itself
        ({"code": "/"}, []),  # and so is the escape character
    ]
    for params, codes in cases:
        listed = await client.get(f"{world.a.path}/locations", params=params, headers=headers)
        items = await assert_listed_as_alone(
            client, listed, Location, lambda item: f"{world.a.path}/locations/{item['code']}", headers
        )
        assert [item["code"] for item in items] == codes, params
