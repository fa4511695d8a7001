"""The production shape without containers (SPEC §6; deploy/compose.yaml is the same with them).

PostgreSQL (already running) <- PgBouncer (transaction pooling) <- two `ainas serve` instances
<- HAProxy, every piece on a 127.0.0.1 port. PgBouncer and HAProxy are Debian's packages,
installed with apt-get when missing. The instances reach PostgreSQL through PgBouncer
(`AINAS_DATABASE_POOLER=transaction`) and LISTEN on a direct connection
(`AINAS_LISTEN_DATABASE_URL`). Used by the tests (tests/shape/), the benchmark
(`python -m bench compare --through pgbouncer|haproxy`) and scripts/production_shape.sh.

    python -m bench.shape run [--database-url postgresql://postgres@127.0.0.1:5432/ainas_shape]

PgBouncer keeps its stock settings except the pooling mode and where things are: nothing here
makes it accept what a default installation refuses (no `ignore_startup_parameters`, no
`max_prepared_statements`).
"""

import argparse
import asyncio
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
# Importing the app took 10-25 s on a loaded 2-core machine.
START_SECONDS = 90.0
PACKAGES = {"pgbouncer": "pgbouncer", "haproxy": "haproxy"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def executable(name: str) -> str | None:
    """Where a Debian package's program is (/usr/sbin is not on every PATH)."""
    found = shutil.which(name)
    if found is None and Path("/usr/sbin", name).exists():
        found = f"/usr/sbin/{name}"
    return found


def ensure_packages() -> dict[str, str]:
    """PgBouncer's and HAProxy's programs, installed from Debian's packages when missing."""
    missing = [package for program, package in PACKAGES.items() if executable(program) is None]
    if missing:
        sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)  # noqa: S603
        subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", *missing], check=True, env=env)  # noqa: S603
    programs = {program: executable(program) for program in PACKAGES}
    absent = [program for program, path in programs.items() if path is None]
    if absent:
        raise RuntimeError(f"not installed after apt-get: {', '.join(absent)}")
    return {program: str(path) for program, path in programs.items()}


def wait_for_port(port: int, process: subprocess.Popen[bytes], what: str, log: Path) -> None:
    """Until something accepts connections on the port (bounded); fail with the log if it died."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        with socket.socket() as probe:
            probe.settimeout(0.5)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port}:\n{log.read_text(errors='replace')}")


def with_host(url: str, host: str, port: int) -> str:
    """The URL with another host and port (the same database, user and options)."""
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@{host}:{port}" if credentials else f"{host}:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass
class Process:
    """A child process whose output goes to a file in the shape's directory."""

    name: str
    command: list[str]
    log: Path
    env: Mapping[str, str] | None = None
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it (output appended to its log)."""
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(  # noqa: S603 (fixed programs and arguments)
                self.command, cwd=ROOT, env=self.env, stdout=output, stderr=subprocess.STDOUT
            )

    @property
    def running(self) -> bool:
        """True while the process lives."""
        return self.process is not None and self.process.poll() is None

    def signal(self, number: int) -> None:
        """Send a signal (SIGTERM: drain; SIGKILL: a crash)."""
        if self.running:
            assert self.process is not None
            self.process.send_signal(number)

    def wait(self, seconds: float) -> int | None:
        """Its exit status, waiting up to `seconds`; None when it still runs."""
        assert self.process is not None
        try:
            return self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a bounded wait."""
        if not self.running:
            return
        self.signal(signal.SIGTERM)
        if self.wait(30) is None:
            self.signal(signal.SIGKILL)
            self.wait(10)


# The same as deploy/pgbouncer.ini, on the addresses of this run (tests/shape/test_compose.py
# compares): stock settings but for the pooling mode and where things are.
PGBOUNCER_CONFIG = """\
[databases]
* = host={upstream_host} port={upstream_port}

[pgbouncer]
listen_addr = {listen_addr}
listen_port = {listen_port}
unix_socket_dir =
auth_type = trust
auth_file = {auth_file}
admin_users = {user}
pool_mode = transaction
"""


@dataclass
class PgBouncer(Process):
    """PgBouncer in transaction pooling mode in front of one PostgreSQL server."""

    port: int = 0

    @classmethod
    def configure(cls, program: str, directory: Path, upstream: tuple[str, int], user: str) -> "PgBouncer":
        """Write its configuration (every database of the upstream server, `trust` for `user`)."""
        port = free_port()
        userlist = directory / "pgbouncer-users.txt"
        userlist.write_text(f'"{user}" ""\n')
        ini = directory / "pgbouncer.ini"
        ini.write_text(
            PGBOUNCER_CONFIG.format(
                upstream_host=upstream[0],
                upstream_port=upstream[1],
                listen_addr="127.0.0.1",
                listen_port=port,
                auth_file=userlist,
                user=user,
            )
        )
        for path in (directory, userlist, ini):
            path.chmod(0o755 if path.is_dir() else 0o644)
        # PgBouncer refuses to run as root: it drops to the postgres account (Debian's package
        # installs PostgreSQL's) when started as root.
        command = [program, *(["-u", "postgres"] if os.geteuid() == 0 else []), str(ini)]
        return cls(name="pgbouncer", command=command, log=directory / "pgbouncer.log", port=port)

    def start(self) -> None:
        """Start it and wait until it listens."""
        super().start()
        assert self.process is not None
        wait_for_port(self.port, self.process, "pgbouncer", self.log)


@dataclass
class HAProxy(Process):
    """HAProxy in front of the instances: health checks on /readyz, retries on another server."""

    port: int = 0

    @classmethod
    def configure(cls, program: str, directory: Path, backends: list[int]) -> "HAProxy":
        """Write its configuration for these instance ports."""
        port = free_port()
        servers = "".join(
            f"    server instance{number} 127.0.0.1:{backend} check\n"
            for number, backend in enumerate(backends, start=1)
        )
        config = directory / "haproxy.cfg"
        config.write_text(HAPROXY_CONFIG.format(bind=f"127.0.0.1:{port}", servers=servers))
        command = [program, "-db", "-f", str(config)]
        return cls(name="haproxy", command=command, log=directory / "haproxy.log", port=port)

    def start(self) -> None:
        """Start it and wait until it listens."""
        super().start()
        assert self.process is not None
        wait_for_port(self.port, self.process, "haproxy", self.log)


# The same as deploy/haproxy.cfg, on the ports of this run (tests/shape/test_compose.py compares).
HAPROXY_CONFIG = """\
global
    maxconn 2000
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 10s
    option http-server-close
    retries 3
    option redispatch 1
    # A request that never reached an instance (refused: it drains or restarts) goes to another.
    # One that reached it and got no answer (killed) is not resent here: it answers 502, and the
    # client retries (a write with its Idempotency-Key, which makes the retry safe).
    retry-on conn-failure
frontend api
    bind {bind}
    default_backend instances
backend instances
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 500ms fall 1 rise 2
{servers}"""


@dataclass
class Instance(Process):
    """One `ainas serve` process."""

    port: int = 0

    @property
    def url(self) -> str:
        """http://127.0.0.1:<port>."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start it and wait (bounded) until /healthz answers."""
        self.launch()
        self.wait_until_up()

    def launch(self) -> None:
        """Start the process without waiting for it."""
        super().start()

    def wait_until_up(self) -> None:
        """Until /healthz answers (bounded); fail with the log if the process ended."""
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"{self.name} exited:\n{self.log.read_text(errors='replace')}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer in time:\n{self.log.read_text(errors='replace')}")


@dataclass
class Shape:
    """What `production_shape` started."""

    directory: Path
    database_url: str  # direct to PostgreSQL
    pooled_url: str  # the same database through PgBouncer
    env: dict[str, str]
    pgbouncer: PgBouncer
    instances: list[Instance]
    haproxy: HAProxy
    extra: list[Process] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Where clients go: HAProxy."""
        return f"http://127.0.0.1:{self.haproxy.port}"


def instance_env(database_url: str, pooled_url: str, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of the instances: through PgBouncer, LISTEN direct, shared keys."""
    env = dict(base if base is not None else os.environ)
    env.update(
        {
            "DATABASE_URL": pooled_url,
            "AINAS_DATABASE_POOLER": "transaction",
            "AINAS_LISTEN_DATABASE_URL": database_url,
            "PYTHONPATH": str(ROOT),
        }
    )
    env.setdefault("AINAS_SECRET_KEY", secrets.token_urlsafe(48))
    env.setdefault("AINAS_CERTIFICATE_KEY", secrets.token_urlsafe(32))
    # Two instances on PgBouncer's stock max_client_conn (100), with room for the tools.
    env.setdefault("AINAS_DB_POOL_SIZE", "20")
    return env


@contextmanager
def production_shape(
    database_url: str, env: Mapping[str, str] | None = None, instances: int = 2, *, migrate: bool = True
) -> Iterator[Shape]:
    """Start PgBouncer, the instances (through it) and HAProxy; stop them all when the block ends."""
    programs = ensure_packages()
    plain = database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    parts = urlsplit(plain)
    upstream = (parts.hostname or "127.0.0.1", parts.port or 5432)
    directory = Path(tempfile.mkdtemp(prefix="ainas-shape-"))
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, directory, ignore_errors=True)  # runs last
        pgbouncer = PgBouncer.configure(
            programs["pgbouncer"], directory, upstream, parts.username or "postgres"
        )
        pgbouncer.start()
        stack.callback(pgbouncer.stop)
        pooled = with_host(plain, "127.0.0.1", pgbouncer.port)
        if migrate:
            from app.cli import migrate as run_migrations

            run_migrations(plain)  # DDL direct: a migration's transaction is long and session-bound
        shared = instance_env(plain, pooled, env)
        started: list[Instance] = []
        for number in range(1, instances + 1):
            port = free_port()
            instance = Instance(
                name=f"instance{number}",
                command=[
                    sys.executable,
                    "-m",
                    "app.cli",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                log=directory / f"instance{number}.log",
                env=shared,
                port=port,
            )
            instance.launch()  # all at once: each takes seconds to import the application
            stack.callback(instance.stop)
            started.append(instance)
        for instance in started:
            instance.wait_until_up()
        haproxy = HAProxy.configure(programs["haproxy"], directory, [instance.port for instance in started])
        haproxy.start()
        stack.callback(haproxy.stop)
        shape = Shape(directory, plain, pooled, shared, pgbouncer, started, haproxy)
        wait_until_ready(shape.url)
        yield shape


def wait_until_ready(url: str, seconds: float = 30) -> None:
    """Until HAProxy has a healthy instance (its checks run every 500 ms)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url}/readyz did not answer 200 within {seconds}s")


async def ensure_database(url: str) -> None:
    """CREATE DATABASE when the URL's database does not exist yet (asked of the server's `postgres`)."""
    plain = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    parts = urlsplit(plain)
    name = parts.path.lstrip("/")
    admin = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")))
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


def main(argv: list[str] | None = None) -> None:
    """`python -m bench.shape run`: start the shape, print where it answers, stop on Ctrl-C/SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m bench.shape", description=__doc__)
    parser.add_argument("command", choices=["run", "install"])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/ainas_shape"),
        help="PostgreSQL, direct: created when missing, then migrated (default: ainas_shape on the local server)",
    )
    parser.add_argument("--instances", type=int, default=2)
    args = parser.parse_args(argv)
    if args.command == "install":
        print(ensure_packages())
        return
    stop = False

    def finish(_number: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, finish)
    signal.signal(signal.SIGINT, finish)
    asyncio.run(ensure_database(args.database_url))
    with production_shape(args.database_url, instances=args.instances) as shape:
        print(f"load balancer (HAProxy): {shape.url}", flush=True)
        print(f"PgBouncer: 127.0.0.1:{shape.pgbouncer.port} (transaction pooling)", flush=True)
        for instance in shape.instances:
            print(f"{instance.name}: {instance.url} (log {instance.log})", flush=True)
        while not stop:
            time.sleep(0.5)
    print("stopped", flush=True)


if __name__ == "__main__":
    main()
