"""The change feed (issue 13): how soon a waiting reader hears of a change, and how fast a
follower drains a long feed.

1. Long-poll delay: READERS linked systems long-poll the organization's feed (`wait=30`, HTTP
   Basic) on instance A. A writer creates a location every WRITE_EVERY seconds, through A (one
   instance) or through B (across instances: LISTEN/NOTIFY through PostgreSQL). The figure is,
   per change and per reader, the time from the moment the writer got its 201 to the moment the
   reader got the answer that carries the change; p50 / p99 / max over all pairs. The readers
   run in a process of their own (raw asyncio sockets, so that reading 200 answers at once costs
   the measuring side little), the writer in this one; both use CLOCK_MONOTONIC, which is one
   clock for every process of the machine.
2. Drain: 100,000 entries (COPY into the feed of a fresh organization, counter set to match)
   followed from the start with `limit=1000` through HTTP Basic, one request after another.

Targets: p99 < 100 ms on one instance and < 250 ms across two, with 200 readers connected;
the drain < 5 s.
"""

import argparse
import asyncio
import json
import secrets
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson

from bench import cpu
from bench.run import migrate, service_env
from bench.servers import ROOT, Database, Server, service
from bench.world import OPERATOR, Org, create_operator, onboard, token

READERS = 200
WRITES = 60
WRITE_EVERY = 0.35
DRAIN_ENTRIES = 100_000
DRAIN_LIMIT = 1000


# -- the readers' process -------------------------------------------------------------------


async def _reader(
    host: str, port: int, path: str, auth: str, cursor: str, seen: list[tuple[str, float]]
) -> None:
    """Long-poll for ever on one keep-alive connection, noting when each change arrived."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while True:
            request = (
                f"GET {path}?after={cursor}&wait=30 HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\n\r\n"
            )
            writer.write(request.encode())
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            arrived = time.monotonic()
            answer = orjson.loads(body)
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"reader got {head[:40]!r}: {body[:200]!r}")
            for item in answer["items"]:
                seen.append((item["resource"]["id"], arrived))
            cursor = answer["next_cursor"]
    finally:
        writer.close()


async def _readers(
    url: str, org: str, auth: str, count: int, stop_file: str, ready_file: str
) -> dict[str, Any]:
    host, port = url.removeprefix("http://").split(":")
    path = f"/api/v1/organizations/{org}/changes"
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        cursor = (await client.get(path, headers={"Authorization": auth})).json()["next_cursor"]
    seen: list[list[tuple[str, float]]] = [[] for _ in range(count)]
    tasks = [asyncio.create_task(_reader(host, int(port), path, auth, cursor, seen[n])) for n in range(count)]
    await asyncio.sleep(1.0)  # every reader has sent its first long poll
    Path(ready_file).write_text("ready")
    while not Path(stop_file).exists():  # noqa: ASYNC110 (another process says when)
        await asyncio.sleep(0.1)
    failed = [str(task.exception()) for task in tasks if task.done() and task.exception()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {"seen": seen, "failed": failed[:5]}


def readers_main(argv: list[str]) -> None:
    """`python -m bench.feed URL ORG AUTH COUNT STOP_FILE READY_FILE OUT_FILE` (the readers' process)."""
    url, org, auth, count, stop_file, ready_file, out_file = argv
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(_readers(url, org, auth, int(count), stop_file, ready_file))
    Path(out_file).write_text(json.dumps(result))


# -- the measuring side ---------------------------------------------------------------------


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def long_poll_delay(read: Server, write: Server, org: Org, admin_token: str, label: str) -> dict[str, Any]:
    """READERS long polls on `read`; WRITES creates through `write`; the delays, and the CPU the
    servers spent per write (the reading server answers READERS waiting requests and takes
    READERS new ones for every change)."""
    tmp = Path(f"/tmp/ainas-bench-feed-{label}-{time.monotonic_ns()}")  # noqa: S108 (our own run's files)
    ready, out, stop = tmp.with_suffix(".ready"), tmp.with_suffix(".json"), tmp.with_suffix(".stop")
    process = subprocess.Popen(  # noqa: S603 (this very module)
        [
            sys.executable,
            "-m",
            "bench.feed",
            read.url,
            org.id,
            org.basic,
            str(READERS),
            str(stop),
            str(ready),
            str(out),
        ],
        cwd=ROOT,
    )
    deadline = time.monotonic() + 60
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the readers did not start")
        time.sleep(0.1)
    written: dict[str, float] = {}
    before = cpu.snapshot()
    with httpx.Client(
        base_url=write.url, timeout=30, headers={"Authorization": f"Bearer {admin_token}"}
    ) as http:
        for number in range(WRITES):
            time.sleep(WRITE_EVERY)
            code = f"{label[0].upper()}{number:05d}"
            answer = http.post(
                f"/api/v1/organizations/{org.id}/locations",
                json={"code": code, "name": "待機計測拠点", "short_name": "待機計測"},
            )
            written[code] = time.monotonic()
            answer.raise_for_status()
    time.sleep(3)  # the last answers
    after = cpu.snapshot()
    stop.write_text("stop")
    process.wait(timeout=60)
    stop.unlink(missing_ok=True)
    result = json.loads(out.read_text())
    ready.unlink(missing_ok=True)
    out.unlink(missing_ok=True)
    delays: list[float] = []
    missing = 0
    for seen in result["seen"]:
        arrived = dict(seen)
        for code, at in written.items():
            if code in arrived:
                delays.append((arrived[code] - at) * 1000)
            else:
                missing += 1
    figures = {
        "readers": READERS,
        "writes": WRITES,
        "pairs": len(delays),
        "missing": missing,
        "reader_failures": result["failed"],
        "p50_ms": round(statistics.median(delays), 1) if delays else None,
        "p99_ms": round(_percentile(delays, 0.99), 1) if delays else None,
        "max_ms": round(max(delays), 1) if delays else None,
        "reading_server_cpu_ms_per_write": round(
            cpu.usage(before, after, {read.pid})["server"] * 1000 / WRITES, 1
        ),
        "other_cores": round(
            cpu.usage(before, after, {read.pid, write.pid})["other"] / (after.at - before.at), 2
        ),
    }
    print(
        f"  {label:<16} {READERS} readers, {WRITES} writes: delay p50 {figures['p50_ms']} ms, "
        f"p99 {figures['p99_ms']} ms, max {figures['max_ms']} ms, missing {missing}; reading server "
        f"{figures['reading_server_cpu_ms_per_write']} ms CPU per write; others {figures['other_cores']} cores",
        flush=True,
    )
    return figures


async def _fill(dsn: str, organization_id: int, count: int) -> None:
    """COPY `count` entries after the organization's last one, and raise its counter to match."""
    data = orjson.dumps(
        {
            "code": "TKY000123",
            "name": "東京中央店",
            "short_name": "東京中央",
            "delegate_number": "1234567",
            "created_at": "2026-11-01T09:00:00Z",
            "updated_at": "2026-11-29T09:00:00.123456Z",
            "version": 7,
        }
    ).decode()
    now = datetime.now(UTC)
    connection = await asyncpg.connect(dsn)
    try:
        async with connection.transaction():
            first = 1 + await connection.fetchval(
                "SELECT coalesce(max(last), 0) FROM change_counters WHERE organization_id = $1",
                organization_id,
            )
            rows = (
                (organization_id, seq, now, "location.updated", "location", f"TKY{seq % 1000:06d}", data)
                for seq in range(first, first + count)
            )
            await connection.copy_records_to_table(
                "changes",
                records=rows,
                columns=["organization_id", "seq", "at", "action", "resource_type", "resource_id", "data"],
            )
            await connection.execute(
                "INSERT INTO change_counters (organization_id, last, pruned_through) VALUES ($1, $2, 0) "
                "ON CONFLICT (organization_id) DO UPDATE SET last = $2",
                organization_id,
                first + count - 1,
            )
        await connection.execute("ANALYZE changes")
    finally:
        await connection.close()


def drain(url: str, dsn: str, org: Org, runs: int = 3) -> dict[str, Any]:
    """Follow DRAIN_ENTRIES entries from the start at limit DRAIN_LIMIT, `runs` times."""
    path = f"/api/v1/organizations/{org.id}/changes"
    with httpx.Client(base_url=url, timeout=60, headers={"Authorization": org.basic}) as http:
        start = http.get(path).json()["next_cursor"]
        asyncio.run(_fill(dsn, int(org.id), DRAIN_ENTRIES))
        timings = []
        for _ in range(runs):
            cpu.wait_for_quiet()
            cursor, items, requests = start, 0, 0
            began = time.perf_counter()
            while True:
                answer = http.get(path, params={"after": cursor, "limit": DRAIN_LIMIT})
                answer.raise_for_status()
                body = answer.json()
                requests += 1
                items += len(body["items"])
                cursor = body["next_cursor"]
                if len(body["items"]) < DRAIN_LIMIT:
                    break
            timings.append(time.perf_counter() - began)
            assert items == DRAIN_ENTRIES, items
    figures = {
        "entries": DRAIN_ENTRIES,
        "limit": DRAIN_LIMIT,
        "requests": requests,
        "seconds_median": round(statistics.median(timings), 2),
        "seconds": [round(value, 2) for value in timings],
    }
    print(
        f"  drain            {DRAIN_ENTRIES:,} entries at limit {DRAIN_LIMIT}: "
        f"{figures['seconds_median']} s (runs: {figures['seconds']})",
        flush=True,
    )
    return figures


def feed(args: argparse.Namespace) -> dict[str, Any]:
    """Two service instances on a fresh database; long-poll delays on one and across two; a drain."""
    database = Database.create("ainas_feed")
    env = service_env(database.dsn, secrets.token_hex(32))
    # The READERS share one API key: the cap on one principal's waiting long polls (10) would refuse most.
    env["AINAS_LONG_POLLS_PER_PRINCIPAL"] = str(READERS)
    servers = []
    try:
        migrate(database.dsn)
        create_operator(env)
        first = service(env).start()
        servers.append(first)
        second = service(env).start()
        servers.append(second)
        operator_token = token(first.url, OPERATOR)
        org = onboard(first.url, operator_token, "株式会社変更履歴計測", "履歴計測", "feed.admin")
        drained = onboard(first.url, operator_token, "株式会社変更履歴一括", "履歴一括", "drain.admin")
        admin_token = token(first.url, org.admin_login)
        results: dict[str, Any] = {}
        cpu.wait_for_quiet()
        results["one_instance"] = long_poll_delay(first, first, org, admin_token, "one")
        cpu.wait_for_quiet()
        results["across_instances"] = long_poll_delay(first, second, org, admin_token, "across")
        results["drain"] = drain(first.url, database.dsn, drained)
        results["checks"] = {
            "one_instance_p99_ok": (results["one_instance"]["p99_ms"] or 1e9) < 100,
            "across_instances_p99_ok": (results["across_instances"]["p99_ms"] or 1e9) < 250,
            "drain_ok": results["drain"]["seconds_median"] < 5,
        }
        print(f"  checks: {results['checks']}", flush=True)
        return results
    finally:
        for server in servers:
            server.stop()
        database.drop()


if __name__ == "__main__":
    readers_main(sys.argv[1:])
