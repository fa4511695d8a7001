"""What spreadsheets do to CSV files (issue 25, items 4 and 12): full-width formula starts, the
trailing `,` Excel adds to a heading row, and codes whose leading zeros Excel drops."""

import sys
import unicodedata

import httpx

from app.csv.files import FORMULA_LOOKALIKES, guard, unguard
from tests.exports.files import LOCATION_HEADER, csv_text, download, locations_of, parse, upload
from tests.fixtures.world import World, add_location


def test_the_formula_guard_knows_every_character_nfkc_makes_a_formula_start() -> None:
    formula_like = {
        chr(point)
        for point in range(sys.maxunicode + 1)
        if not 0xD800 <= point <= 0xDFFF and unicodedata.normalize("NFKC", chr(point))[:1] in "=+-@"
    }
    assert formula_like - set("=+-@") == set(FORMULA_LOOKALIKES)
    for character in formula_like:
        assert guard(character + "1") == "'" + character + "1"
        assert unguard(guard(character + "1")) == character + "1"


async def test_full_width_formulas_are_written_as_text_and_read_back(
    world: World, client: httpx.AsyncClient
) -> None:
    # Location names must be full-width: ＝ＨＹＰＥＲＬＩＮＫ（１） is the only way a formula gets in.
    await add_location(client, world.a, "F1", "＝ＨＹＰＥＲＬＩＮＫ（１）")
    await add_location(client, world.a, "F2", "＋１")
    await add_location(client, world.a, "F3", "－１")
    await add_location(client, world.a, "F4", "＠ＳＵＭ（１）")
    response = await download(client, world.a, "locations", world.a.admin.headers, code="F")
    rows = {row[0]: row for row in parse(response.content)[1:]}
    assert [rows[code][1] for code in ("F1", "F2", "F3", "F4")] == [
        "'＝ＨＹＰＥＲＬＩＮＫ（１）",
        "'＋１",
        "'－１",
        "'＠ＳＵＭ（１）",
    ]
    again = await upload(client, world.a, "locations", response.content, world.a.admin.headers)
    assert again.json() == {"created": 0, "updated": 0, "unchanged": 4}
    assert (await locations_of(client, world.a))["F1"]["name"] == "＝ＨＹＰＥＲＬＩＮＫ（１）"


async def test_a_heading_row_ending_with_a_comma_is_read(world: World, client: httpx.AsyncClient) -> None:
    # What Excel saves once a column right of the data was touched: a blank heading, empty cells.
    file = "\r\n".join(
        [",".join([*LOCATION_HEADER, ""]), "L1,第一拠点,第一拠点,,", "N1,新,新,,", "N2,新二,新二,", ""]
    )
    response = await upload(client, world.a, "locations", file, world.a.admin.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"created": 2, "updated": 0, "unchanged": 1}


async def test_a_value_under_a_blank_heading_is_refused(world: World, client: httpx.AsyncClient) -> None:
    file = csv_text([[*LOCATION_HEADER, ""], ["N1", "新", "新", "", "メモ"]])
    response = await upload(client, world.a, "locations", file, world.a.admin.headers)
    assert response.status_code == 422, response.text
    assert [(e["row"], e["field"], e["code"]) for e in response.json()["errors"]] == [
        (2, None, "csv_unnamed_column")
    ]
    assert "5" in response.json()["errors"][0]["message"]


async def test_a_dry_run_shows_a_code_excel_changed(world: World, client: httpx.AsyncClient) -> None:
    await add_location(client, world.a, "001", "本店")
    # Excel opened the download and saved 001 as 1: the dry run shows a new location 1.
    file = csv_text([LOCATION_HEADER, ["1", "本店", "本店", ""]])
    dry = await upload(client, world.a, "locations", file, world.a.admin.headers, dry_run=True)
    assert dry.status_code == 200, dry.text
    assert dry.json()["planned"] == [
        {
            "row": 2,
            "action": "create",
            "key": "1",
            "fields": {"code": "1", "name": "本店", "short_name": "本店", "delegate_number": None},
        }
    ]
    assert "1" not in await locations_of(client, world.a)
