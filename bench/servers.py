"""The PostgreSQL database of a run, and the two servers under test, started and stopped by the benchmark."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
ADMIN_DSN = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _with_database(dsn: str, name: str) -> str:
    return f"{dsn.rpartition('/')[0]}/{name}"


@dataclass
class Database:
    """A database made for one run; dropped at the end."""

    name: str

    @property
    def dsn(self) -> str:
        """Plain libpq URL (asyncpg, and DATABASE_URL: the service picks its driver)."""
        return _with_database(ADMIN_DSN, self.name)

    @classmethod
    def create(cls, prefix: str) -> "Database":
        """CREATE DATABASE with a unique name."""
        name = f"{prefix}_{os.getpid()}_{int(time.time())}"
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
        # Index builds after a bulk load (the scale data) go faster with more memory.
        asyncio.run(_admin(f"ALTER DATABASE \"{name}\" SET maintenance_work_mem = '512MB'"))
        return cls(name)

    def drop(self) -> None:
        """DROP DATABASE, ending connections left to it."""
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(ADMIN_DSN)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    """A server process (with its workers) listening on 127.0.0.1."""

    name: str
    command: list[str]
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def pid(self) -> int:
        """The server's process (and process group) id."""
        assert self.process is not None
        return self.process.pid

    @property
    def groups(self) -> set[int]:
        """The process groups whose CPU is the server's."""
        return {self.pid}

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_path: str = "/healthz", timeout: float = 60) -> "Server":
        """Start and wait until it answers."""
        handle = tempfile.NamedTemporaryFile(prefix=f"bench-{self.name}-", suffix=".log", delete=False)  # noqa: SIM115
        self.log = Path(handle.name)
        command = [*self.command, "--host", "127.0.0.1", "--port", str(self.port)]
        self.process = subprocess.Popen(  # noqa: S603 (our own server commands)
            command, cwd=ROOT, env=self.env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        handle.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + ready_path, timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer within {timeout} s")

    def stop(self) -> None:
        """Stop the process group this benchmark started (the server and its workers)."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)
        if self.log is not None:
            self.log.unlink(missing_ok=True)


def service(env: dict[str, str], workers: int = 1) -> Server:
    """The service, started the way production starts it: `ainas serve` (uvicorn, uvloop, httptools)."""
    return Server("service", [str(VENV_BIN / "ainas"), "serve", "--workers", str(workers)], env)


def baseline(env: dict[str, str], dsn: str, workers: int = 1) -> Server:
    """The baseline under the same uvicorn, uvloop and httptools."""
    command = [
        str(VENV_BIN / "python"),
        "-m",
        "uvicorn",
        "bench.baseline:create_app",
        "--factory",
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
        "--workers",
        str(workers),
    ]
    return Server("baseline", command, {**env, "BASELINE_DATABASE_URL": dsn})
