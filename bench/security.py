"""Attacks of issue 10 against a real `ainas serve`, as figures: `python -m bench.security`.

1. Bursts: 30 wrong passwords sent at once (threads, one connection each) for one login ID and
   for one API key; counts how many were checked against argon2 (audit events with the reason
   `wrong_password` / `wrong_api_password`), and whether the right password then gets a token.
2. Memory: peak RSS (VmHWM) of one server process with the production argon2 cost
   (m=19456 KiB, t=2) under 40 parallel logins with unknown login IDs.

It drives any checkout of the service through its command line and HTTP only, so that the same
script measures the code before and after a change: `--tree PATH` runs PATH's `app` package
(e.g. `git archive <commit> | tar -x -C /tmp/before`), with this interpreter.
"""

import argparse
import asyncio
import base64
import json
import os
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
ADMIN_DSN = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
OPERATOR = "bench.operator"
OPERATOR_PASSWORD = "bench operator passphrase 1"
BURST = 30
PARALLEL_UNKNOWN = 40
CHEAP_ARGON2 = {"AINAS_ARGON2_MEMORY_KIB": "64", "AINAS_ARGON2_TIME_COST": "1"}
PRODUCTION_ARGON2 = {"AINAS_ARGON2_MEMORY_KIB": "19456", "AINAS_ARGON2_TIME_COST": "2"}


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(ADMIN_DSN)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@contextmanager
def database(backend: str, directory: Path) -> Iterator[str]:
    """A new empty database (SQLite file or PostgreSQL database), dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'bench-security.db'}"
        return
    name = f"ainas_security_{os.getpid()}_{secrets.token_hex(3)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{ADMIN_DSN.rpartition('/')[0]}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


class Service:
    """One `ainas serve` process of the tree under test."""

    def __init__(self, tree: Path, url: str, directory: Path, argon2: dict[str, str], **extra: str) -> None:
        self.tree = tree
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AINAS_")}
        self.env.update(
            DATABASE_URL=url,
            PYTHONPATH=str(tree),
            AINAS_ENVIRONMENT="production",
            AINAS_SECRET_KEY=secrets.token_urlsafe(48),
            # Production requires a certificate key since issue 14 (ignored by older trees).
            AINAS_CERTIFICATE_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
            AINAS_LOG_LEVEL="ERROR",
            **argon2,
            **extra,
        )
        self.log = (directory / f"server-{self.port}.log").open("wb")
        self.process: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str, stdin: str | None = None) -> None:
        """`ainas ARGS` of the tree under test."""
        subprocess.run(  # noqa: S603 (this interpreter, the tree's own module)
            [sys.executable, "-m", "app.cli", *args],
            cwd=self.tree,
            env=self.env,
            input=stdin,
            text=True,
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        """Serve and wait for /healthz."""
        self.process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "app.cli", "serve", "--port", str(self.port)],
            cwd=self.tree,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def peak_rss_kib(self) -> int:
        """VmHWM of the server process: the most resident memory it ever had."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise RuntimeError("no VmHWM")

    def stop(self) -> None:
        """SIGTERM, then wait."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=20)
        self.log.close()


def at_once(count: int, attempt: Callable[[httpx.Client, int], httpx.Response], base_url: str) -> list[int]:
    """Run `attempt` from `count` threads, each on a connection of its own opened beforehand,
    released together by a barrier; the status codes."""
    barrier = threading.Barrier(count)
    statuses: list[int] = [0] * count

    def run(index: int) -> None:
        with httpx.Client(base_url=base_url, timeout=120) as client:
            client.get("/healthz")  # the connection is open before the race starts
            barrier.wait()
            statuses[index] = attempt(client, index).status_code

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def audit_reasons(url: str, action: str) -> Counter[str]:
    """How many audit events of `action` there are, by their `reason`."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
            rows = connection.execute(
                "SELECT changes FROM audit_events WHERE action = ?", (action,)
            ).fetchall()
    else:

        async def fetch() -> list[Any]:
            connection = await asyncpg.connect(url)
            try:
                return list(
                    await connection.fetch("SELECT changes::text FROM audit_events WHERE action = $1", action)
                )
            finally:
                await connection.close()

        rows = asyncio.run(fetch())
    return Counter(json.loads(row[0]).get("reason", ["", "?"])[1] for row in rows)


def login(client: httpx.Client, login_id: str, password: str) -> httpx.Response:
    """POST /auth/token with the password grant."""
    return client.post(
        "/api/v1/auth/token", data={"grant_type": "password", "username": login_id, "password": password}
    )


def bursts(tree: Path, backend: str, extra: dict[str, str]) -> dict[str, Any]:
    """30 wrong passwords at once for a user, then for an API key; what was checked and what followed."""
    with tempfile.TemporaryDirectory() as temporary, database(backend, Path(temporary)) as url:
        service = Service(tree, url, Path(temporary), CHEAP_ARGON2, **extra)
        service.cli("migrate")
        service.cli("create-operator", OPERATOR, stdin=OPERATOR_PASSWORD + "\n")
        service.start()
        try:
            with httpx.Client(base_url=service.base_url, timeout=60) as http:
                token = login(http, OPERATOR, OPERATOR_PASSWORD).json()["access_token"]
                onboarded = http.post(
                    "/api/v1/organizations",
                    json={
                        "name": "株式会社計測",
                        "short_name": "計測",
                        "admins": [{"login_id": "bench.admin", "name": "計測 太郎"}],
                    },
                    headers={"Authorization": f"Bearer {token}"},
                ).json()["registration_notice"]
                key, api_password = onboarded["api_key"], onboarded["api_initial_password"]
                # The linked system has authenticated before the attack (as a running one has).
                assert http.get("/api/v1/me", auth=(key, api_password)).status_code == 200

            user_statuses = at_once(
                BURST, lambda client, n: login(client, OPERATOR, f"wrong guess {n}"), service.base_url
            )
            with httpx.Client(base_url=service.base_url, timeout=60) as http:
                right = login(http, OPERATOR, OPERATOR_PASSWORD)
                me = http.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
            key_statuses = at_once(
                BURST,
                lambda client, n: client.get("/api/v1/me", auth=(key, f"wrong api guess {n}")),
                service.base_url,
            )
            with httpx.Client(base_url=service.base_url, timeout=60) as http:
                right_key = http.get("/api/v1/me", auth=(key, api_password))
            return {
                "backend": backend,
                "settings": extra,
                "user": {
                    "statuses": dict(Counter(user_statuses)),
                    "checked": audit_reasons(url, "auth.login_failed")["wrong_password"],
                    "right_password_after": f"{right.status_code} {right.json().get('code', 'token')}",
                    "earlier_token_after": me.status_code,
                },
                "api_key": {
                    "statuses": dict(Counter(key_statuses)),
                    "checked": audit_reasons(url, "auth.api_key_failed")["wrong_api_password"],
                    "right_credentials_after": right_key.status_code,
                },
            }
        finally:
            service.stop()


def memory(tree: Path) -> dict[str, Any]:
    """Peak RSS of one process (production argon2 cost) under 40 parallel unknown-ID logins."""
    with tempfile.TemporaryDirectory() as temporary, database("sqlite", Path(temporary)) as url:
        service = Service(tree, url, Path(temporary), PRODUCTION_ARGON2)
        service.cli("migrate")
        service.start()
        try:
            with httpx.Client(base_url=service.base_url, timeout=60) as http:
                login(http, "warm.up", "not a password")  # the first hash of the process
            before = service.peak_rss_kib()
            started = time.perf_counter()
            statuses = at_once(
                PARALLEL_UNKNOWN,
                lambda client, n: login(client, f"nobody.{n}", "not a password"),
                service.base_url,
            )
            seconds = time.perf_counter() - started
            return {
                "peak_rss_mib_before_burst": round(before / 1024, 1),
                "peak_rss_mib_after_burst": round(service.peak_rss_kib() / 1024, 1),
                "statuses": dict(Counter(statuses)),
                "burst_seconds": round(seconds, 2),
            }
        finally:
            service.stop()


def main() -> None:
    """Run the measurements and print them as JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.security", description=__doc__)
    parser.add_argument("--tree", default=str(ROOT), help="checkout whose `app` to run (default: this one)")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--runs", type=int, default=3, help="bursts per database")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument(
        "--hash-concurrency",
        type=int,
        help="AINAS_HASH_CONCURRENCY for the bursts (e.g. 40, so that every attempt hashes at once)",
    )
    args = parser.parse_args()
    tree = Path(args.tree).resolve()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results: dict[str, Any] = {"tree": str(tree), "bursts": [], "memory": None}
    for backend in backends:
        for _ in range(args.runs):
            extra = {"AINAS_HASH_CONCURRENCY": str(args.hash_concurrency)} if args.hash_concurrency else {}
            result = bursts(tree, backend, extra)
            print(json.dumps(result, ensure_ascii=False), flush=True)
            results["bursts"].append(result)
    if not args.skip_memory:
        results["memory"] = memory(tree)
        print(json.dumps({"memory": results["memory"]}), flush=True)


if __name__ == "__main__":
    main()
