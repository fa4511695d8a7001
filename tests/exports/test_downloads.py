"""CSV downloads (SPEC §5.6): format, encodings, the list's filters and scope, formula injection."""

from datetime import UTC, datetime, timedelta

import httpx

from app.config.clock import ManualClock
from tests.exports.files import LOCATION_HEADER, USER_HEADER, csv_text, download, parse, upload
from tests.fixtures.principals import login
from tests.fixtures.world import PASSWORD, World, add_location, post_user


async def test_locations_as_excel_reads_them(
    world: World, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    patched = await client.patch(
        f"{world.a.path}/locations/L2", json={"delegate_number": "1234567"}, headers=world.a.admin.headers
    )
    assert patched.status_code == 200, patched.text
    # 16:30 UTC is already the next day in Japan: the file is named by the Japanese date.
    clock.advance(timedelta(hours=7, minutes=30))
    admin = await login(client, "a.admin", PASSWORD)
    response = await download(client, world.a, "locations", admin.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert (
        response.headers["content-disposition"]
        == f'attachment; filename="locations_{world.a.id}_20260402.csv"'
    )
    assert response.headers["cache-control"] == "no-store"
    body = response.content
    assert body.startswith(b"\xef\xbb\xbf")  # the byte-order mark Excel needs to read UTF-8
    assert body.count(b"\r\n") == 3  # CRLF line ends, and no other
    assert body.count(b"\n") == 3
    assert body.endswith(b"\r\n")
    assert parse(body) == [
        LOCATION_HEADER,
        ["L1", "第一拠点", "第一拠点", ""],
        ["L2", "第二拠点", "第二拠点", "1234567"],
    ]


async def test_shift_jis_is_cp932_without_a_byte_order_mark(world: World, client: httpx.AsyncClient) -> None:
    # ～ (U+FF5E) is how Windows types the wave dash; CP932 writes it as 0x8160.
    created = await client.post(
        f"{world.a.path}/locations",
        json={"code": "W1", "name": "波～拠点", "short_name": "波"},
        headers=world.a.admin.headers,
    )
    assert created.status_code == 201, created.text
    response = await download(client, world.a, "locations", world.a.admin.headers, encoding="shift_jis")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=Shift_JIS"
    assert not response.content.startswith(b"\xef\xbb\xbf")
    assert "依頼人拠点コード".encode("cp932") in response.content
    assert b"\x94\x67\x81\x60" in response.content  # 波～ in CP932
    assert parse(response.content, "cp932")[0] == LOCATION_HEADER
    assert ["W1", "波～拠点", "波", ""] in parse(response.content, "cp932")


async def test_users_with_role_labels_and_japan_time(
    world: World, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    response = await download(client, world.a, "users", world.a.admin.headers)
    assert response.status_code == 200, response.text
    assert (
        response.headers["content-disposition"] == f'attachment; filename="users_{world.a.id}_20260401.csv"'
    )
    rows = parse(response.content)
    assert rows[0] == USER_HEADER
    by_login = {row[0]: row for row in rows[1:]}
    # Every user of the world logged in at 09:00 UTC: 18:00 in Japan.
    assert by_login["a.admin"] == ["a.admin", "管理 太郎", "", "", "管理者", "2026/04/01 18:00"]
    assert by_login["la.l1"][2:5] == ["L1", "第一拠点", "拠点管理者"]
    assert by_login["submitter.l1"][4] == "担当者（送信可）"
    assert by_login["preparer.l1"][4] == "担当者（送信不可）"
    assert [row[0] for row in rows[1:]] == sorted(by_login)  # login ID order
    # A user who never logged in has an empty 最終ログイン日時.
    created = await post_user(
        client, world.a, world.a.admin.headers, "never.in", "未 ログイン", "staff_preparer"
    )
    assert created.status_code == 201, created.text
    rows = parse((await download(client, world.a, "users", world.a.admin.headers)).content)
    assert next(row for row in rows if row[0] == "never.in")[2:] == ["", "", "担当者（送信不可）", ""]
    assert datetime(2026, 4, 1, 9, tzinfo=UTC) == clock.now()


async def test_the_lists_filters_apply(world: World, client: httpx.AsyncClient) -> None:
    await add_location(client, world.a, "X9", "第九倉庫")
    rows = parse((await download(client, world.a, "locations", world.a.admin.headers, name="拠点")).content)
    assert [row[0] for row in rows[1:]] == ["L1", "L2"]
    rows = parse((await download(client, world.a, "locations", world.a.admin.headers, code="x")).content)
    assert [row[0] for row in rows[1:]] == ["X9"]
    rows = parse(
        (
            await download(
                client, world.a, "users", world.a.admin.headers, role=["staff_submitter", "staff_preparer"]
            )
        ).content
    )
    assert [row[0] for row in rows[1:]] == ["preparer.l1", "submitter.l1", "submitter.l2"]
    rows = parse(
        (await download(client, world.a, "users", world.a.admin.headers, location_code="L2")).content
    )
    assert [row[0] for row in rows[1:]] == ["submitter.l2"]
    # A filter the list refuses is refused here too, before anything streams.
    refused = await download(client, world.a, "locations", world.a.admin.headers, name="a\x00b")
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"


async def test_each_caller_gets_its_scope(world: World, client: httpx.AsyncClient) -> None:
    location_admin = world["location_admin_l1"].headers
    rows = parse((await download(client, world.a, "locations", location_admin)).content)
    assert [row[0] for row in rows[1:]] == ["L1"]
    rows = parse((await download(client, world.a, "users", location_admin)).content)
    assert [row[0] for row in rows[1:]] == ["la.l1", "preparer.l1", "submitter.l1"]
    staff = world["staff_submitter_l1"].headers
    assert [row[0] for row in parse((await download(client, world.a, "locations", staff)).content)[1:]] == [
        "L1"
    ]
    assert (await download(client, world.a, "users", staff)).status_code == 403
    # A linked system reads its organization's locations, never its users.
    linked = await download(client, world.a, "locations", world.a.basic())
    assert linked.status_code == 200
    assert [row[0] for row in parse(linked.content)[1:]] == ["L1", "L2"]
    assert (await download(client, world.a, "users", world.a.basic())).status_code == 403
    # Another organization's file is, to an admin, a file that does not exist.
    other = await download(client, world.b, "locations", world.a.admin.headers)
    assert other.status_code == 404
    assert other.json()["code"] == "not_found"
    assert (await download(client, world.b, "locations", world.operator.headers)).status_code == 200


async def test_formula_cells_are_written_as_text_and_read_back(
    world: World, client: httpx.AsyncClient
) -> None:
    names = {
        "f.equals": '=HYPERLINK("http://x","y")',
        "f.plus": "+81 3",
        "f.at": "@SUM(A1)",
        "f.quote": "'ok",
        "-f.dash": "- 田中",
    }
    for login_id, name in names.items():
        created = await post_user(client, world.a, world.a.admin.headers, login_id, name, "staff_preparer")
        assert created.status_code == 201, created.text
    response = await download(client, world.a, "users", world.a.admin.headers)
    rows = {row[0]: row for row in parse(response.content)[1:]}
    assert rows["f.equals"][1] == '\'=HYPERLINK("http://x","y")'
    assert rows["f.plus"][1] == "'+81 3"
    assert rows["f.at"][1] == "'@SUM(A1)"
    assert rows["f.quote"][1] == "''ok"  # a leading ' of the value itself stays the value's
    assert rows["'-f.dash"][1] == "'- 田中"  # login IDs too
    # RFC 4180: the cell with quotes and a comma is quoted, its quotes doubled.
    assert b'"\'=HYPERLINK(""http://x"",""y"")"' in response.content
    # Uploaded again, the guards come off: nothing changes.
    again = await upload(client, world.a, "users", response.content, world.a.admin.headers)
    assert again.status_code == 200, again.text
    assert (again.json()["created"], again.json()["updated"]) == (0, 0)


async def test_a_value_shift_jis_cannot_write_is_named_before_anything_streams(
    world: World, client: httpx.AsyncClient
) -> None:
    for login_id, name in (("kichi", "𠮷田 太郎"), ("smile", "笑顔 😀")):
        created = await post_user(client, world.a, world.a.admin.headers, login_id, name, "staff_preparer")
        assert created.status_code == 201, created.text
    response = await download(
        client, world.a, "users", {**world.a.admin.headers, "Accept-Language": "en"}, encoding="shift_jis"
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "download_not_shift_jis"
    assert "encoding=utf-8" in problem["detail"]
    # Named by the login ID the admin knows, not by a line of a file never received (issue 25).
    assert (problem["error_count"], problem["errors_listed"]) == (2, 2)
    assert problem["errors"] == [
        {
            "field": "name",
            "code": "not_shift_jis",
            "message": "Contains characters that Shift_JIS (CP932) cannot represent; see invalid_characters.",
            "key": "kichi",
            "column": "ユーザー名",
            "invalid_characters": [
                {"position": 0, "character": "𠮷", "code_point": "U+20BB7", "suggestion": None}
            ],
        },
        {
            "field": "name",
            "code": "not_shift_jis",
            "message": "Contains characters that Shift_JIS (CP932) cannot represent; see invalid_characters.",
            "key": "smile",
            "column": "ユーザー名",
            "invalid_characters": [
                {"position": 3, "character": "😀", "code_point": "U+1F600", "suggestion": None}
            ],
        },
    ]
    # The same download in UTF-8 carries them.
    assert ["kichi", "𠮷田 太郎", "", "", "担当者（送信不可）", ""] in parse(
        (await download(client, world.a, "users", world.a.admin.headers, encoding="utf-8")).content
    )


async def test_a_large_download_comes_whole_and_in_order(world: World, client: httpx.AsyncClient) -> None:
    # More rows than one batch of the cursor (1,000), so that the stream spans several.
    rows = [LOCATION_HEADER] + [[f"B{n:05d}", "大量拠点", "大量", str(n)] for n in range(2_500)]
    created = await upload(client, world.a, "locations", csv_text(rows), world.a.admin.headers)
    assert created.status_code == 200, created.text
    for encoding in ("utf-8", "shift_jis"):
        response = await download(client, world.a, "locations", world.a.admin.headers, encoding=encoding)
        assert response.status_code == 200
        got = parse(response.content, "utf-8-sig" if encoding == "utf-8" else "cp932")
        assert got == [
            LOCATION_HEADER,
            *rows[1:],
            ["L1", "第一拠点", "第一拠点", ""],
            ["L2", "第二拠点", "第二拠点", ""],
        ]


async def test_an_unknown_encoding_is_refused(world: World, client: httpx.AsyncClient) -> None:
    response = await download(
        client, world.a, "locations", {**world.a.admin.headers, "Accept-Language": "en"}, encoding="latin-1"
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "encoding"
