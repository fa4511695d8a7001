"""`python -m bench compare --through ...`: the comparison with PgBouncer and/or a load balancer
in the service's path (SPEC §6, §7: the same figures behind PgBouncer and with several instances).

- `direct` (default): one instance, straight to PostgreSQL.
- `pgbouncer`: one instance through PgBouncer in transaction pooling mode
  (`AINAS_DATABASE_POOLER=transaction`; LISTEN direct).
- `haproxy`: two instances behind HAProxy, straight to PostgreSQL.
- `shape`: both: two instances through PgBouncer behind HAProxy (the production shape).

The baseline stays direct and alone in every case, so the ratio of one run next to the ratio of
a `direct` run says what PgBouncer or the load balancer costs (or gives). The service's CPU per
request counts the instances; PgBouncer's and HAProxy's own CPU shows under "others".
"""

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.servers import Server, service
from bench.shape import HAProxy, PgBouncer, ensure_packages, instance_env, with_host

CHOICES = ("direct", "pgbouncer", "haproxy", "shape")


@dataclass
class Route:
    """What stands in the service's path for one run, stopped at its end."""

    through: str
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="ainas-bench-shape-")))
    running: list[Any] = field(default_factory=list)

    @property
    def pooled(self) -> bool:
        """True when the service reaches PostgreSQL through PgBouncer."""
        return self.through in ("pgbouncer", "shape")

    @property
    def balanced(self) -> bool:
        """True when two instances serve behind HAProxy."""
        return self.through in ("haproxy", "shape")

    def database_env(self, dsn: str, env: dict[str, str]) -> dict[str, str]:
        """The service's environment: through PgBouncer (started now) when the run asks for it."""
        if not self.pooled:
            return env
        programs = ensure_packages()
        parts = urlsplit(dsn)
        bouncer = PgBouncer.configure(
            programs["pgbouncer"],
            self.directory,
            (parts.hostname or "127.0.0.1", parts.port or 5432),
            parts.username or "postgres",
        )
        bouncer.start()
        self.running.append(bouncer)
        # Two instances at the service's default pool size would pass PgBouncer's stock
        # max_client_conn (100): instance_env sets 20 unless the caller chose.
        return instance_env(dsn, with_host(dsn, "127.0.0.1", bouncer.port), env)

    def front(self, first: Server, env: dict[str, str]) -> Server:
        """The server the load goes to: the instance itself, or HAProxy before it and a second one."""
        if not self.balanced:
            return first
        self.running.append(first)
        second = service(env).start()
        self.running.append(second)
        programs = ensure_packages()
        haproxy = HAProxy.configure(programs["haproxy"], self.directory, [first.port, second.port])
        haproxy.start()
        self.running.append(haproxy)
        return Front(
            name="service", command=[], env=env, port=haproxy.port, process=first.process, others=[second]
        )

    def stop(self) -> None:
        """Stop what this run started, last first."""
        for part in reversed(self.running):
            part.stop()
        self.running.clear()
        shutil.rmtree(self.directory, ignore_errors=True)


@dataclass
class Front(Server):
    """HAProxy's address, standing for the instances behind it (their CPU is the server's)."""

    others: list[Server] = field(default_factory=list)

    @property
    def groups(self) -> set[int]:
        """The process groups of every instance behind the load balancer."""
        return {self.pid, *(other.pid for other in self.others)}

    def stop(self) -> None:
        """Nothing of its own: the instances and HAProxy are stopped by their Route."""
