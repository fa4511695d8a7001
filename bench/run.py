"""`python -m bench`: the service side by side with its baseline, then scale, then two instances.

Each part makes its own PostgreSQL database and drops it at the end. Every load is wrk on the
loopback interface for a bounded time. Results are printed and saved under bench/results/.
"""

import argparse
import asyncio
import base64
import importlib
import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bench import cpu, data, load, through
from bench.servers import ROOT, Database, Server, baseline, service
from bench.world import OPERATOR, PASSWORD, Org, create_operator, onboard, token

CERTIFICATE_KEY = base64.b64encode(secrets.token_bytes(32)).decode()

RESULTS = Path(__file__).resolve().parent / "results"
PARTS = ("compare", "scale", "instances", "csv", "feed", "webhooks", "profile", "plans", "instructions")
# The parts after the comparison: part -> (module of bench/ with a function of the same name, title).
LATER_PARTS = {
    "scale": ("scale", "scale"),
    "instances": ("instances", "two instances"),
    "csv": ("csv_transfer", "CSV downloads and uploads"),
    "feed": ("feed", "change feed"),
    "webhooks": ("webhooks", "webhooks"),
    "profile": ("profile", "where the CPU goes (py-spy)"),
    "plans": ("plans", "what planning costs PostgreSQL (pgbench)"),
    "instructions": ("instructions", "instructions per request (callgrind)"),
}
GIT_HEAD = ["git", "rev-parse", "--short", "HEAD"]


@dataclass
class Context:
    """What the scenarios address: URLs, tokens, organizations, generated names."""

    main: Org
    writer: Org
    main_token: str
    writer_token: str
    codes: list[str]
    logins: list[str]
    dsn: str = ""  # the database, for scenarios that prepare rows before they run
    runs: int = 0

    def code_prefix(self, server: str) -> str:
        """3 characters of [0-9A-Za-z], new for every run, so that created codes never collide."""
        self.runs += 1
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"
        return f"{server[0].upper()}{digits[self.runs // 36 % 36]}{digits[self.runs % 36]}"

    def name_prefix(self, server: str) -> str:
        """A code prefix in full-width characters (JIS X 0208), for names new to every run."""
        return "".join(chr(ord(char) + 0xFEE0) for char in self.code_prefix(server))


@dataclass
class Scenario:
    """One measured request mix, run against the service and the baseline alike."""

    key: str
    title: str
    connections: int
    target: str
    request: Callable[[Context, str, int], dict[str, Any]]  # (context, server name, round) -> wrk kwargs
    path: Callable[[Context], str]
    # Around each run (warm-ups too), outside what is measured: (context, wrk kwargs, seconds).
    around: Callable[[Context, dict[str, Any], float], AbstractContextManager[None]] | None = None


# Rows the delete scenario makes per second of a run: more than either server deletes.
DELETES_PER_SECOND = 3000


@contextmanager
def deletable_locations(ctx: Context, request: dict[str, Any], seconds: float) -> Iterator[None]:
    """Fresh locations in the writer organization for one delete run (codes PREFIX + 7 digits from
    1, the order delete.lua deletes them in), inserted directly; what the run left is removed after."""
    organization_id, prefix = int(ctx.writer.id), request["variables"]["PREFIX"]
    count = max(1, round(seconds)) * DELETES_PER_SECOND
    asyncio.run(data.add_locations(ctx.dsn, organization_id, prefix, count))
    try:
        yield
    finally:
        asyncio.run(data.remove_locations(ctx.dsn, organization_id, prefix))


def _bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def scenarios(list_connections: int, login_connections: int) -> list[Scenario]:
    """Issue 6 item 2, in order."""
    return [
        Scenario(
            "list_bearer",
            "List 50 locations (of 1,000), bearer token",
            list_connections,
            "≥ 0.45 of baseline, p99 < 60 ms",
            lambda ctx, server, r: {"headers": _bearer(ctx.main_token)},
            lambda ctx: f"/api/v1/organizations/{ctx.main.id}/locations?limit=50",
        ),
        Scenario(
            "list_basic",
            "List 50 locations, HTTP Basic (linked system)",
            list_connections,
            "≥ 0.9 of the bearer list",
            lambda ctx, server, r: {"headers": {"Authorization": ctx.main.basic}},
            lambda ctx: f"/api/v1/organizations/{ctx.main.id}/locations?limit=50",
        ),
        Scenario(
            "read_one",
            "Read one location, bearer token",
            list_connections,
            "",
            lambda ctx, server, r: {"headers": _bearer(ctx.main_token)},
            lambda ctx: f"/api/v1/organizations/{ctx.main.id}/locations/{ctx.codes[len(ctx.codes) // 2]}",
        ),
        Scenario(
            "update",
            "Change a location's name (PATCH) with its audit event",
            list_connections,
            "",
            lambda ctx, server, r: {
                "scenario": "update",
                "variables": {
                    "AUTH": f"Bearer {ctx.main_token}",
                    "CODES": ctx.codes,
                    "NAME": f"ベンチ変更{ctx.name_prefix(server)}",
                },
            },
            lambda ctx: f"/api/v1/organizations/{ctx.main.id}/locations/",
        ),
        Scenario(
            "create",
            "Create a location with its audit event",
            list_connections,
            "≥ 0.3 of baseline",
            lambda ctx, server, r: {
                "scenario": "create",
                "variables": {"AUTH": f"Bearer {ctx.writer_token}", "PREFIX": ctx.code_prefix(server)},
            },
            lambda ctx: f"/api/v1/organizations/{ctx.writer.id}/locations",
        ),
        Scenario(
            "delete",
            "Delete a location (in-use checks) with its audit event",
            list_connections,
            "",
            lambda ctx, server, r: {
                "scenario": "delete",
                "variables": {"AUTH": f"Bearer {ctx.writer_token}", "PREFIX": ctx.code_prefix(server)},
            },
            lambda ctx: f"/api/v1/organizations/{ctx.writer.id}/locations/",
            deletable_locations,
        ),
        Scenario(
            "user_search",
            "User search by partial name (田中), page of 50 + total",
            list_connections,
            "",
            lambda ctx, server, r: {"headers": _bearer(ctx.main_token)},
            lambda ctx: f"/api/v1/organizations/{ctx.main.id}/users?limit=50&name={quote('田中')}",
        ),
        Scenario(
            "logins",
            "Token endpoint logins (argon2id verify each)",
            login_connections,
            "",
            lambda ctx, server, r: {
                "scenario": "login",
                "variables": {"LOGINS": ctx.logins, "PASSWORD": quote(PASSWORD)},
            },
            lambda ctx: "/api/v1/auth/token",
        ),
    ]


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 2)


def _summary(runs: list[load.Figures]) -> dict[str, Any]:
    return {
        "rps": _median([run.rps for run in runs]),
        "p50_ms": _median([run.p50_ms for run in runs]),
        "p99_ms": _median([run.p99_ms for run in runs]),
        "errors": sum(run.errors for run in runs),
        "server_cpu_ms": _median([run.server_cpu_ms or 0 for run in runs]),
        "db_cpu_ms": _median([run.db_cpu_ms or 0 for run in runs]),
        "other_cores_max": max(run.other_cores or 0 for run in runs),
        "runs": [run.as_dict() for run in runs],
    }


def argon2_report() -> dict[str, Any]:
    """The service's argon2 parameters (its own settings) and what one hash costs here."""
    from app.config.settings import Settings
    from app.security.credentials import PasswordHasher

    settings = Settings(
        environment="production", secret_key=secrets.token_hex(32), certificate_key=CERTIFICATE_KEY
    )
    hasher = PasswordHasher(settings)
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        hasher.context.hash(PASSWORD)
        timings.append((time.perf_counter() - started) * 1000)
    return {
        "type": "argon2id",
        "memory_kib": settings.argon2_memory_kib,
        "time_cost": settings.argon2_time_cost,
        "parallelism": settings.argon2_parallelism,
        "hash_ms_median": round(statistics.median(timings), 1),
        "owasp_minimum": settings.argon2_memory_kib >= 19456
        and settings.argon2_time_cost >= 2
        and settings.argon2_parallelism >= 1,
    }


async def hash_password() -> str:
    """The benchmark password hashed once with the service's own hasher and settings."""
    from app.config.settings import Settings
    from app.security.credentials import PasswordHasher

    settings = Settings(
        environment="production", secret_key=secrets.token_hex(32), certificate_key=CERTIFICATE_KEY
    )
    return await PasswordHasher(settings).hash(PASSWORD)


def service_env(dsn: str, secret: str) -> dict[str, str]:
    """Production-like settings: production mode, a random key, argon2 at the service's defaults.

    Other `AINAS_*` settings of the caller's environment (argon2 cost, pool size...) pass through.
    """
    env = dict(os.environ)
    # Production requires a certificate key; instances of one run share it.
    env.setdefault("AINAS_CERTIFICATE_KEY", CERTIFICATE_KEY)
    env.update(
        DATABASE_URL=dsn,
        AINAS_SECRET_KEY=secret,
        AINAS_ENVIRONMENT="production",
        PYTHONPATH=str(ROOT),
    )
    return env


def migrate(dsn: str, revision: str = "head") -> None:
    """The project's Alembic history, as `ainas migrate` runs it."""
    from app.cli import migrate as alembic_upgrade

    alembic_upgrade(dsn, revision)


@dataclass
class Servers:
    """The database and both servers of the comparison."""

    database: Database
    env: dict[str, str]
    service: Server
    baseline: Server | None
    context: Context
    loaded: data.Loaded
    path: through.Route | None = None

    def stop(self) -> None:
        """Stop both servers (and PgBouncer, HAProxy) and drop the database."""
        for server in (self.service, self.baseline):
            if server is not None:
                server.stop()
        if self.path is not None:
            self.path.stop()
        self.database.drop()


def prepare(
    shape: data.Shape, prefix: str, workers: int = 1, *, with_baseline: bool = True, via: str = "direct"
) -> Servers:
    """Database, migrations, operator, two onboarded organizations, bulk rows, both servers;
    `via` puts PgBouncer and/or HAProxy in the service's path (bench/through.py)."""
    database = Database.create(prefix)
    path = through.Route(via)
    servers: list[Server] = []
    try:
        env = path.database_env(database.dsn, service_env(database.dsn, secrets.token_hex(32)))
        migrate(database.dsn)
        create_operator(env)
        svc = service(env, workers).start()
        servers.append(svc)
        operator_token = token(svc.url, OPERATOR)
        main = onboard(svc.url, operator_token, "株式会社ベンチマーク自動車販売", "ベンチ自販", "bench.admin")
        writer = onboard(svc.url, operator_token, "株式会社ベンチマーク商事", "ベンチ商事", "bench.writer")
        loaded = asyncio.run(data.load(database.dsn, shape, int(main.id), asyncio.run(hash_password())))
        base = baseline(env, database.dsn, workers).start() if with_baseline else None
        if base is not None:
            servers.append(base)
        context = Context(
            main=main,
            writer=writer,
            main_token=token(svc.url, main.admin_login),
            writer_token=token(svc.url, writer.admin_login),
            codes=loaded.main_location_codes,
            logins=loaded.main_login_ids[:1000],
            dsn=database.dsn,
        )
        front = path.front(svc, env)
    except BaseException:
        for server in servers:
            server.stop()
        path.stop()
        database.drop()
        raise
    return Servers(database, env, front, base, context, loaded, path)


def measure(
    server: Server, scenario: Scenario, ctx: Context, round_: int, seconds: float, *, quiet: bool = True
) -> load.Figures:
    """One wrk run of a scenario against one server, with the CPU it cost."""
    request = scenario.request(ctx, server.name, round_)
    with scenario.around(ctx, request, seconds) if scenario.around else nullcontext():
        if quiet:
            cpu.wait_for_quiet()
        before = cpu.snapshot()
        figures = load.run(
            server.url + scenario.path(ctx), seconds=seconds, connections=scenario.connections, **request
        )
        spent = cpu.usage(before, cpu.snapshot(), server.groups)
    if figures.requests:
        figures.server_cpu_ms = round(spent["server"] * 1000 / figures.requests, 3)
        figures.db_cpu_ms = round(spent["postgres"] * 1000 / figures.requests, 3)
    figures.other_cores = round(spent["other"] / spent["wall"], 2)
    return figures


def under_logins(
    server: Server,
    list_scenario: Scenario,
    login_scenario: Scenario,
    ctx: Context,
    round_: int,
    seconds: float,
) -> tuple[load.Figures, load.Figures]:
    """The list while logins run in parallel on the same server (one login connection: one core hashing)."""
    cpu.wait_for_quiet()
    logins, path = load.start(
        server.url + login_scenario.path(ctx),
        seconds=seconds,
        connections=1,
        **login_scenario.request(ctx, server.name, round_),
    )
    listing = measure(server, list_scenario, ctx, round_, seconds, quiet=False)
    return listing, load.finish(logins, path, timeout=seconds + 60)


def compare(servers: Servers, args: argparse.Namespace) -> dict[str, Any]:
    """Every scenario, service and baseline alternating, `args.rounds` times."""
    ctx = servers.context
    every = scenarios(args.connections, args.login_connections)
    named = {scenario.key: scenario for scenario in every}
    chosen = args.scenarios or [*named, "list_under_logins"]
    plan = [named[key] for key in chosen if key in named]
    figures: dict[str, dict[str, list[load.Figures]]] = {}
    assert servers.baseline is not None
    pairs = {"service": servers.service, "baseline": servers.baseline}
    for scenario in [*plan, *([None] if "list_under_logins" in chosen else [])]:
        key = scenario.key if scenario else "list_under_logins"
        figures[key] = {"service": [], "baseline": []}
        extra: dict[str, list[load.Figures]] = {"service": [], "baseline": []}
        for round_ in range(args.rounds):
            order = ["service", "baseline"] if round_ % 2 == 0 else ["baseline", "service"]
            for name in order:
                server = pairs[name]
                if scenario is None:
                    listing, logins = under_logins(
                        server, named["list_bearer"], named["logins"], ctx, round_, args.duration
                    )
                    figures[key][name].append(listing)
                    extra[name].append(logins)
                    shown = listing
                else:
                    if round_ == 0 and args.warmup:
                        measure(server, scenario, ctx, 90 + round_, args.warmup)
                    shown = measure(server, scenario, ctx, round_, args.duration)
                    figures[key][name].append(shown)
                print(
                    f"  {key:<18} {name:<8} round {round_ + 1}: {shown.rps:>8.1f} req/s  "
                    f"p50 {shown.p50_ms:>7.2f} ms  p99 {shown.p99_ms:>7.2f} ms  errors {shown.errors}  "
                    f"cpu/req: server {shown.server_cpu_ms} ms, db {shown.db_cpu_ms} ms  "
                    f"others {shown.other_cores} cores",
                    flush=True,
                )
        if scenario is None:
            figures["logins_during_list"] = extra
    titles = {scenario.key: scenario.title for scenario in plan}
    titles["list_under_logins"] = "List 50 locations while logins run (1 connection) in parallel"
    targets = {scenario.key: scenario.target for scenario in plan}
    targets["list_under_logins"] = "p99 < 3 × p99 without logins"
    table: dict[str, dict[str, Any]] = {}
    for key, by_server in figures.items():
        table[key] = {
            "title": titles.get(key, "Logins running during the list (1 connection)"),
            "target": targets.get(key, ""),
            "service": _summary(by_server["service"]),
            "baseline": _summary(by_server["baseline"]),
        }
        base_rps = table[key]["baseline"]["rps"]
        table[key]["ratio"] = round(table[key]["service"]["rps"] / base_rps, 3) if base_rps else None
    return table


def checks(table: dict[str, Any]) -> dict[str, Any]:
    """The issue's targets, measured (none when `--scenarios` left out what they need)."""
    needed = {"list_bearer", "list_basic", "create", "update", "delete", "list_under_logins"}
    if not needed <= set(table):
        return {}
    svc = {key: row["service"] for key, row in table.items()}
    return {
        "list_ratio": table["list_bearer"]["ratio"],
        "list_ratio_ok": (table["list_bearer"]["ratio"] or 0) >= 0.45,
        "list_p99_ms": svc["list_bearer"]["p99_ms"],
        "list_p99_ok": svc["list_bearer"]["p99_ms"] < 60,
        "create_ratio": table["create"]["ratio"],
        "create_ratio_ok": (table["create"]["ratio"] or 0) >= 0.3,
        "update_ratio": table["update"]["ratio"],
        "delete_ratio": table["delete"]["ratio"],
        "basic_over_bearer": round(svc["list_basic"]["rps"] / svc["list_bearer"]["rps"], 3),
        "basic_over_bearer_ok": svc["list_basic"]["rps"] >= 0.9 * svc["list_bearer"]["rps"],
        "p99_under_logins_over_alone": round(
            svc["list_under_logins"]["p99_ms"] / svc["list_bearer"]["p99_ms"], 2
        ),
        "p99_under_logins_ok": svc["list_under_logins"]["p99_ms"] < 3 * svc["list_bearer"]["p99_ms"],
    }


def print_table(table: dict[str, Any], argon2: dict[str, Any], verdicts: dict[str, Any]) -> str:
    """The Markdown table of docs/performance.md, printed."""
    lines = [
        "| scenario | service req/s | baseline req/s | ratio | service p50 / p99 ms | baseline p50 / p99 ms | target |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in table.values():
        s, b = row["service"], row["baseline"]
        ratio = f"{row['ratio']:.2f}" if row["ratio"] is not None else "–"
        errors = f" ({s['errors']} errors)" if s["errors"] else ""
        lines.append(
            f"| {row['title']}{errors} | {s['rps']:,.0f} | {b['rps']:,.0f} | {ratio} | "
            f"{s['p50_ms']:.1f} / {s['p99_ms']:.1f} | {b['p50_ms']:.1f} / {b['p99_ms']:.1f} | {row['target']} |"
        )
    text = "\n".join(lines)
    print()
    print(text)
    print()
    print(
        f"argon2id: memory {argon2['memory_kib']} KiB, time cost {argon2['time_cost']}, parallelism "
        f"{argon2['parallelism']} (OWASP minimum: {'yes' if argon2['owasp_minimum'] else 'NO'}); "
        f"one hash {argon2['hash_ms_median']} ms here"
    )
    for name, value in verdicts.items():
        if not name.endswith("_ok"):
            ok = verdicts.get(f"{name}_ok")
            mark = "" if ok is None else ("  ok" if ok else "  MISSED")
            print(f"  {name}: {value}{mark}")
    return text


def environment() -> dict[str, Any]:
    """Where the figures come from."""
    found = shutil.which("wrk")
    wrk = subprocess.run([found or "true", "-v"], capture_output=True, text=True, check=False)  # noqa: S603
    return {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "wrk": (wrk.stdout or wrk.stderr).splitlines()[0] if (wrk.stdout or wrk.stderr) else "",
        "git": subprocess.run(GIT_HEAD, cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip(),  # noqa: S603
    }


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "parts",
        nargs="*",
        help="any of compare, scale, instances, csv, feed, webhooks, profile, plans, instructions "
        "(default: all but profile, plans and instructions)",
    )
    parser.add_argument("--duration", type=float, default=10, help="seconds per measured run (default 10)")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of warm-up per scenario and server")
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds per scenario (default 1)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--login-connections", type=int, default=4)
    parser.add_argument(
        "--through",
        choices=through.CHOICES,
        default="direct",
        help="compare only: PgBouncer and/or HAProxy with two instances in the service's path (bench/through.py)",
    )
    parser.add_argument(
        "--scenarios",
        type=lambda value: [key.strip() for key in value.split(",") if key.strip()],
        default=None,
        help="compare, profile and instructions: these scenarios (comma-separated keys, e.g. read_one,create; default: all)",
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=200,
        help="instructions: requests counted per scenario and application",
    )
    parser.add_argument(
        "--scale-duration", type=float, default=3, help="seconds per scale query (1 connection)"
    )
    args = parser.parse_args(argv)
    unknown = set(args.parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s) {', '.join(sorted(unknown))}: choose from {', '.join(PARTS)}")
    args.parts = args.parts or [part for part in PARTS if part not in ("profile", "plans", "instructions")]
    known = {scenario.key for scenario in scenarios(1, 1)} | {"list_under_logins"}
    if args.scenarios and set(args.scenarios) - known:
        parser.error(f"unknown scenario(s): choose from {', '.join(sorted(known))}")
    if args.duration > 60 or args.rounds > 5:
        parser.error("keep runs bounded: --duration at most 60 s and --rounds at most 5")
    if set(args.parts) - {"csv", "plans", "instructions"}:
        load.wrk_path()  # every part but csv loads the servers with wrk
    started = time.monotonic()
    results: dict[str, Any] = {"environment": environment(), "argon2": argon2_report(), "args": vars(args)}
    print(f"argon2id parameters: {results['argon2']}", flush=True)
    if "compare" in args.parts:
        print("== service vs baseline ==", flush=True)
        servers = prepare(data.MAIN, "ainas_bench", via=args.through)
        try:
            results["data"] = servers.loaded.rows
            table = compare(servers, args)
        finally:
            servers.stop()
        results["scenarios"] = table
        results["checks"] = checks(table)
        results["markdown"] = print_table(table, results["argon2"], results["checks"])
    for part, (module, title) in LATER_PARTS.items():
        if part in args.parts:
            print(f"== {title} ==", flush=True)
            results[part] = getattr(importlib.import_module(f"bench.{module}"), module)(args)
    results["seconds"] = round(time.monotonic() - started, 1)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"bench-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")
    print(f"\nResults saved to {path.relative_to(ROOT)} ({results['seconds']} s in all)")
