"""What planning costs PostgreSQL: the service's own statements under pgbench, planned for their
values at every execution (`force_custom_plan`) against PostgreSQL's own choice (`auto`, a
generic plan kept once it serves every value), alternating.

1. read: the two statements of a single-resource read (the caller's row, joined to its location,
   as app/auth/repository.py reads it; one location by code, as app/locations/repository.py does).
2. create: a location's INSERT ... RETURNING with its audit event and feed entry, one statement
   that commits by itself (Repository.insert_alongside, app/journal/feed.py); at its commit the
   feed's trigger numbers the entry (migration 0008), and the locations' foreign key is checked.

One client (`-c 1`), prepared statements (`-M prepared`, as asyncpg prepares them), commits not
waiting for the disk (`synchronous_commit=off`: the figure is CPU, not fsync). The database is the
project's schema (its migrations), made and dropped by the run. Needs Debian's `pgbench`
(postgresql-client); prints transactions per second of each mode.
"""

import argparse
import asyncio
import shutil
import statistics
import subprocess
from pathlib import Path
from typing import Any

import asyncpg

from bench.run import migrate
from bench.servers import Database

SCRIPTS = Path(__file__).resolve().parent / "pgbench"
MODES = ("force_custom_plan", "auto")


async def _seed(dsn: str) -> None:
    """Four organizations, a user with a location in each, some locations."""
    connection = await asyncpg.connect(dsn)
    try:
        for number in range(1, 5):
            organization = await connection.fetchval(
                "INSERT INTO organizations (name, short_name, created_at, updated_at, version, name_search,"
                " short_name_search) VALUES ($1, 'o', now(), now(), 1, $2, 'o') RETURNING id",
                f"organization {number}",
                f"organization {number}",
            )
            location = None
            for code in range(1, 51):
                location = await connection.fetchval(
                    "INSERT INTO locations (organization_id, code, name, short_name, name_search,"
                    " short_name_search, created_at, updated_at, version)"
                    " VALUES ($1, $2, '東京本店', '東京', '東京本店', '東京', now(), now(), 1) RETURNING id",
                    organization,
                    f"C{code:03d}",
                )
            await connection.execute(
                "INSERT INTO users (organization_id, location_id, login_id, name, name_search, role,"
                " password_hash, password_temporary, password_changed_at, security_stamp,"
                " failed_login_count, created_at, updated_at, version)"
                " VALUES ($1, $2, $3, '見本 太郎', '見本 太郎', 'admin', 'x', false, now(), 's', 0,"
                " now(), now(), 1)",
                organization,
                location,
                f"user.{number}",
            )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


def _tps(dsn: str, script: Path, mode: str, seconds: int) -> float:
    pgbench = shutil.which("pgbench") or "pgbench"
    command = [
        pgbench,
        "-n",
        "-M",
        "prepared",
        "-c",
        "1",
        "-j",
        "1",
        "-T",
        str(seconds),
        "-f",
        str(script),
        dsn,
    ]
    found = subprocess.run(  # noqa: S603 (Debian's pgbench on our own database)
        command,
        env={"PGOPTIONS": f"-c plan_cache_mode={mode} -c synchronous_commit=off", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(line for line in found.stdout.splitlines() if line.startswith("tps"))
    return float(line.split()[2])


def plans(args: argparse.Namespace) -> dict[str, Any]:
    """Each script in each mode, alternating, `args.rounds` times; medians."""
    database = Database.create("ainas_plans")
    try:
        migrate(database.dsn)
        asyncio.run(_seed(database.dsn))
        results: dict[str, Any] = {}
        for script in sorted(SCRIPTS.glob("*.sql")):
            runs: dict[str, list[float]] = {mode: [] for mode in MODES}
            for round_ in range(max(1, args.rounds)):
                for mode in MODES if round_ % 2 == 0 else reversed(MODES):
                    runs[mode].append(_tps(database.dsn, script, mode, max(1, int(args.duration))))
            medians = {mode: round(statistics.median(values)) for mode, values in runs.items()}
            results[script.stem] = {"runs": runs, "median_tps": medians}
            print(
                f"  {script.stem:<8} force_custom_plan {medians['force_custom_plan']:>7,} tps   "
                f"auto {medians['auto']:>7,} tps   ({medians['auto'] / medians['force_custom_plan']:.2f} x)",
                flush=True,
            )
        return results
    finally:
        database.drop()
