"""A real uvicorn process of the service on a loopback port, for fuzzing, concurrency and fault tests.

The in-process ASGI transport runs every request on one event loop; a separate server process
with its own connection pool gives truer concurrency and lets a test stop the database under it.
"""

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import IO, Any

import httpx
import pytest
from sqlalchemy import text

from app.cli import migrate
from app.runtime import build_runtime
from tests.conftest import _POSTGRES_OK, _POSTGRES_WHY, make_settings
from tests.fixtures.database import create_postgres_database, drop_postgres_database, empty_all_tables
from tests.fixtures.world import World, build_world
from tests.security.leaks import LeakScanner

ROOT = Path(__file__).resolve().parents[2]
# For a module whose server runs on PostgreSQL alone (races, row locks): skipped where it does not answer.
POSTGRES_ONLY = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(not _POSTGRES_OK, reason=f"PostgreSQL not available: {_POSTGRES_WHY}"),
]
# Importing the app alone took 10-25 s on the shared 2-core machine under other runs' load.
START_TIMEOUT_SECONDS = 90.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class LiveServer:
    """One `ainas serve` process; its JSON log lines go to a file that tests read back."""

    database_url: str
    secret_key: str
    port: int
    log_path: Path
    certificate_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    process: subprocess.Popen[bytes] | None = None
    _log_file: IO[bytes] | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:<port>."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, extra_env: dict[str, str] | None = None) -> None:
        """Start the process and wait (bounded) until /healthz answers."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("AINAS_") and key != "DATABASE_URL"
        }
        env.update(
            {
                "DATABASE_URL": self.database_url,
                "AINAS_ENVIRONMENT": "test",
                "AINAS_SECRET_KEY": self.secret_key,
                "AINAS_CERTIFICATE_KEY": self.certificate_key,
                "AINAS_ARGON2_MEMORY_KIB": "64",
                "AINAS_ARGON2_TIME_COST": "1",
                "AINAS_LOG_LEVEL": "INFO",
                "PYTHONPATH": str(ROOT),
                **(extra_env or {}),
            }
        )
        self._log_file = self.log_path.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log_text()}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not answer within {START_TIMEOUT_SECONDS}s:\n{self.log_text()}")

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after a bounded wait)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def log_text(self) -> str:
        """Everything the process wrote so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def log_lines(self) -> list[str]:
        """The process's output, one entry per line."""
        return [line for line in self.log_text().splitlines() if line.strip()]


def new_server(database_url: str, log_dir: Path) -> LiveServer:
    """A server description with a fresh port and signing key (not started)."""
    return LiveServer(
        database_url=database_url,
        secret_key=secrets.token_urlsafe(48),
        port=free_port(),
        log_path=log_dir / f"server-{secrets.token_hex(4)}.log",
    )


@contextmanager
def fresh_database(backend: str, directory: Path) -> Iterator[str]:
    """A new, migrated database of its own (SQLite file or PostgreSQL database), dropped afterwards."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{directory / f'live-{secrets.token_hex(4)}.db'}"
        migrate(url)
        yield url
        return
    database = create_postgres_database("ainas_live")
    try:
        migrate(database.url)
        yield database.url
    finally:
        drop_postgres_database(database)


@contextmanager
def started_server(
    backend: str, directory: Path, extra_env: dict[str, str] | None = None
) -> Iterator[LiveServer]:
    """A running server on a new database of its own (made outside any test's event loop), for a
    module's tests; stopped, and the database dropped, afterwards. Skips where PostgreSQL is
    wanted but does not answer."""
    if backend == "postgresql" and not _POSTGRES_OK:
        pytest.skip(f"PostgreSQL not available: {_POSTGRES_WHY}")
    with fresh_database(backend, directory) as url:
        server = new_server(url, directory)
        server.start(extra_env)
        try:
            yield server
        finally:
            server.stop()


class LiveSession:
    """One test's view of a live server: an HTTP client whose traffic the leak scanner sees,
    a runtime on the same database for direct checks, and the world built through HTTP."""

    def __init__(self, server: LiveServer, leaks: LeakScanner) -> None:
        self.server = server
        self.leaks = leaks
        self.runtime = build_runtime(make_settings(server.database_url))
        self._log_start = len(server.log_lines())
        hooks = {"request": [leaks.on_request], "response": [leaks.on_response]}
        self.http = httpx.AsyncClient(
            base_url=server.base_url,
            timeout=httpx.Timeout(30.0),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
            event_hooks=hooks,
        )
        leaks.learn(server.secret_key, "JWT signing key")

    async def start(self) -> World:
        """Empty every table, then build the world through the server."""
        await empty_all_tables(
            self.runtime.engine, "postgresql" if "postgresql" in self.server.database_url else "sqlite"
        )
        return await build_world(SimpleNamespace(state=SimpleNamespace(runtime=self.runtime)), self.http)  # type: ignore[arg-type]

    async def scalar(self, sql: str, **params: object) -> Any:
        """One value from the database."""
        async with self.runtime.engine.connect() as connection:
            return (await connection.execute(text(sql), params)).scalar()

    async def __aenter__(self) -> "LiveSession":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the client and engine; hand the server's new log lines to the leak scanner."""
        await self.http.aclose()
        await self.runtime.engine.dispose()
        for line in self.server.log_lines()[self._log_start :]:
            self.leaks.record_log_line(line)
