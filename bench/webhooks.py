"""Webhooks (issue 22): how soon a change reaches its endpoints, how fast a backlog drains, and
what registered endpoints cost a location create.

1. First-attempt delay: ENDPOINTS endpoints spread over ORGANIZATIONS organizations (SPEC §5.7
   allows 10 per organization), all on one local receiver. A location is created every WRITE_EVERY
   seconds, in each organization in turn, and each change goes to that organization's endpoints;
   the figure is, per change and endpoint, the time from the writer's 201 to the message's arrival
   at the receiver (p50 / p99 / max).
   The receiver runs in a process of its own (raw asyncio sockets); both sides use
   CLOCK_MONOTONIC, one clock for every process of the machine.
2. Backlog drain: BACKLOG entries COPYed into the feed of an organization with one endpoint;
   the time from the copy's commit to the last message's arrival.
3. Location create with ENDPOINTS endpoints registered, spread the same way (the writer's
   organization has its share of them, whose messages are delivered meanwhile), as the
   comparison's `create` scenario measures it, beside the bare baseline.

Targets: first attempt p99 < 1 s; the drain < 60 s; the create ratio ≥ 0.3 of the baseline.
Sizes can be made tiny to see that it works: AINAS_BENCH_WEBHOOK_ENDPOINTS, _WRITES, _BACKLOG.
"""

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench import cpu
from bench.feed import _fill, _percentile
from bench.run import Context, migrate, scenarios, service_env
from bench.servers import ROOT, Database, Server, baseline, service
from bench.world import OPERATOR, Org, create_operator, onboard, token

ENDPOINTS = int(os.environ.get("AINAS_BENCH_WEBHOOK_ENDPOINTS", "50"))
WRITES = int(os.environ.get("AINAS_BENCH_WEBHOOK_WRITES", "40"))
BACKLOG = int(os.environ.get("AINAS_BENCH_WEBHOOK_BACKLOG", "10000"))
WRITE_EVERY = 0.3
# The endpoints are spread over this many organizations, at most PER_ORGANIZATION each.
ORGANIZATIONS = 5
PER_ORGANIZATION = 10
_OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"


# -- the receiver's process -----------------------------------------------------------------


async def _serve(port_file: str, stop_file: str, out_file: str) -> None:
    """Answer 200 to every POST, noting (webhook-id, resource id, arrival) of each."""
    seen: list[tuple[str, str, float]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                headers = dict(
                    line.decode().lower().split(": ", 1) for line in head.split(b"\r\n")[1:] if b": " in line
                )
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                arrived = time.monotonic()
                writer.write(_OK)
                resource = json.loads(body)["data"].get("resource", {}).get("id", "")
                seen.append((headers.get("webhook-id", ""), resource, arrived))
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    Path(port_file).write_text(str(server.sockets[0].getsockname()[1]))
    while not Path(stop_file).exists():  # noqa: ASYNC110 (another process says when)
        await asyncio.sleep(0.1)
    server.close()
    Path(out_file).write_text(json.dumps(seen))


def receiver_main(argv: list[str]) -> None:
    """`python -m bench.webhooks PORT_FILE STOP_FILE OUT_FILE` (the receiver's process)."""
    asyncio.run(_serve(*argv))


class Receiver:
    """The receiver's process, its port, and what it saw when stopped."""

    def __init__(self) -> None:
        tmp = Path(f"/tmp/ainas-bench-webhooks-{time.monotonic_ns()}")  # noqa: S108 (our own run's files)
        self.port_file, self.stop_file, self.out_file = (
            tmp.with_suffix(s) for s in (".port", ".stop", ".json")
        )
        self.process = subprocess.Popen(  # noqa: S603 (this very module)
            [
                sys.executable,
                "-m",
                "bench.webhooks",
                str(self.port_file),
                str(self.stop_file),
                str(self.out_file),
            ],
            cwd=ROOT,
        )
        deadline = time.monotonic() + 30
        while not self.port_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the receiver did not start")
            time.sleep(0.05)
        time.sleep(0.05)
        self.url = f"http://127.0.0.1:{self.port_file.read_text()}/hook"

    def stop(self) -> list[tuple[str, str, float]]:
        """Stop it; every (webhook-id, resource id, arrival) it saw."""
        self.stop_file.write_text("stop")
        self.process.wait(timeout=60)
        seen = [tuple(item) for item in json.loads(self.out_file.read_text())]
        for path in (self.port_file, self.stop_file, self.out_file):
            path.unlink(missing_ok=True)
        return seen  # type: ignore[return-value]


# -- the measuring side ---------------------------------------------------------------------


def _register(url: str, admin_token: str, org_id: str, receiver_url: str, count: int) -> None:
    with httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {admin_token}"}) as http:
        for _ in range(count):
            http.post(
                f"/api/v1/organizations/{org_id}/webhook-endpoints", json={"url": receiver_url}
            ).raise_for_status()


def _spread(total: int) -> list[int]:
    """How many of `total` endpoints each of the ORGANIZATIONS organizations gets (as even as can be)."""
    if total > ORGANIZATIONS * PER_ORGANIZATION:
        raise SystemExit(
            f"AINAS_BENCH_WEBHOOK_ENDPOINTS={total}: at most {ORGANIZATIONS * PER_ORGANIZATION} "
            f"({PER_ORGANIZATION} in each of {ORGANIZATIONS} organizations)"
        )
    return [
        total // ORGANIZATIONS + (1 if index < total % ORGANIZATIONS else 0) for index in range(ORGANIZATIONS)
    ]


def _organizations_with_endpoints(
    server: Server, operator_token: str, receiver_url: str, name: str, login: str
) -> list[tuple[Org, str, int]]:
    """ORGANIZATIONS new organizations with ENDPOINTS endpoints spread over them: (organization,
    its admin's token, its endpoints), in order."""
    made = []
    for index, count in enumerate(_spread(ENDPOINTS)):
        digit = "０１２３４５６７８９"[index % 10]
        org = onboard(
            server.url, operator_token, f"株式会社{name}{digit}", f"{name[:4]}{digit}", f"{login}{index}"
        )
        admin_token = token(server.url, org.admin_login)
        _register(server.url, admin_token, org.id, receiver_url, count)
        made.append((org, admin_token, count))
    return made


def first_attempt_delay(server: Server, operator_token: str) -> dict[str, Any]:
    """WRITES changes, in each organization in turn: delay from 201 to arrival at each of its endpoints."""
    receiver = Receiver()
    expected = 0
    try:
        organizations = _organizations_with_endpoints(
            server, operator_token, receiver.url, "配信遅延計測", "hook.delay"
        )
        written: dict[str, float] = {}
        with httpx.Client(base_url=server.url, timeout=30) as http:
            for number in range(WRITES):
                org, admin_token, count = organizations[number % len(organizations)]
                time.sleep(WRITE_EVERY)
                code = f"D{number:05d}"
                answer = http.post(
                    f"/api/v1/organizations/{org.id}/locations",
                    json={"code": code, "name": "配信計測拠点", "short_name": "配信計測"},
                    headers={"Authorization": f"Bearer {admin_token}"},
                )
                written[code] = time.monotonic()
                answer.raise_for_status()
                expected += count
        time.sleep(3)
    finally:
        seen = receiver.stop()
    first: dict[tuple[str, str], float] = {}
    for webhook_id, code, arrived in seen:
        endpoint = webhook_id.split("_")[1] if webhook_id.count("_") >= 2 else webhook_id
        first.setdefault((endpoint, code), arrived)
    delays = [(at - written[code]) * 1000 for (_, code), at in first.items() if code in written]
    # The first write's messages apart (shown, not checked): each of its endpoints' first message
    # after the server started; the checked p99 counts them.
    first_write = f"D{0:05d}"
    later = [
        (at - written[code]) * 1000
        for (_, code), at in first.items()
        if code in written and code != first_write
    ]
    figures = {
        "endpoints": ENDPOINTS,
        "organizations": ORGANIZATIONS,
        "writes": WRITES,
        "pairs": len(delays),
        "missing": expected - len(delays),
        "p50_ms": round(statistics.median(delays), 1) if delays else None,
        "p99_ms": round(_percentile(delays, 0.99), 1) if delays else None,
        "max_ms": round(max(delays), 1) if delays else None,
        "p99_after_first_write_ms": round(_percentile(later, 0.99), 1) if later else None,
    }
    print(
        f"  first attempt    {ENDPOINTS} endpoints over {ORGANIZATIONS} organizations, {WRITES} writes: "
        f"p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms, max {figures['max_ms']} ms, "
        f"missing {figures['missing']} of {expected}; "
        f"p99 without the first write {figures['p99_after_first_write_ms']} ms",
        flush=True,
    )
    return figures


def backlog_drain(server: Server, operator_token: str, dsn: str) -> dict[str, Any]:
    """BACKLOG entries behind one endpoint: from their commit to the last arrival."""
    org = onboard(server.url, operator_token, "株式会社配信一括計測", "配信一括", "hook.drain")
    admin_token = token(server.url, org.admin_login)
    receiver = Receiver()
    try:
        _register(server.url, admin_token, org.id, receiver.url, 1)
        asyncio.run(_fill(dsn, int(org.id), BACKLOG))
        committed = time.monotonic()
        asyncio.run(_notify(dsn, org.id))
        deadline = committed + 300
        while time.monotonic() < deadline:
            with httpx.Client(
                base_url=server.url, headers={"Authorization": f"Bearer {admin_token}"}
            ) as http:
                endpoint = http.get(f"/api/v1/organizations/{org.id}/webhook-endpoints").json()["items"][0]
                latest = http.get(
                    f"/api/v1/organizations/{org.id}/webhook-endpoints/{endpoint['id']}/deliveries",
                    params={"limit": 1},
                ).json()
            if latest["total"] >= BACKLOG:
                break
            time.sleep(0.5)
    finally:
        seen = receiver.stop()
    arrivals = sorted(at for _, _, at in seen)
    figures = {
        "messages": BACKLOG,
        "received": len(seen),
        "distinct": len({webhook_id for webhook_id, _, _ in seen}),
        "seconds": round(arrivals[-1] - committed, 2) if arrivals else None,
        "per_second": round(len(seen) / (arrivals[-1] - committed), 1) if arrivals else None,
    }
    print(
        f"  backlog drain    {BACKLOG:,} messages to one receiver: {figures['seconds']} s "
        f"({figures['per_second']}/s), received {figures['received']}",
        flush=True,
    )
    return figures


async def _notify(dsn: str, organization_id: str) -> None:
    """Announce the copied entries as a commit would."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("SELECT pg_notify('ainas_changes', $1)", str(int(organization_id)))
    finally:
        await connection.close()


def create_with_endpoints(
    server: Server, base: Server, operator_token: str, args: argparse.Namespace
) -> dict[str, Any]:
    """The comparison's `create` scenario with ENDPOINTS endpoints registered over ORGANIZATIONS
    organizations (the writer's among them), and the baseline's."""
    from bench.run import measure

    receiver = Receiver()
    try:
        organizations = _organizations_with_endpoints(
            server, operator_token, receiver.url, "配信作成計測", "hook.create"
        )
        writer, writer_token, writer_endpoints = organizations[0]
        context = Context(
            main=writer,
            writer=writer,
            main_token=writer_token,
            writer_token=writer_token,
            codes=[],
            logins=[],
        )
        create = next(scenario for scenario in scenarios(args.connections, 1) if scenario.key == "create")
        # The baseline first: the service's worker goes on delivering the run's messages after
        # it, and must not take the baseline's CPU.
        cpu.wait_for_quiet()
        baseline_figures = measure(base, create, context, 0, args.duration)
        cpu.wait_for_quiet()
        started = time.monotonic()
        service_figures = measure(server, create, context, 0, args.duration)
        ended = time.monotonic()
    finally:
        seen = receiver.stop()
    during = sum(1 for _, _, arrived in seen if started <= arrived <= ended)
    ratio = service_figures.rps / baseline_figures.rps if baseline_figures.rps else None
    figures = {
        "endpoints": ENDPOINTS,
        "organizations": ORGANIZATIONS,
        "writer_endpoints": writer_endpoints,
        "service_rps": round(service_figures.rps, 1),
        "baseline_rps": round(baseline_figures.rps, 1),
        "ratio": round(ratio, 2) if ratio is not None else None,
        "service_p99_ms": service_figures.p99_ms,
        "errors": service_figures.errors,
        "messages_received": len(seen),
        "messages_during_service_run": during,
    }
    print(
        f"  create           with {ENDPOINTS} endpoints ({writer_endpoints} of the writer's): "
        f"{figures['service_rps']} req/s vs baseline "
        f"{figures['baseline_rps']}: ratio {figures['ratio']} ({during} messages delivered during the "
        f"service's run, {len(seen)} in all)",
        flush=True,
    )
    return figures


def webhooks(args: argparse.Namespace) -> dict[str, Any]:
    """One service instance (its worker inside) and the baseline on a fresh database."""
    database = Database.create("ainas_webhooks")
    env = service_env(database.dsn, secrets.token_hex(32))
    # The receiver is local: development rules (private addresses, http) with the egress allow-list.
    env.update(
        AINAS_ENVIRONMENT="test",
        AINAS_WEBHOOK_ALLOW_PRIVATE="1",
        AINAS_WEBHOOK_ALLOWED_HOSTS="127.0.0.1,localhost",
        AINAS_WEBHOOK_CONCURRENCY=str(max(ENDPOINTS, 20)),
    )
    servers: list[Server] = []
    try:
        migrate(database.dsn)
        create_operator(env)
        first = service(env).start()
        servers.append(first)
        base = baseline(env, database.dsn).start()
        servers.append(base)
        operator_token = token(first.url, OPERATOR)
        results: dict[str, Any] = {}
        cpu.wait_for_quiet()
        results["first_attempt"] = first_attempt_delay(first, operator_token)
        cpu.wait_for_quiet()
        results["backlog"] = backlog_drain(first, operator_token, database.dsn)
        results["create"] = create_with_endpoints(first, base, operator_token, args)
        results["checks"] = {
            "first_attempt_p99_ok": (results["first_attempt"]["p99_ms"] or 1e9) < 1000
            and results["first_attempt"]["missing"] == 0,
            "backlog_ok": (results["backlog"]["seconds"] or 1e9) < 60
            and results["backlog"]["distinct"] == BACKLOG,
            "create_ratio_ok": (results["create"]["ratio"] or 0) >= 0.3,
        }
        print(f"  checks: {results['checks']}", flush=True)
        return results
    finally:
        for server in servers:
            server.stop()
        database.drop()


if __name__ == "__main__":
    receiver_main(sys.argv[1:])
