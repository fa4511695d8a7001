"""`ainas` says in one line what to do when its settings or its database are not usable: no traceback."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.database import postgres_admin_url, postgres_available

ROOT = Path(__file__).resolve().parent.parent
_POSTGRES_OK, _POSTGRES_WHY = postgres_available()
needs_postgres = pytest.mark.skipif(not _POSTGRES_OK, reason=f"PostgreSQL not available: {_POSTGRES_WHY}")


def ainas(*args: str, **environment: str) -> subprocess.CompletedProcess[str]:
    """Run the command with only these settings (none inherited from the test's environment)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("AINAS_")}
    env.pop("DATABASE_URL", None)
    env.update(environment)
    return subprocess.run(  # noqa: S603 (our own command, our own arguments)
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def missing_database_url() -> str:
    base, _, _ = postgres_admin_url().replace("+asyncpg", "").rpartition("/")
    return f"{base}/ainas_missing_{secrets.token_hex(4)}"


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@needs_postgres
def test_migrate_against_a_database_that_does_not_exist_says_to_create_it() -> None:
    url = missing_database_url()
    line = one_line(ainas("migrate", DATABASE_URL=url, AINAS_SECRET_KEY=secrets.token_urlsafe(48)))
    name = url.rpartition("/")[2]
    assert f"'{name}' does not exist" in line
    assert f"createdb -h 127.0.0.1 -p 5432 -U postgres {name}" in line


def test_migrate_on_postgresql_without_a_signing_key_says_to_set_one() -> None:
    line = one_line(ainas("migrate", DATABASE_URL=missing_database_url()))
    assert "AINAS_SECRET_KEY must be set with PostgreSQL" in line
    assert "openssl rand -base64 48" in line


def test_serve_on_postgresql_without_a_certificate_key_says_to_set_one() -> None:
    line = one_line(
        ainas(
            "serve",
            "--port",
            "9",
            DATABASE_URL=missing_database_url(),
            AINAS_SECRET_KEY=secrets.token_urlsafe(48),
        )
    )
    assert "AINAS_CERTIFICATE_KEY must be set" in line
    assert "openssl rand -base64 32" in line


def test_a_setting_of_the_wrong_kind_is_named() -> None:
    line = one_line(ainas("migrate", AINAS_DB_POOL_SIZE="many"))
    assert "db_pool_size" in line
