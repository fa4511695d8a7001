"""Fixtures: a migrated database per backend, the real app over httpx, principals, a movable clock."""

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from app.cli import migrate
from app.config.clock import ManualClock
from app.config.settings import Settings
from app.main import create_app
from tests.fixtures.database import (
    TestDatabase,
    create_postgres_database,
    drop_postgres_database,
    empty_all_tables,
    postgres_available,
)
from tests.fixtures.world import World, build_world

_POSTGRES_OK, _POSTGRES_WHY = postgres_available()
BACKENDS = ["sqlite", "postgresql"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgres_only: needs PostgreSQL (concurrency, faults)")
    if not _POSTGRES_OK and os.environ.get("AINAS_REQUIRE_POSTGRES") == "1":
        pytest.exit(f"AINAS_REQUIRE_POSTGRES=1 but PostgreSQL does not answer: {_POSTGRES_WHY}", returncode=3)


def pytest_report_header(config: pytest.Config) -> str:
    if _POSTGRES_OK:
        return "databases: SQLite and PostgreSQL"
    return f"databases: SQLite only -- PostgreSQL LEFT OUT ({_POSTGRES_WHY})"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _POSTGRES_OK:
        terminalreporter.write_line(
            f"NOTE: PostgreSQL did not answer, so the PostgreSQL half of the suite was skipped: {_POSTGRES_WHY}",
            yellow=True,
        )


@pytest.fixture(scope="session")
def sqlite_database(tmp_path_factory: pytest.TempPathFactory) -> TestDatabase:
    path = Path(tmp_path_factory.mktemp("sqlite")) / "ainas-test.db"
    database = TestDatabase("sqlite", f"sqlite+aiosqlite:///{path}")
    migrate(database.url)
    return database


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[TestDatabase]:
    if not _POSTGRES_OK:
        pytest.skip(f"PostgreSQL not available: {_POSTGRES_WHY}")
    database = create_postgres_database()
    try:
        migrate(database.url)
        yield database
    finally:
        drop_postgres_database(database)


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest) -> TestDatabase:
    """Each test that uses the database runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite" and request.node.get_closest_marker("postgres_only"):
        pytest.skip("PostgreSQL only")
    fixture = "sqlite_database" if request.param == "sqlite" else "postgres_database"
    database: TestDatabase = request.getfixturevalue(fixture)
    return database


def make_settings(database_url: str, **overrides: object) -> Settings:
    """Test settings: cheap argon2 parameters (through configuration), a random signing key."""
    values: dict[str, object] = {
        "environment": "test",
        "database_url": database_url,
        "secret_key": secrets.token_urlsafe(48),
        "certificate_key": secrets.token_urlsafe(32),
        "argon2_memory_kib": 64,
        "argon2_time_cost": 1,
        "log_level": "WARNING",
        # Webhooks go to local receivers only (SPEC §5.7).
        "webhook_allowed_hosts": ["127.0.0.1", "localhost"],
        "webhook_allow_private": True,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(database: TestDatabase) -> Settings:
    return make_settings(database.url)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 4, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
async def app(settings: Settings, clock: ManualClock, database: TestDatabase) -> AsyncIterator[object]:
    application = create_app(settings, clock)
    await empty_all_tables(application.state.runtime.engine, database.backend)
    yield application
    await application.state.runtime.engine.dispose()


@pytest.fixture
async def client(app: object) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
async def world(app: object, client: httpx.AsyncClient) -> World:
    """Two onboarded organizations with a user of every role (see tests/fixtures/world.py)."""

    return await build_world(app, client)  # type: ignore[arg-type]
