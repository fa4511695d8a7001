"""Uploads of locations (SPEC §5.6): all or nothing, every row checked as the JSON API checks it."""

import httpx
from fastapi import FastAPI

from tests.exports.files import (
    LOCATION_HEADER,
    audit_actions,
    csv_text,
    download,
    locations_of,
    upload,
)
from tests.fixtures.world import World
from tests.security.state import differences, snapshot


async def test_a_downloaded_file_uploaded_again_changes_nothing(
    app: FastAPI, world: World, client: httpx.AsyncClient
) -> None:
    await client.patch(
        f"{world.a.path}/locations/L1", json={"delegate_number": "0012"}, headers=world.a.admin.headers
    )
    before = await snapshot(app.state.runtime.engine)
    for encoding in ("utf-8", "shift_jis"):
        file = await download(client, world.a, "locations", world.a.admin.headers, encoding=encoding)
        response = await upload(client, world.a, "locations", file.content, world.a.admin.headers)
        assert response.status_code == 200, response.text
        assert response.json() == {"created": 0, "updated": 0, "unchanged": 2}
    assert differences(before, await snapshot(app.state.runtime.engine)) == []


async def test_create_and_update_with_columns_in_another_order(
    world: World, client: httpx.AsyncClient
) -> None:
    file = csv_text(
        [
            ["記録等事務代行者委託番号", "依頼人拠点名（略称）", "依頼人拠点コード", "依頼人拠点名"],
            ["", "新第一", "L1", "新しい第一拠点"],
            ["99", "大阪", "OSK1", "大阪支店"],
        ]
    )
    response = await upload(client, world.a, "locations", file, world.a.admin.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"created": 1, "updated": 1, "unchanged": 0}
    locations = await locations_of(client, world.a)
    assert {name: locations["L1"][name] for name in ("name", "short_name", "delegate_number", "version")} == {
        "name": "新しい第一拠点",
        "short_name": "新第一",
        "delegate_number": None,
        "version": 2,
    }
    assert {
        name: locations["OSK1"][name] for name in ("name", "short_name", "delegate_number", "version")
    } == {
        "name": "大阪支店",
        "short_name": "大阪",
        "delegate_number": "99",
        "version": 1,
    }
    # JSON names as headings, half-width brackets, only the columns to change: absent ones stay.
    file = csv_text([["delegate_number", "code"], ["4567", "OSK1"], ["12", "L2"]])
    response = await upload(client, world.a, "locations", file, world.a.admin.headers)
    assert response.json() == {"created": 0, "updated": 2, "unchanged": 0}
    locations = await locations_of(client, world.a)
    assert (locations["OSK1"]["name"], locations["OSK1"]["delegate_number"]) == ("大阪支店", "4567")
    file = csv_text([["依頼人拠点コード", "依頼人拠点名(略称)"], ["L2", "第二"]])
    response = await upload(client, world.a, "locations", file, world.a.admin.headers)
    assert response.json() == {"created": 0, "updated": 1, "unchanged": 0}
    assert (await locations_of(client, world.a))["L2"]["short_name"] == "第二"


async def test_an_empty_optional_cell_clears_and_an_empty_required_one_is_an_error(
    world: World, client: httpx.AsyncClient
) -> None:
    await client.patch(
        f"{world.a.path}/locations/L1", json={"delegate_number": "77"}, headers=world.a.admin.headers
    )
    file = csv_text([LOCATION_HEADER, ["L1", "第一拠点", "第一拠点", ""]])
    assert (await upload(client, world.a, "locations", file, world.a.admin.headers)).json()["updated"] == 1
    assert (await locations_of(client, world.a))["L1"]["delegate_number"] is None
    file = csv_text([LOCATION_HEADER, ["L1", "", "第一拠点", ""]])
    response = await upload(client, world.a, "locations", file, world.a.admin.headers)
    assert response.status_code == 422
    assert [(e["row"], e["field"], e["code"]) for e in response.json()["errors"]] == [
        (2, "name", "too_short")
    ]


async def test_shift_jis_named_or_detected(world: World, client: httpx.AsyncClient) -> None:
    rows = [LOCATION_HEADER, ["SJ1", "新宿～南口", "新宿", ""]]  # ～: the Windows wave dash
    data = csv_text(rows).encode("cp932")
    for content_type, code in (
        ("text/csv; charset=Shift_JIS", "SJ1"),
        ("text/csv", "SJ2"),
        ("text/csv; charset=windows-31j", "SJ3"),
    ):
        body = data.replace(b"SJ1", code.encode())
        response = await upload(
            client, world.a, "locations", body, world.a.admin.headers, content_type=content_type
        )
        assert response.status_code == 200, (content_type, response.text)
        assert response.json()["created"] == 1
    locations = await locations_of(client, world.a)
    assert {locations[code]["name"] for code in ("SJ1", "SJ2", "SJ3")} == {"新宿～南口"}
    # UTF-8 without a byte-order mark is detected as UTF-8.
    response = await upload(
        client, world.a, "locations", csv_text(rows).replace("SJ1", "U8"), world.a.admin.headers
    )
    assert response.json()["created"] == 1
    assert (await locations_of(client, world.a))["U8"]["name"] == "新宿～南口"


async def test_multipart_file(world: World, client: httpx.AsyncClient) -> None:
    data = b"\xef\xbb\xbf" + csv_text([LOCATION_HEADER, ["MP1", "郵送拠点", "郵送", "1"]]).encode()
    response = await client.post(
        f"{world.a.path}/imports/locations",
        files={"file": ("拠点.csv", data, "text/csv")},
        headers=world.a.admin.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"created": 1, "updated": 0, "unchanged": 0}
    # A Shift_JIS file part that names its charset.
    data = csv_text([LOCATION_HEADER, ["MP2", "郵送拠点", "郵送", ""]]).encode("cp932")
    response = await client.post(
        f"{world.a.path}/imports/locations",
        files={"file": ("locations.csv", data, "text/csv; charset=Shift_JIS")},
        headers=world.a.admin.headers,
    )
    assert response.json()["created"] == 1
    assert (await locations_of(client, world.a))["MP2"]["name"] == "郵送拠点"
    missing = await client.post(
        f"{world.a.path}/imports/locations",
        files={"other": ("x.csv", data, "text/csv")},
        headers=world.a.admin.headers,
    )
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "file"


async def test_dry_run_answers_the_same_and_changes_nothing(
    app: FastAPI, world: World, client: httpx.AsyncClient
) -> None:
    file = csv_text(
        [
            LOCATION_HEADER,
            ["L1", "第一拠点", "第一拠点", ""],
            ["L2", "改名拠点", "改名", ""],
            ["N1", "新", "新", ""],
        ]
    )
    before = await snapshot(app.state.runtime.engine)
    dry = await upload(client, world.a, "locations", file, world.a.admin.headers, dry_run=True)
    assert dry.status_code == 200, dry.text
    assert dry.json() == {
        "created": 1,
        "updated": 1,
        "unchanged": 1,
        # What each row would do, as the codes were read (issue 25: Excel's 001 -> 1 shows here).
        "planned": [
            {
                "row": 3,
                "action": "update",
                "key": "L2",
                "fields": {"name": ["第二拠点", "改名拠点"], "short_name": ["第二拠点", "改名"]},
            },
            {
                "row": 4,
                "action": "create",
                "key": "N1",
                "fields": {"code": "N1", "name": "新", "short_name": "新", "delegate_number": None},
            },
        ],
    }
    assert differences(before, await snapshot(app.state.runtime.engine)) == []
    real = await upload(client, world.a, "locations", file, world.a.admin.headers)
    assert real.json() == {"created": 1, "updated": 1, "unchanged": 1}
    assert differences(before, await snapshot(app.state.runtime.engine)) != []


async def test_one_bad_row_among_good_ones_changes_nothing_and_every_bad_row_is_named(
    app: FastAPI, world: World, client: httpx.AsyncClient
) -> None:
    file = (
        csv_text([LOCATION_HEADER, ["G1", "良い拠点", "良い", ""]])
        + "\r\n"  # a blank line still counts as a line
        + csv_text(
            [
                ["L1", "第一拠点", "第一拠点", "１２３"],
                ["G2", "良い拠点", "良い", ""],
                ["ｶﾞ1", "ｶﾞﾚｰｼﾞ", "とても長い略称の拠点名です", ""],
                ["G1", "重複", "重複", ""],
                ["G3", "列が足りない"],
            ]
        )
    )
    before = await snapshot(app.state.runtime.engine)
    response = await upload(client, world.a, "locations", file, world.a.admin.headers)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "csv_invalid"
    assert (
        problem["detail"]
        == "CSVの内容に誤りがあります（6件）。各行のエラーを確認してください。何も変更されていません。"
    )
    errors = problem["errors"]
    assert [(e["row"], e["field"], e["code"], e["column"]) for e in errors] == [
        (4, "delegate_number", "not_half_width_digits", "記録等事務代行者委託番号"),
        (6, "code", "invalid_location_code", "依頼人拠点コード"),
        (6, "name", "not_full_width", "依頼人拠点名"),
        (6, "short_name", "too_long", "依頼人拠点名（略称）"),
        (7, "code", "csv_duplicate_row", "依頼人拠点コード"),
        (8, None, "csv_cell_count", None),
    ]
    assert errors[0]["invalid_characters"] == [
        {"position": 0, "character": "１", "code_point": "U+FF11", "suggestion": "1"},
        {"position": 1, "character": "２", "code_point": "U+FF12", "suggestion": "2"},
        {"position": 2, "character": "３", "code_point": "U+FF13", "suggestion": "3"},
    ]
    assert errors[1]["invalid_characters"][0]["character"] == "ｶ"
    assert [c["character"] for c in errors[2]["invalid_characters"]] == ["ｶ", "ﾞ", "ﾚ", "ｰ", "ｼ", "ﾞ"]
    assert (
        errors[2]["message"]
        == "全角文字（JIS X 0208）で入力してください。使用できない文字は invalid_characters に示します。"
    )
    assert errors[4]["message"] == "同じ値の行がファイルの2行目にもあります。"
    assert errors[5]["message"] == "この行の項目数（2）が見出し行の列数（4）と一致しません。"
    assert differences(before, await snapshot(app.state.runtime.engine)) == []
    english = await upload(
        client, world.a, "locations", file, {**world.a.admin.headers, "Accept-Language": "en"}
    )
    assert english.json()["errors"][5]["message"] == "This row has 2 cells; the heading row has 4."
    assert (
        english.json()["detail"] == "The CSV has 6 errors; see the errors of each row. Nothing was changed."
    )


async def test_headings_are_checked_first(world: World, client: httpx.AsyncClient) -> None:
    file = csv_text(
        [["依頼人拠点コード", "依頼人拠点名", "備考", "name"], ["L1", "第一拠点", "メモ", "第一拠点"]]
    )
    response = await upload(client, world.a, "locations", file, world.a.admin.headers)
    assert response.status_code == 422
    assert [(e["row"], e["field"], e["code"], e["column"]) for e in response.json()["errors"]] == [
        (1, None, "csv_unknown_column", "備考"),
        (1, "name", "csv_duplicate_column", "name"),
    ]
    assert response.json()["errors"][0]["message"] == (
        "列「備考」は使用できません。使用できる列: 依頼人拠点コード、依頼人拠点名、依頼人拠点名（略称）、記録等事務代行者委託番号"
    )
    response = await upload(
        client, world.a, "locations", csv_text([["依頼人拠点名"], ["第一拠点"]]), world.a.admin.headers
    )
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [("code", "csv_missing_column")]
    assert response.json()["errors"][0]["message"] == "列「依頼人拠点コード」が必要です。"
    empty = await upload(client, world.a, "locations", b"", world.a.admin.headers)
    assert (empty.status_code, empty.json()["code"]) == (422, "csv_empty")
    # Only a heading row: a valid file that changes nothing.
    only = await upload(client, world.a, "locations", csv_text([LOCATION_HEADER]), world.a.admin.headers)
    assert only.json() == {"created": 0, "updated": 0, "unchanged": 0}


async def test_files_that_are_not_csv_are_refused_clearly(world: World, client: httpx.AsyncClient) -> None:
    headers = world.a.admin.headers
    malformed = await upload(client, world.a, "locations", 'code,name\r\nL1,"第一"拠点\r\n', headers)
    assert (malformed.status_code, malformed.json()["code"]) == (422, "csv_malformed")
    assert malformed.json()["detail"].startswith("CSVの形式が正しくありません（2行目）")
    garbage = await upload(client, world.a, "locations", b"code,name\r\nL1,\x82\xa0\x81 \r\n", headers)
    assert (garbage.status_code, garbage.json()["code"]) == (422, "csv_encoding")
    assert "2行目" in garbage.json()["detail"]
    wrong_charset = await upload(
        client,
        world.a,
        "locations",
        "code\r\nL1\r\n".encode("cp932"),
        headers,
        content_type="text/csv; charset=euc-jp",
    )
    assert (wrong_charset.status_code, wrong_charset.json()["code"]) == (415, "unsupported_charset")
    json_body = await client.post(f"{world.a.path}/imports/locations", json={"code": "L1"}, headers=headers)
    assert (json_body.status_code, json_body.json()["code"]) == (415, "csv_media_type")
    assert json_body.headers["content-type"] == "application/problem+json"


async def test_limits_of_size_and_rows(world: World, client: httpx.AsyncClient) -> None:
    headers = world.a.admin.headers
    rows = [LOCATION_HEADER] + [[f"R{n}", "拠点", "拠点", ""] for n in range(10_000)]
    accepted = await upload(client, world.a, "locations", csv_text(rows), headers, dry_run=True)
    assert accepted.status_code == 200, accepted.text[:300]
    answer = accepted.json()
    assert (answer["created"], answer["updated"], answer["unchanged"]) == (10_000, 0, 0)
    assert len(answer["planned"]) == 1000  # the first 1,000 rows: the answer stays small
    assert len(accepted.content) < 1024 * 1024
    refused = await upload(
        client, world.a, "locations", csv_text([*rows, ["R10000", "拠点", "拠点", ""]]), headers
    )
    assert (refused.status_code, refused.json()["code"]) == (413, "csv_too_many_rows")
    assert refused.json()["detail"] == "CSVの行数が多すぎます（上限 10000 行）。ファイルを分割してください。"
    # 5 MiB is the limit of the file, as the body or as a form's file.
    heading = csv_text([LOCATION_HEADER]).encode()
    padding = 5 * 1024 * 1024 - len(heading)
    big = heading + b"\r\n" * (padding // 2) + b" " * (padding % 2)  # blank lines: no rows
    assert len(big) == 5 * 1024 * 1024
    fits = await upload(client, world.a, "locations", big, headers, dry_run=True)
    assert fits.status_code == 200, fits.text[:300]
    too_big = big + b" "
    for response in (
        await upload(client, world.a, "locations", too_big, headers),
        await client.post(
            f"{world.a.path}/imports/locations",
            files={"file": ("big.csv", too_big, "text/csv")},
            headers=headers,
        ),
    ):
        assert response.status_code == 413
        assert response.json()["code"] == "payload_too_large"
        assert "5242880" in response.json()["detail"]
    # Other bodies keep their 1 MiB limit.
    json_big = await client.post(
        f"{world.a.path}/locations",
        content=b"{" + b" " * (1024 * 1024) + b"}",
        headers={**headers, "Content-Type": "application/json"},
    )
    assert json_big.status_code == 413
    assert "1048576" in json_big.json()["detail"]


async def test_every_changed_row_is_recorded_as_the_json_api_records_it(
    world: World, client: httpx.AsyncClient
) -> None:
    headers = world.a.admin.headers
    # The same changes through the JSON API, to compare with.
    created = await client.post(
        f"{world.a.path}/locations",
        json={"code": "J1", "name": "追加二", "short_name": "追加", "delegate_number": "9"},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    patched = await client.patch(
        f"{world.a.path}/locations/L1", json={"name": "第一本店", "delegate_number": "5"}, headers=headers
    )
    assert patched.status_code == 200, patched.text
    file = csv_text(
        [
            LOCATION_HEADER,
            ["L1", "第一本店", "第一拠点", "5"],  # as the PATCH left it: unchanged
            ["L2", "第二本店", "第二拠点", "5"],
            ["A1", "追加", "追加", ""],
            ["A2", "追加二", "追加", "9"],
        ]
    )
    response = await upload(client, world.a, "locations", file, {**headers, "X-Request-ID": "csv-upload-1"})
    assert response.json() == {"created": 2, "updated": 1, "unchanged": 1}
    events = await audit_actions(client, world.a, "location.")
    by_upload = {
        (event["action"], event["resource"]["id"]): event
        for event in events
        if event["request_id"] == "csv-upload-1"
    }
    assert set(by_upload) == {("location.create", "A1"), ("location.create", "A2"), ("location.update", "L2")}
    by_json = {(event["action"], event["resource"]["id"]): event for event in events}
    # A row is recorded exactly as the JSON API records the same change.
    json_create = by_json[("location.create", "J1")]["changes"]
    assert by_upload[("location.create", "A2")]["changes"] == {**json_create, "code": [None, "A2"]}
    assert by_upload[("location.create", "A1")]["changes"]["delegate_number"] == [None, None]
    assert by_upload[("location.update", "L2")]["changes"] == {
        "name": ["第二拠点", "第二本店"],
        "delegate_number": [None, "5"],
    }
    assert by_json[("location.update", "L1")]["changes"] == {
        "name": ["第一拠点", "第一本店"],
        "delegate_number": [None, "5"],
    }
    assert all(event["actor"] == {"kind": "user", "id": "a.admin"} for event in by_upload.values())
    # The locations read as the JSON API would show them after such a change.
    locations = await locations_of(client, world.a)
    assert (locations["L2"]["version"], locations["A2"]["version"]) == (2, 1)
    assert {key: locations["A2"][key] for key in ("name", "short_name", "delegate_number")} == {
        key: locations["J1"][key] for key in ("name", "short_name", "delegate_number")
    }


async def test_who_may_upload_locations(world: World, client: httpx.AsyncClient) -> None:
    file = csv_text([LOCATION_HEADER, ["P1", "権限拠点", "権限", ""]])
    assert (await upload(client, world.a, "locations", file, world.a.basic())).status_code == 403
    for caller in ("location_admin_l1", "location_admin_all", "staff_submitter_l1"):
        assert (await upload(client, world.a, "locations", file, world[caller].headers)).status_code == 403
    assert (await upload(client, world.b, "locations", file, world.a.admin.headers)).status_code == 404
    by_operator = await upload(client, world.b, "locations", file, world.operator.headers)
    assert by_operator.json() == {"created": 1, "updated": 0, "unchanged": 0}
    assert "P1" not in await locations_of(client, world.a)


async def test_an_upload_is_one_idempotent_post(world: World, client: httpx.AsyncClient) -> None:
    file = csv_text([LOCATION_HEADER, ["ID1", "冪等拠点", "冪等", ""]])
    headers = {**world.a.admin.headers, "Idempotency-Key": "upload-2026-04-01"}
    first = await upload(client, world.a, "locations", file, headers)
    again = await upload(client, world.a, "locations", file, headers)
    assert first.json() == again.json() == {"created": 1, "updated": 0, "unchanged": 0}
    assert again.headers["idempotent-replayed"] == "true"
    assert (
        len(
            [
                e
                for e in await audit_actions(client, world.a, "location.create")
                if e["resource"]["id"] == "ID1"
            ]
        )
        == 1
    )
    other = await upload(client, world.a, "locations", file.replace("冪等拠点", "別の拠点"), headers)
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
