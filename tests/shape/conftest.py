"""The production shape's pieces for tests: PgBouncer (transaction pooling, Debian's package) in
front of the test PostgreSQL, and tests of this folder run through it in pooler mode.

PgBouncer and HAProxy are installed with apt-get when missing (bench/shape.py); where that is
impossible the tests are skipped, except in CI (`CI` set), where a skip would hide the shape.
"""

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from app.config.settings import Settings
from bench.shape import PgBouncer, ensure_packages, with_host
from tests.conftest import make_settings
from tests.fixtures.database import TestDatabase, postgres_admin_url


@pytest.fixture(scope="session")
def programs() -> dict[str, str]:
    """PgBouncer's and HAProxy's programs (installed when missing)."""
    try:
        return ensure_packages()
    except Exception as exc:
        if os.environ.get("CI"):
            raise  # CI must run the production shape, not skip it
        pytest.skip(f"PgBouncer and HAProxy could not be installed: {exc}")


@pytest.fixture(scope="session")
def pgbouncer(programs: dict[str, str]) -> Iterator[PgBouncer]:
    """One PgBouncer in transaction pooling mode in front of the test PostgreSQL server."""
    admin = urlsplit(postgres_admin_url())
    directory = Path(tempfile.mkdtemp(prefix="ainas-shape-"))
    bouncer = PgBouncer.configure(
        programs["pgbouncer"],
        directory,
        (admin.hostname or "127.0.0.1", admin.port or 5432),
        admin.username or "postgres",
    )
    bouncer.start()
    try:
        yield bouncer
    finally:
        bouncer.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def direct_database(postgres_database: TestDatabase) -> TestDatabase:
    """The test database, directly (migrations, LISTEN)."""
    return postgres_database


@pytest.fixture
def database(postgres_database: TestDatabase, pgbouncer: PgBouncer) -> TestDatabase:
    """The test PostgreSQL database, through PgBouncer (every test of this folder)."""
    return TestDatabase("postgresql", with_host(postgres_database.url, "127.0.0.1", pgbouncer.port))


@pytest.fixture
def settings(database: TestDatabase, postgres_database: TestDatabase) -> Settings:
    """Pooler mode; LISTEN direct; a small pool (waiting long polls must hold no connection)."""
    return make_settings(
        database.url,
        database_pooler="transaction",
        listen_database_url=postgres_database.url,
        db_pool_size=4,
    )
