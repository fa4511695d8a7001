"""CSV downloads and uploads (issue 15, SPEC §5.6), the service beside its baseline.

Targets: an upload of 10,000 locations in under 10 s (dry run and real), a download of 100,000
users in under 5 s with the server process's memory growing by less than 50 MB while it runs.
The organization holds 100,000 users (COPY, as the scale part loads them). Each upload and
download is one HTTP request at a time, timed from sending to the last byte; the server's
resident memory is sampled every 10 ms from /proc while a download runs.
"""

import argparse
import asyncio
import csv
import io
import secrets
import statistics
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench import data
from bench.run import hash_password, migrate, service_env
from bench.servers import Database, Server, baseline, service
from bench.world import OPERATOR, create_operator, onboard, token

USERS = 100_000
LOCATIONS = 10_000
SHAPE = data.Shape(
    main_locations=1_000,
    main_users=USERS,
    main_audit_events=0,
    organizations=0,
    locations=0,
    users=0,
    audit_events=0,
)
LOCATION_HEADER = ["依頼人拠点コード", "依頼人拠点名", "依頼人拠点名（略称）", "記録等事務代行者委託番号"]


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class MemoryWatch:
    """The highest resident memory of a process while the block runs, sampled every 10 ms."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.before_kib = _rss_kib(pid)
        self.peak_kib = self.before_kib
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.wait(0.01):
            self.peak_kib = max(self.peak_kib, _rss_kib(self.pid))

    def __enter__(self) -> "MemoryWatch":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()
        self.peak_kib = max(self.peak_kib, _rss_kib(self.pid))

    @property
    def growth_mb(self) -> float:
        """Peak minus the resident memory before, in MB."""
        return round((self.peak_kib - self.before_kib) / 1024, 1)


def locations_file(prefix: str, name: str) -> bytes:
    """10,000 locations as an admin's spreadsheet saves them (UTF-8 with a byte-order mark)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(LOCATION_HEADER)
    for n in range(LOCATIONS):
        writer.writerow([f"{prefix}{n:06d}", f"{name}第{data.full_width(n)}店", name, str(1_000_000 + n)])
    return b"\xef\xbb\xbf" + buffer.getvalue().encode()


@dataclass
class Timed:
    """One request: seconds to the last byte, status, bytes received, and the answer's JSON if any."""

    seconds: float
    status: int
    size: int
    answer: Any = None
    memory_growth_mb: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """For the results file."""
        return {
            "seconds": round(self.seconds, 3),
            "status": self.status,
            "bytes": self.size,
            "answer": self.answer,
            "memory_growth_mb": self.memory_growth_mb,
        }


def upload(server: Server, org_id: str, auth: str, body: bytes, *, dry_run: bool) -> Timed:
    """POST .../imports/locations."""
    started = time.perf_counter()
    response = httpx.post(
        f"{server.url}/api/v1/organizations/{org_id}/imports/locations",
        params={"dry_run": "true"} if dry_run else {},
        content=body,
        headers={"Authorization": auth, "Content-Type": "text/csv"},
        timeout=120,
    )
    seconds = time.perf_counter() - started
    answer = response.json() if response.headers.get("content-type", "").endswith("json") else None
    if response.status_code != 200:
        raise RuntimeError(f"{server.name} upload answered {response.status_code}: {response.text[:300]}")
    return Timed(seconds, response.status_code, len(body), answer)


def download(server: Server, org_id: str, auth: str, encoding: str) -> Timed:
    """GET .../exports/users, streamed and counted (never held whole by the client)."""
    size = 0
    with MemoryWatch(server.pid) as memory:
        started = time.perf_counter()
        with httpx.stream(
            "GET",
            f"{server.url}/api/v1/organizations/{org_id}/exports/users",
            params={"encoding": encoding},
            headers={"Authorization": auth},
            timeout=120,
        ) as response:
            for chunk in response.iter_bytes():
                size += len(chunk)
            status = response.status_code
        seconds = time.perf_counter() - started
    if status != 200:
        raise RuntimeError(f"{server.name} download answered {status}")
    return Timed(seconds, status, size, memory_growth_mb=memory.growth_mb)


def _median(runs: list[Timed]) -> float:
    return round(statistics.median(run.seconds for run in runs), 3)


def csv_transfer(args: argparse.Namespace) -> dict[str, Any]:
    """Prepare one database, run the service and the baseline on it, measure both in turn."""
    database = Database.create("ainas_bench_csv")
    env = service_env(database.dsn, secrets.token_hex(32))
    servers: list[Server] = []
    try:
        migrate(database.dsn)
        create_operator(env)
        svc = service(env).start()
        servers.append(svc)
        org = onboard(svc.url, token(svc.url, OPERATOR), "株式会社ベンチ一括", "ベンチ一括", "bench.csv")
        loaded = asyncio.run(data.load(database.dsn, SHAPE, int(org.id), asyncio.run(hash_password())))
        print(f"  loaded {loaded.rows} in {loaded.seconds:.1f} s", flush=True)
        base = baseline(env, database.dsn).start()
        servers.append(base)
        auth = f"Bearer {token(svc.url, org.admin_login)}"
        results: dict[str, Any] = {"users": USERS, "locations_per_upload": LOCATIONS}
        rounds = max(1, min(args.rounds, 3))
        for server, prefix in ((svc, "S"), (base, "B")):
            runs: dict[str, list[Timed]] = {key: [] for key in ("dry_run", "create", "unchanged", "update")}
            downloads: dict[str, list[Timed]] = {"utf-8": [], "shift_jis": []}
            # The first download after start-up also pays for first uses (imports, compiled SQL,
            # the allocator's arenas): kept apart, and reported.
            first = download(server, org.id, auth, "utf-8")
            print(
                f"  {server.name:<8} first download {first.seconds:.2f} s  memory +{first.memory_growth_mb} MB"
            )
            for round_ in range(rounds):
                codes = f"{prefix}{round_}"
                created = locations_file(codes, "一括")
                runs["dry_run"].append(upload(server, org.id, auth, created, dry_run=True))
                runs["create"].append(upload(server, org.id, auth, created, dry_run=False))
                runs["unchanged"].append(upload(server, org.id, auth, created, dry_run=False))
                runs["update"].append(
                    upload(server, org.id, auth, locations_file(codes, "改名"), dry_run=False)
                )
                for encoding, timed in downloads.items():
                    timed.append(download(server, org.id, auth, encoding))
                for key, timed in [*runs.items(), *downloads.items()]:
                    last = timed[-1]
                    extra = (
                        f"  memory +{last.memory_growth_mb} MB" if last.memory_growth_mb is not None else ""
                    )
                    print(
                        f"  {server.name:<8} round {round_ + 1} {key:<10} {last.seconds:>7.2f} s  "
                        f"{last.answer or f'{last.size:,} bytes'}{extra}",
                        flush=True,
                    )
            results[server.name] = {
                **{f"upload_{key}_s": _median(timed) for key, timed in runs.items()},
                **{
                    f"download_{encoding.replace('-', '_')}_s": _median(timed)
                    for encoding, timed in downloads.items()
                },
                **{
                    f"download_{encoding.replace('-', '_')}_memory_growth_mb": max(
                        run.memory_growth_mb or 0 for run in timed
                    )
                    for encoding, timed in downloads.items()
                },
                "download_bytes": downloads["utf-8"][-1].size,
                "first_download": first.as_dict(),
                "rss_mb_after": round(_rss_kib(server.pid) / 1024, 1),
                "runs": {
                    key: [run.as_dict() for run in timed] for key, timed in {**runs, **downloads}.items()
                },
            }
        service_figures = results["service"]
        results["ratios"] = {
            key: round(results["baseline"][key] / service_figures[key], 3) if service_figures[key] else None
            for key in service_figures
            if key.endswith("_s")
        }
        results["checks"] = {
            "upload_10000_dry_run_under_10s": service_figures["upload_dry_run_s"] < 10,
            "upload_10000_create_under_10s": service_figures["upload_create_s"] < 10,
            "upload_10000_update_under_10s": service_figures["upload_update_s"] < 10,
            "download_100000_users_under_5s": service_figures["download_utf_8_s"] < 5,
            "download_memory_growth_under_50mb": service_figures["download_utf_8_memory_growth_mb"] < 50,
        }
        print(markdown(results))
        return results
    except Exception:
        for server in servers:  # what the servers said, before their logs go
            if server.log is not None and server.log.exists():
                print(f"--- {server.name} log (end) ---\n{server.log.read_text()[-4000:]}", flush=True)
        raise
    finally:
        for server in servers:
            server.stop()
        database.drop()


def markdown(results: dict[str, Any]) -> str:
    """The table of docs/performance.md."""
    svc, base, ratios = results["service"], results["baseline"], results["ratios"]
    rows = [
        ("Upload 10,000 new locations, dry run", "upload_dry_run_s", "< 10 s"),
        ("Upload 10,000 new locations", "upload_create_s", "< 10 s"),
        ("Upload the same 10,000 again (all unchanged)", "upload_unchanged_s", ""),
        ("Upload 10,000 renamed locations", "upload_update_s", "< 10 s"),
        ("Download 100,000 users, UTF-8", "download_utf_8_s", "< 5 s, memory < +50 MB"),
        ("Download 100,000 users, Shift_JIS", "download_shift_jis_s", ""),
    ]
    lines = [
        "| request | service s | baseline s | baseline / service | target |",
        "|---|---:|---:|---:|---|",
    ]
    for title, key, target in rows:
        memory = ""
        if key.startswith("download"):
            memory = f" (memory +{svc[key.removesuffix('_s') + '_memory_growth_mb']} MB)"
        lines.append(f"| {title} | {svc[key]:.2f}{memory} | {base[key]:.2f} | {ratios[key]} | {target} |")
    first = svc["first_download"]
    lines.append(
        f"\nThe service's first download after start-up: {first['seconds']:.2f} s, memory "
        f"+{first['memory_growth_mb']} MB; resident memory at the end {svc['rss_mb_after']} MB."
    )
    return "\n".join(lines)
