"""Secrets generated on first start and kept beside the SQLite database (app/config/local_secrets.py)."""

import asyncio
import os
import stat
from pathlib import Path

import httpx
import pytest

from app.config.local_secrets import UnusableSecret, local_secret, secret_path
from app.config.settings import Settings
from app.main import create_app
from app.runtime import build_runtime


def sqlite_url(directory: Path) -> str:
    return f"sqlite+aiosqlite:///{directory / 'ainas.db'}"


async def test_the_signing_key_is_generated_once_kept_private_and_reused(tmp_path: Path) -> None:
    settings = Settings(environment="development", database_url=sqlite_url(tmp_path))  # type: ignore[call-arg]
    first = build_runtime(settings)
    second = build_runtime(settings)
    try:
        kept = tmp_path / "ainas.db.secret-key"
        assert kept.exists()
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600
        key = first.settings.secret_key
        assert len(key) >= 64
        assert kept.read_text().strip() == key
        # A restart signs with the same key, so tokens issued before it stay valid.
        assert second.settings.secret_key == key
        # The settings object given stays as configured (nothing secret in it).
        assert settings.secret_key == ""
    finally:
        await first.engine.dispose()
        await second.engine.dispose()


async def test_different_databases_get_different_keys(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = local_secret("secret-key", "", sqlite_url(tmp_path / "a"))
    b = local_secret("secret-key", "", sqlite_url(tmp_path / "b"))
    assert a != b
    assert local_secret("secret-key", "", sqlite_url(tmp_path / "a")) == a
    # Another name is another secret (e.g. a key-encryption key) beside the same database.
    assert local_secret("certificate-key", "", sqlite_url(tmp_path / "a")) != a


def test_a_configured_value_is_used_and_nothing_is_written(tmp_path: Path) -> None:
    assert local_secret("secret-key", "configured value", sqlite_url(tmp_path)) == "configured value"
    assert list(tmp_path.iterdir()) == []


def test_in_memory_databases_get_a_key_per_process_and_no_file(tmp_path: Path) -> None:
    for url in ("sqlite+aiosqlite://", "sqlite+aiosqlite:///:memory:"):
        assert secret_path("secret-key", url) is None
        assert len(local_secret("secret-key", "", url)) >= 64
    assert secret_path("secret-key", "postgresql+asyncpg://u@h/db") is None


def test_a_kept_key_others_may_read_is_refused(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    local_secret("secret-key", "", url)
    kept = tmp_path / "ainas.db.secret-key"
    os.chmod(kept, 0o644)
    with pytest.raises(UnusableSecret, match="chmod 600"):
        local_secret("secret-key", "", url)


def test_a_kept_key_that_was_edited_into_a_weak_one_is_refused(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    kept = tmp_path / "ainas.db.secret-key"
    kept.write_text("a" * 40)
    os.chmod(kept, 0o600)
    with pytest.raises(UnusableSecret, match="too regular"):
        local_secret("secret-key", "", url)


def test_racing_first_starts_agree_on_one_key(tmp_path: Path) -> None:
    """Two processes starting at once: the second finds the first's key (an atomic link)."""
    from app.config import local_secrets

    url = sqlite_url(tmp_path)
    path = secret_path("secret-key", url)
    assert path is not None
    winner = local_secrets._create(path)
    assert local_secrets._create(path) == winner  # the loser reads the winner's key
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ainas.db.secret-key"]  # no drafts left


def test_tokens_survive_a_restart_on_the_generated_key(tmp_path: Path) -> None:
    """The point of keeping the key: a token issued before a restart is accepted after it."""
    from app.cli import migrate
    from tests.fixtures.principals import OPERATOR_PASSWORD, create_operator, token_response

    url = sqlite_url(tmp_path)
    migrate(url)
    settings = Settings(  # type: ignore[call-arg]
        environment="development", database_url=url, argon2_memory_kib=64, argon2_time_cost=1
    )

    async def before_restart() -> str:
        app = create_app(settings)
        await create_operator(app)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            token: str = (await token_response(http, "operator1", OPERATOR_PASSWORD)).json()["access_token"]
        await app.state.runtime.engine.dispose()
        return token

    async def after_restart(token: str) -> int:
        app = create_app(settings)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            me = await http.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        await app.state.runtime.engine.dispose()
        return me.status_code

    assert asyncio.run(after_restart(asyncio.run(before_restart()))) == 200


def test_a_new_sqlite_database_file_is_private_like_the_keys_beside_it(tmp_path: Path) -> None:
    from app.cli import migrate

    umask = os.umask(0o022)  # the usual umask: files are world-readable unless created otherwise
    try:
        migrate(sqlite_url(tmp_path))
    finally:
        os.umask(umask)
    files = sorted(path.name for path in tmp_path.iterdir())
    assert "ainas.db" in files
    for name in files:
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
