"""SPEC §5.2: text filters match partially ignoring width and case (NFKC, case-folded, both sides),
on both databases, and keep doing so after a rename; users carry their location's name."""

import asyncio
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from alembic import command
from sqlalchemy.ext.asyncio import create_async_engine

from app.cli import migrate
from app.db.filters import FilterSet, search_column
from app.locations.schemas import LocationFilters
from app.models import Location
from app.text.rules import search_form
from tests.fixtures.database import scratch_postgres_database
from tests.fixtures.world import World, post_user
from tests.test_migrations import _config


async def _names(client: httpx.AsyncClient, path: str, headers: dict[str, str], **params: str) -> list[str]:
    response = await client.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["total"] == len(body["items"])
    return sorted(item.get("code") or item.get("login_id") or item["id"] for item in body["items"])


async def test_locations_ignore_width_and_case(world: World, client: httpx.AsyncClient) -> None:
    headers = world.a.admin.headers
    path = f"{world.a.path}/locations"
    for body in (
        {"code": "TKY001", "name": "テスト販売店", "short_name": "テスト", "delegate_number": "1001"},
        {"code": "abc7", "name": "ＡＢＣ商会", "short_name": "ＡＢＣ", "delegate_number": "77"},
    ):
        assert (await client.post(path, json=body, headers=headers)).status_code == 201
    cases = {
        ("name", "ﾃｽﾄ"): ["TKY001"],  # half-width kana find full-width
        ("name", "テスト販売"): ["TKY001"],
        ("short_name", "ﾃｽﾄ"): ["TKY001"],
        ("name", "abc"): ["abc7"],  # ASCII finds full-width letters, ignoring case
        ("name", "ａＢｃ商"): ["abc7"],
        ("short_name", "Abc"): ["abc7"],
        ("code", "ｔｋｙ"): ["TKY001"],  # full-width lower case finds TKY
        ("code", "ABC"): ["abc7"],
        ("delegate_number", "００１"): ["TKY001"],  # full-width digits find 1001
        ("delegate_number", "７"): ["abc7"],
        ("name", "拠点"): ["L1", "L2"],
        ("name", "ﾃｽﾄ販売店X"): [],
        ("name", "％"): [],  # a wildcard, also full-width, is searched for as itself
    }
    found = {key: await _names(client, path, headers, **{key[0]: key[1]}) for key in cases}
    assert found == cases


async def test_users_organizations_and_login_ids_ignore_width_and_case(
    world: World, client: httpx.AsyncClient
) -> None:
    headers = world.a.admin.headers
    users = f"{world.a.path}/users"
    for login_id, name in (("kana.user", "ﾃｽﾄ 太郎"), ("latin.user", "ＹＡＭＡＤＡ Hanako")):
        created = await post_user(
            client, world.a, headers, login_id, name, "staff_preparer", location_code="L1"
        )
        assert created.status_code == 201
    cases = {
        ("name", "テスト"): ["kana.user"],  # stored half-width, searched full-width
        ("name", "ﾃｽﾄ"): ["kana.user"],
        ("name", "ﾃ"): ["kana.user"],  # one character (grams on PostgreSQL)
        ("name", "yamada"): ["latin.user"],
        ("name", "ｈａｎａｋｏ"): ["latin.user"],
        ("name", "Ya"): ["latin.user"],
        ("login_id", "ＳＵＢＭＩＴＴＥＲ"): ["submitter.l1", "submitter.l2"],
        ("login_id", "Ｌ２"): ["submitter.l2"],
    }
    found = {key: await _names(client, users, headers, **{key[0]: key[1]}) for key in cases}
    assert found == cases
    operator = world.operator.headers
    organizations = "/api/v1/organizations"
    assert await _names(client, organizations, operator, name="株式会社ﾃｽﾄ") == [world.a.id]
    assert await _names(client, organizations, operator, name="べつの") == [world.b.id]


async def test_search_forms_follow_every_change(world: World, client: httpx.AsyncClient) -> None:
    headers = world.a.admin.headers
    location = f"{world.a.path}/locations/L1"
    etag = (await client.get(location, headers=headers)).headers["etag"]
    renamed = await client.patch(
        location, json={"name": "ガレージ北", "short_name": "ガレージ"}, headers={**headers, "If-Match": etag}
    )
    assert renamed.status_code == 200, renamed.text
    path = f"{world.a.path}/locations"
    assert await _names(client, path, headers, name="ｶﾞﾚｰｼﾞ") == ["L1"]
    assert await _names(client, path, headers, short_name="ｶﾞﾚｰｼﾞ") == ["L1"]
    assert await _names(client, path, headers, name="第一") == []
    user = f"{world.a.path}/users/submitter.l2"
    etag = (await client.get(user, headers=headers)).headers["etag"]
    changed = await client.patch(user, json={"name": "ﾊﾟｰﾂ 担当"}, headers={**headers, "If-Match": etag})
    assert changed.status_code == 200, changed.text
    assert await _names(client, f"{world.a.path}/users", headers, name="パーツ") == ["submitter.l2"]
    organization = world.a.path
    etag = (await client.get(organization, headers=world.operator.headers)).headers["etag"]
    response = await client.patch(
        organization,
        json={"name": "株式会社ＡＩＮＡＳ"},
        headers={**world.operator.headers, "If-Match": etag},
    )
    assert response.status_code == 200, response.text
    assert await _names(client, "/api/v1/organizations", world.operator.headers, name="ainas") == [world.a.id]


async def test_users_carry_their_location_name(world: World, client: httpx.AsyncClient) -> None:
    headers = world.a.admin.headers
    listed = await client.get(f"{world.a.path}/users", params={"sort": "login_id"}, headers=headers)
    names = {item["login_id"]: item["location_name"] for item in listed.json()["items"]}
    assert names == {
        "a.admin": None,
        "la.all": None,
        "la.l1": "第一拠点",
        "preparer.l1": "第一拠点",
        "submitter.l1": "第一拠点",
        "submitter.l2": "第二拠点",
    }
    one = await client.get(f"{world.a.path}/users/submitter.l2", headers=headers)
    assert one.json()["location_name"] == "第二拠点"
    etag = one.headers["etag"]
    moved = await client.patch(
        f"{world.a.path}/users/submitter.l2",
        json={"location_code": "L1"},
        headers={**headers, "If-Match": etag},
    )
    assert (moved.json()["location_code"], moved.json()["location_name"]) == ("L1", "第一拠点")
    created = await post_user(
        client, world.a, headers, "new.staff", "新人", "staff_preparer", location_code="L2"
    )
    assert created.json()["location_name"] == "第二拠点"


def test_a_new_filter_field_needs_no_second_list() -> None:
    """Filters and sort keys come from the filter schema: a field added to it is both."""

    class MoreFilters(LocationFilters):
        created_by_test: str | None = None

    class Row:  # stands in for a model with the new column
        __table__ = Location.__table__
        code = Location.code
        name = Location.name
        short_name = Location.short_name
        name_search = Location.name_search
        short_name_search = Location.short_name_search
        delegate_number = Location.delegate_number
        created_at = Location.created_at
        updated_at = Location.updated_at
        created_by_test = sa.literal_column("created_by_test")

    filters = FilterSet(MoreFilters, Row)
    assert set(filters.sortable) == {
        *LocationFilters.model_fields,
        "created_by_test",
        "created_at",
        "updated_at",
    }
    given = MoreFilters(created_by_test="x")
    [condition] = filters.bound_conditions(filters.shape(given))
    assert "created_by_test" in str(condition)
    assert filters.parameters(given) == {"created_by_test": "%x%"}
    # Names are compared in their search form.
    assert search_column(Location, "name") is Location.name_search
    [by_name] = filters.bound_conditions(filters.shape(MoreFilters(name="ﾃｽﾄ")))
    assert "name_search" in str(by_name)


# -- migration 0006 backfills the search forms of existing rows ----------------------------------


async def _backfilled(url: str) -> dict[str, list[tuple[str, str]]]:
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.execute(
            sa.text(
                "INSERT INTO organizations (id, name, short_name, created_at, updated_at, version) "
                "VALUES (1, '株式会社ＡＢＣ', 'ＡＢＣ', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)"
            )
        )
        await connection.execute(
            sa.text(
                "INSERT INTO locations (id, organization_id, code, name, short_name, created_at, updated_at, version) "
                "VALUES (1, 1, 'L1', 'ガレージ１', 'ガレージ', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)"
            )
        )
        await connection.execute(
            sa.text(
                "INSERT INTO users (id, organization_id, login_id, name, role, password_hash, password_temporary, "
                "password_changed_at, security_stamp, failed_login_count, created_at, updated_at, version) "
                "VALUES (1, 1, 'u1', 'ﾔﾏﾀﾞ Ｈａｎａｋｏ', 'admin', 'x', false, CURRENT_TIMESTAMP, 's', 0, "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)"
            )
        )
    await engine.dispose()
    await asyncio.to_thread(migrate, url)
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        found = {
            "organizations": list(
                (await connection.execute(sa.text("SELECT name, name_search FROM organizations"))).tuples()
            )
            + list(
                (
                    await connection.execute(
                        sa.text("SELECT short_name, short_name_search FROM organizations")
                    )
                ).tuples()
            ),
            "locations": list(
                (await connection.execute(sa.text("SELECT name, name_search FROM locations"))).tuples()
            ),
            "users": list(
                (await connection.execute(sa.text("SELECT name, name_search FROM users"))).tuples()
            ),
        }
    await engine.dispose()
    return found


def _check_backfill(url: str) -> None:
    command.upgrade(_config(url), "0003")
    found = asyncio.run(_backfilled(url))
    assert found == {
        "organizations": [("株式会社ＡＢＣ", "株式会社abc"), ("ＡＢＣ", "abc")],
        "locations": [("ガレージ１", "ガレージ1")],
        "users": [("ﾔﾏﾀﾞ Ｈａｎａｋｏ", "ヤマダ hanako")],
    }
    assert all(search_form(name) == form for rows in found.values() for name, form in rows)


def test_migration_backfills_search_forms_on_sqlite(tmp_path: Path) -> None:
    _check_backfill(f"sqlite+aiosqlite:///{tmp_path / 'backfill.db'}")


def test_migration_backfills_search_forms_on_postgresql() -> None:
    with scratch_postgres_database("ainas_backfill") as url:
        _check_backfill(url)


async def test_names_written_by_a_csv_upload_are_searchable_by_their_search_form(
    world: World, client: httpx.AsyncClient
) -> None:
    """Uploads write many rows at once (COPY, one UPDATE over arrays), past the columns' defaults and
    the mapped objects: the search forms come along all the same (app/db/bulk.py)."""
    headers = {**world.a.admin.headers, "Content-Type": "text/csv"}
    upload = f"{world.a.path}/imports/locations"
    created = await client.post(
        upload, content="code,name,short_name\r\nC9,テスト倉庫,倉庫\r\n".encode(), headers=headers
    )
    assert created.status_code == 200, created.text
    path = f"{world.a.path}/locations"
    assert await _names(client, path, world.a.admin.headers, name="ﾃｽﾄ") == ["C9"]
    renamed = await client.post(
        upload, content="code,name,short_name\r\nC9,ＡＢＣ倉庫,ＡＢＣ\r\n".encode(), headers=headers
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["updated"] == 1
    assert await _names(client, path, world.a.admin.headers, name="ﾃｽﾄ") == []
    assert await _names(client, path, world.a.admin.headers, name="abc") == ["C9"]
    assert await _names(client, path, world.a.admin.headers, short_name="Abc") == ["C9"]
