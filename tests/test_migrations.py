"""One Alembic history builds both databases from empty, and goes back down to empty."""

import asyncio
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from app.cli import ROOT, migrate
from app.db.orm import exists_on
from app.models import Base
from tests.fixtures.database import scratch_postgres_database


def _config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    config.attributes["configure_logging"] = False
    return config


async def _tables(url: str) -> set[str]:
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        names = await connection.run_sync(lambda sync: set(sa.inspect(sync).get_table_names()))
    await engine.dispose()
    return names - {"alembic_version"}


def _check_up_and_down(url: str) -> None:
    # Synchronous on purpose: Alembic's env runs its own event loop.
    migrate(url)
    assert asyncio.run(_tables(url)) == set(Base.metadata.tables)
    command.downgrade(_config(url), "base")
    assert asyncio.run(_tables(url)) == set()
    migrate(url)
    assert asyncio.run(_tables(url)) == set(Base.metadata.tables)


def test_sqlite_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    _check_up_and_down(f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}")


def test_postgresql_upgrade_downgrade_upgrade() -> None:
    with scratch_postgres_database("ainas_migration") as url:
        _check_up_and_down(url)


def _drift(url: str) -> list[object]:
    """What Alembic's autogenerate would change to make the migrated database match the models."""

    async def compare() -> list[object]:
        engine = create_async_engine(url)
        async with engine.connect() as connection:

            def diff(sync: sa.Connection) -> list[object]:
                dialect = sync.dialect.name
                context = MigrationContext.configure(
                    sync,
                    opts={"include_object": lambda obj, *_: exists_on(obj, dialect)},
                )
                return list(compare_metadata(context, Base.metadata))

            found = await connection.run_sync(diff)
        await engine.dispose()
        return found

    migrate(url)
    return asyncio.run(compare())


def test_sqlite_models_match_migrations(tmp_path: Path) -> None:
    assert _drift(f"sqlite+aiosqlite:///{tmp_path / 'drift.db'}") == []


def test_postgresql_models_match_migrations() -> None:
    with scratch_postgres_database("ainas_drift") as url:
        assert _drift(url) == []
