"""The schema is the one source (issue 19): adding an optional field to a location takes the model,
a migration and the schema, nothing else.

In a scratch copy of app/, migrations/ and alembic.ini, the test adds `memo` (メモ) to the Location
model, to the location schemas and in a new migration, and changes no other file. A subprocess
then runs the scratch copy's app (on SQLite) and finds the field in the GET, the list, the CSV
download and upload, the audit events and the change feed's entries.
"""

import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_SECONDS = 300


def _insert_after(path: Path, pattern: str, addition: str) -> None:
    """Add `addition` after the first line matching `pattern` (a regular expression)."""
    text = path.read_text(encoding="utf-8")
    match = re.search(pattern, text, flags=re.MULTILINE)
    assert match is not None, f"{pattern!r} not in {path}"
    end = text.index("\n", match.end()) + 1
    path.write_text(text[:end] + addition + text[end:], encoding="utf-8")


def _end_of_class(path: Path, name: str, addition: str) -> None:
    """Add `addition` (fields) at the end of class `name`'s body."""
    text = path.read_text(encoding="utf-8")
    start = text.index(f"\nclass {name}(")
    following = re.search(r"\n\n\n(?=\S)", text[start + 1 :])
    end = start + 1 + following.start() + 1 if following else len(text.rstrip("\n")) + 1
    path.write_text(text[:end] + addition + text[end:], encoding="utf-8")


def _head(scratch: Path) -> str:
    """The newest revision of the copied migrations."""
    revisions: dict[str, str | None] = {}
    for path in (scratch / "migrations" / "versions").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        revision = re.search(r'^revision(?:: str)? = "([^"]+)"', text, flags=re.MULTILINE)
        down = re.search(r'^down_revision(?:: [^=]+)? = (?:"([^"]+)"|None)', text, flags=re.MULTILINE)
        assert revision is not None, path
        assert down is not None, path
        revisions[revision.group(1)] = down.group(1)
    heads = set(revisions) - {down for down in revisions.values() if down}
    assert len(heads) == 1, heads
    return heads.pop()


def _add_a_field(scratch: Path) -> None:
    model = scratch / "app" / "models" / "location.py"
    _insert_after(
        model, r"^    delegate_number: Mapped", "    memo: Mapped[str | None] = mapped_column(String(40))\n"
    )
    schemas = scratch / "app" / "locations" / "schemas.py"
    _end_of_class(schemas, "Location", '    memo: str | None = Field(default=None, title="メモ")\n')
    _end_of_class(schemas, "LocationCreate", "    memo: str | None = None\n")
    _end_of_class(schemas, "LocationUpdate", "    memo: str | None = None\n")
    head = _head(scratch)
    (scratch / "migrations" / "versions" / "29991231_9999_location_memo.py").write_text(
        textwrap.dedent(
            f'''\
            """A memo on locations (the schema-as-source test's field)."""

            import sqlalchemy as sa
            from alembic import op

            revision = "9999"
            down_revision = "{head}"
            branch_labels = None
            depends_on = None


            def upgrade() -> None:
                op.add_column("locations", sa.Column("memo", sa.String(40), nullable=True))


            def downgrade() -> None:
                op.drop_column("locations", "memo")
            '''
        ),
        encoding="utf-8",
    )


_SCRIPT = r"""
import asyncio
import csv
import io
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx

import app
from app.cli import migrate
from app.config.clock import ManualClock
from app.main import create_app
from tests.conftest import make_settings
from tests.fixtures.world import build_world

scratch = Path(sys.argv[1])
assert Path(app.__file__).resolve().is_relative_to(scratch), app.__file__
url = f"sqlite+aiosqlite:///{scratch / 'scratch.db'}"
migrate(url)
application = create_app(make_settings(url), ManualClock(datetime(2026, 4, 1, 9, 0, tzinfo=UTC)))


def rows(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


async def main() -> None:
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        world = await build_world(application, client)
        headers, path = world.a.admin.headers, world.a.path
        start = (await client.get(f"{path}/changes", headers=headers)).json()["next_cursor"]
        body = {"code": "M1", "name": "メモ拠点", "short_name": "メモ", "memo": "first"}
        created = await client.post(f"{path}/locations", json=body, headers=headers)
        assert created.status_code == 201, created.text
        assert created.json()["memo"] == "first"
        assert (await client.get(f"{path}/locations/M1", headers=headers)).json()["memo"] == "first"
        listed = (await client.get(f"{path}/locations", params={"code": "M1"}, headers=headers)).json()
        assert [item["memo"] for item in listed["items"]] == ["first"], listed
        patched = await client.patch(f"{path}/locations/M1", json={"memo": "second"}, headers=headers)
        assert patched.status_code == 200, patched.text

        download = await client.get(f"{path}/exports/locations", headers=headers)
        assert download.status_code == 200, download.text
        table = rows(download.content)
        assert table[0][-1] == "メモ", table[0]
        assert [row[-1] for row in table if row[0] == "M1"] == ["second"], table

        file = "依頼人拠点コード,依頼人拠点名,依頼人拠点名（略称）,メモ\r\nM1,メモ拠点,メモ,third\r\nM2,新拠点,新,new\r\n"
        uploaded = await client.post(
            f"{path}/imports/locations", content=file.encode(), headers={**headers, "Content-Type": "text/csv"}
        )
        assert uploaded.status_code == 200, uploaded.text
        assert uploaded.json() == {"created": 1, "updated": 1, "unchanged": 0}, uploaded.text
        assert (await client.get(f"{path}/locations/M1", headers=headers)).json()["memo"] == "third"
        assert (await client.get(f"{path}/locations/M2", headers=headers)).json()["memo"] == "new"

        events = (await client.get(f"{path}/audit-events", params={"limit": 200}, headers=headers)).json()
        memos = [
            (event["action"], event["resource"]["id"], event["changes"].get("memo"))
            for event in events["items"]
            if event["resource"]["id"] in ("M1", "M2")
        ]
        for expected in (
            ("location.create", "M1", [None, "first"]),
            ("location.update", "M1", ["first", "second"]),
            ("location.update", "M1", ["second", "third"]),
            ("location.create", "M2", [None, "new"]),
        ):
            assert expected in memos, memos

        feed = (await client.get(f"{path}/changes", params={"after": start}, headers=headers)).json()
        data = {(item["resource"]["id"], item["data"]["memo"]) for item in feed["items"]}
        assert {("M1", "first"), ("M1", "second"), ("M1", "third"), ("M2", "new")} <= data, feed
    await application.state.runtime.engine.dispose()
    print("the field is everywhere")


asyncio.run(main())
"""


def test_an_optional_location_field_needs_the_model_a_migration_and_the_schema_only(tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "app", scratch / "app", ignore=ignore)
    shutil.copytree(ROOT / "migrations", scratch / "migrations", ignore=ignore)
    shutil.copy2(ROOT / "alembic.ini", scratch / "alembic.ini")
    _add_a_field(scratch)
    touched = {
        str(path.relative_to(scratch))
        for path in scratch.rglob("*.py")
        for original in [ROOT / path.relative_to(scratch)]
        if not original.exists() or original.read_bytes() != path.read_bytes()
    }
    assert touched == {
        "app/models/location.py",
        "app/locations/schemas.py",
        "migrations/versions/29991231_9999_location_memo.py",
    }
    script = scratch / "check_field.py"
    script.write_text(_SCRIPT, encoding="utf-8")
    result = subprocess.run(  # noqa: S603 (our own interpreter and script)
        [sys.executable, str(script), str(scratch)],
        cwd=scratch,
        # The scratch copy's app first; the tests' fixtures from this checkout.
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": f"{scratch}:{ROOT}",
            "AINAS_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1,localhost",
        },
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    assert "the field is everywhere" in result.stdout
