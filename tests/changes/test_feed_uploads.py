"""CSV uploads (SPEC §5.6) write a feed entry per changed row, in the upload's transaction: each
with the resource as its GET answers it; a dry run and a refused upload write none."""

import httpx

from tests.changes.feed import current_cursor, follow, page, summary
from tests.exports.files import LOCATION_HEADER, csv_text, upload
from tests.fixtures.world import World


async def test_an_upload_writes_one_entry_per_changed_row(world: World, client: httpx.AsyncClient) -> None:
    a, admin = world.a, world.a.admin.headers
    start = await current_cursor(client, a, admin)
    rows = [LOCATION_HEADER, ["L1", "第一拠点", "第一拠点", "77"], ["L2", "第二拠点", "第二拠点", ""]]
    rows += [["UP1", "一括拠点", "一括", ""], ["UP2", "一括拠点二", "一括二", "5"]]
    done = await upload(client, a, "locations", csv_text(rows), admin)
    assert done.status_code == 200, done.text
    assert done.json() == {"created": 2, "updated": 1, "unchanged": 1}

    items, _ = await follow(client, a, admin, start)
    assert sorted(summary(items)) == [
        ("location.created", "location", "UP1"),
        ("location.created", "location", "UP2"),
        ("location.updated", "location", "L1"),
    ]
    for item in items:
        shown = await client.get(f"{a.path}/locations/{item['resource']['id']}", headers=admin)
        assert item["data"] == shown.json()
    # Numbered in the upload's order, one after another, like any other changes.
    assert [item["cursor"] for item in items] == [
        item["cursor"] for item in (await page(client, a, admin, start))["items"]
    ]

    users = [
        ["login_id", "name", "location_code", "role"],
        ["bulk.one", "一括 一郎", "UP1", "staff_submitter"],
    ]
    done = await upload(client, a, "users", csv_text(users), admin)
    assert done.status_code == 200, done.text
    more, _ = await follow(client, a, admin, items[-1]["cursor"])
    assert summary(more) == [("user.created", "user", "bulk.one")]
    assert more[0]["data"] == (await client.get(f"{a.path}/users/bulk.one", headers=admin)).json()
    assert done.json()["temporary_passwords"][0]["password"] not in str(more)
    linked, _ = await follow(client, a, a.basic(), items[-1]["cursor"])
    assert linked == []


async def test_a_dry_run_or_a_refused_upload_writes_no_entry(world: World, client: httpx.AsyncClient) -> None:
    a, admin = world.a, world.a.admin.headers
    start = await current_cursor(client, a, admin)
    good = csv_text([LOCATION_HEADER, ["DR1", "試行拠点", "試行", ""]])
    dry = await upload(client, a, "locations", good, admin, dry_run=True)
    assert dry.status_code == 200, dry.text
    bad = csv_text([LOCATION_HEADER, ["DR2", "正しい拠点", "正しい", ""], ["DR3", "ﾊﾝｶｸ", "半角", ""]])
    refused = await upload(client, a, "locations", bad, admin)
    assert refused.status_code == 422
    assert (await page(client, a, admin, start))["items"] == []
