"""Real `ainas` processes on local ports, for tests that must cross a real socket, and what an
operator does with them: commands, an operator login, an onboarded organization."""

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from app.cli import migrate
from tests.fixtures.database import scratch_postgres_database

ROOT = Path(__file__).resolve().parents[2]
AINAS = str(Path(sys.executable).with_name("ainas"))
# Importing the app alone took 10-25 s on the shared 2-core machine under other runs' load.
STARTUP_SECONDS = 90


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def server_env(database_url: str, secret_key: str, **extra: str) -> dict[str, str]:
    """Production-like settings with cheap argon2 parameters (set through configuration)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AINAS_")}
    env.update(
        DATABASE_URL=database_url,
        AINAS_ENVIRONMENT="production",
        AINAS_SECRET_KEY=secret_key,
        # Required in production; instances that share a database pass the same one in `extra`.
        AINAS_CERTIFICATE_KEY=secrets.token_urlsafe(32),
        AINAS_ARGON2_MEMORY_KIB="64",
        AINAS_ARGON2_TIME_COST="1",
        AINAS_LOG_LEVEL="WARNING",
        # Webhooks go to local receivers only (SPEC §5.7).
        AINAS_WEBHOOK_ALLOWED_HOSTS="127.0.0.1,localhost",
    )
    env.update(extra)
    return env


@dataclass
class RunningServer:
    """A started process and where it answers."""

    process: subprocess.Popen[str]
    base_url: str


def wait_until_up(base_url: str, process: subprocess.Popen[str]) -> None:
    """Poll /healthz until it answers; fail with the process output if it died."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("server did not start in time")


@contextmanager
def run(args: list[str], env: dict[str, str], port: int) -> Iterator[RunningServer]:
    """Run `ainas ARGS` until the block ends, then stop it."""
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(  # noqa: S603 (our own executable, fixed arguments)
            [AINAS, *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True
        )
        server = RunningServer(process, f"http://127.0.0.1:{port}")
        try:
            try:
                wait_until_up(server.base_url, process)
            except AssertionError:
                log.seek(0)
                raise AssertionError(log.read()[-4000:]) from None
            yield server
        finally:
            stop(process)


def stop(process: subprocess.Popen[Any]) -> None:
    """SIGTERM, and SIGKILL if the process has not ended 10 seconds later."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def new_secret() -> str:
    """A random signing key long enough for production mode."""
    return secrets.token_urlsafe(48)


@contextmanager
def two_instances(database_prefix: str) -> Iterator[tuple[str, str, dict[str, str]]]:
    """Two `ainas serve` processes on one new PostgreSQL database, as behind a load balancer:
    their base URLs and the environment they share. Skips where PostgreSQL does not answer."""
    with scratch_postgres_database(database_prefix) as url:
        migrate(url)
        env = server_env(url, new_secret())
        first_port, second_port = free_port(), free_port()
        with (
            run(["serve", "--port", str(first_port)], env, first_port) as first,
            run(["serve", "--port", str(second_port)], env, second_port) as second,
        ):
            yield first.base_url, second.base_url, env


def run_command(
    args: list[str], env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `ainas ARGS` to its end, as an operator would; a failing command fails the test."""
    return subprocess.run(  # noqa: S603 (our own executable, fixed arguments)
        [AINAS, *args],
        input=stdin,
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
        timeout=60,
        capture_output=True,
    )


def operator_headers(base_url: str, env: dict[str, str], login_id: str, password: str) -> dict[str, str]:
    """Create an operator with `ainas create-operator` (password on standard input) and log in."""
    run_command(["create-operator", login_id], env, stdin=f"{password}\n")
    token = httpx.post(
        f"{base_url}/api/v1/auth/token",
        data={"grant_type": "password", "username": login_id, "password": password},
    )
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def onboard(
    base_url: str, operator: dict[str, str], name: str, short_name: str, admin_login: str, admin_name: str
) -> dict[str, Any]:
    """POST /organizations as the operator; the registration notice."""
    onboarded = httpx.post(
        f"{base_url}/api/v1/organizations",
        json={
            "name": name,
            "short_name": short_name,
            "admins": [{"login_id": admin_login, "name": admin_name}],
        },
        headers=operator,
    )
    assert onboarded.status_code == 201
    notice: dict[str, Any] = onboarded.json()["registration_notice"]
    return notice
