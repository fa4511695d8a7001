"""`python -m bench profile`: where a hot request's CPU goes, by part of the request.

The service alone (no baseline) on the comparison's data, one scenario at a time: wrk loads it
as the comparison does while py-spy samples the server process (`--nonblocking`, so that the
sampled process is never paused). Every sample's stack is given to one part of the request:

- the caller's own checks win over what they call: a sample anywhere under the principal's
  read (`principal_row`, `principal_for_key`, `authenticate_basic`) is "principal check", under
  the token's decoding "token check";
- otherwise the innermost frame that belongs to a known part names it (SQL drivers and
  SQLAlchemy, pydantic and FastAPI's parameter checks, JSON writing, the middleware, the
  framework's routing, the server and event loop).

A table of shares (of the samples in which the server was busy) per scenario is printed and
saved with the run; docs/performance.md keeps the latest.
"""

import argparse
import re
import shutil
import subprocess
import time
from collections import Counter
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from bench import cpu, data, load

RESULTS = Path(__file__).resolve().parent / "results"

PARTS = (
    "principal check",
    "token check",
    "SQL (driver, SQLAlchemy, app/db)",
    "validation (pydantic, parameters)",
    "serialization (JSON)",
    "middleware",
    "framework (routing, dependencies)",
    "server, event loop",
    "handler and services",
    "other",
)

# Functions whose whole subtree is one part, whatever they call.
_OWNERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("principal check", re.compile(r"(^|\.)(principal_row|principal_for_key|authenticate_basic) \(")),
    ("token check", re.compile(r"(^|\.)decode \(app/security/")),
)
# The innermost frame matching one of these names the part (checked in this order per frame).
_FRAMES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("SQL (driver, SQLAlchemy, app/db)", re.compile(r"(asyncpg|sqlalchemy|aiosqlite)/|app/db/")),
    (
        "serialization (JSON)",
        re.compile(r"orjson|json/|fastapi/encoders|serialize_response|page_json|_json \("),
    ),
    ("validation (pydantic, parameters)", re.compile(r"pydantic|_compat|request_params_to_args|app/text/")),
    ("middleware", re.compile(r"app/http/middleware|app/operations/|starlette/middleware")),
    (
        "framework (routing, dependencies)",
        re.compile(r"fastapi/|starlette/|app/http/routing|app/http/handler|app/http/dispatch"),
    ),
    ("server, event loop", re.compile(r"uvicorn/|httptools|uvloop|asyncio/|selectors")),
    ("handler and services", re.compile(r"/app/")),
)
_SAMPLE = re.compile(r"^(?P<stack>.*) (?P<count>\d+)$")


def part_of(frames: list[str]) -> str:
    """The part of the request a sample's stack (outermost first) belongs to."""
    for part, pattern in _OWNERS:
        if any(pattern.search(frame) for frame in frames):
            return part
    for frame in reversed(frames):
        for part, pattern in _FRAMES:
            if pattern.search(frame):
                return part
    return "other"


def shares(collapsed: str) -> tuple[dict[str, float], int]:
    """Shares of py-spy's collapsed stacks (`--format raw`) per part, and the number of samples."""
    counts: Counter[str] = Counter()
    for line in collapsed.splitlines():
        found = _SAMPLE.match(line.strip())
        if found is None:
            continue
        frames = found["stack"].split(";")
        counts[part_of(frames)] += int(found["count"])
    total = sum(counts.values())
    return {part: round(counts[part] / total, 3) for part in PARTS if counts[part]} if total else {}, total


def py_spy() -> str:
    """The py-spy of the venv (the project's dev dependencies), or why there is none."""
    found = shutil.which("py-spy") or str(Path(__file__).resolve().parent.parent / ".venv/bin/py-spy")
    if not Path(found).exists():
        raise SystemExit("py-spy is missing: bash scripts/bootstrap.sh installs the dev dependencies")
    return found


def record(pid: int, seconds: float, keep: Path) -> tuple[dict[str, float], int]:
    """Sample a process for `seconds` without pausing it; its parts' shares. The stacks are kept
    in `keep` (py-spy's collapsed format: `flamegraph.pl` draws them)."""
    keep.parent.mkdir(exist_ok=True)
    subprocess.run(  # noqa: S603 (our own server's pid)
        [
            py_spy(),
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, round(seconds))),
            "--rate",
            "200",
            "--nonblocking",
            "--format",
            "raw",
            "--output",
            str(keep),
        ],
        check=True,
        capture_output=True,
    )
    return shares(keep.read_text())


def profile(args: argparse.Namespace) -> dict[str, Any]:
    """Each hot scenario under load, sampled; the shares per part."""
    from bench.run import prepare, scenarios

    servers = prepare(data.MAIN, "ainas_profile", with_baseline=False)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    results: dict[str, Any] = {}
    try:
        ctx = servers.context
        for scenario in scenarios(args.connections, args.login_connections):
            if scenario.key in ("logins", "user_search"):
                continue  # argon2 and one query: nothing for the request's own parts to show
            if args.scenarios and scenario.key not in args.scenarios:
                continue
            request = scenario.request(ctx, "service", 0)
            # What a scenario needs around its run (the rows a delete deletes), as `measure` does.
            with scenario.around(ctx, request, args.duration + 1) if scenario.around else nullcontext():
                cpu.wait_for_quiet()
                url = servers.service.url + scenario.path(ctx)
                process, script = load.start(
                    url, seconds=args.duration + 1, connections=scenario.connections, **request
                )
                time.sleep(0.5)
                stacks = RESULTS / f"profile-{stamp}-{scenario.key}.txt"
                found, samples = record(servers.service.pid, args.duration, stacks)
                figures = load.finish(process, script, timeout=args.duration + 60)
            results[scenario.key] = {
                "title": scenario.title,
                "rps": figures.rps,
                "errors": figures.errors,
                "samples": samples,
                "stacks": str(stacks.relative_to(RESULTS.parent.parent)),
                "shares": found,
            }
            print(f"  {scenario.key:<12} {figures.rps:>8.1f} req/s, {samples} samples: {found}", flush=True)
    finally:
        servers.stop()
    results["markdown"] = table(results)
    print()
    print(results["markdown"])
    return results


def table(results: dict[str, Any]) -> str:
    """The Markdown table of docs/performance.md: a row per part, a column per scenario."""
    keys = [key for key in results if key != "markdown"]
    lines = [
        "| part of the request | " + " | ".join(keys) + " |",
        "|---|" + "---:|" * len(keys),
    ]
    for part in PARTS:
        cells = [f"{results[key]['shares'].get(part, 0) * 100:.0f} %" for key in keys]
        if any(cell != "0 %" for cell in cells):
            lines.append(f"| {part} | " + " | ".join(cells) + " |")
    lines.append(
        "| (req/s while sampled) | " + " | ".join(f"{results[key]['rps']:,.0f}" for key in keys) + " |"
    )
    lines.append(
        "| (errors while sampled) | " + " | ".join(str(results[key]["errors"]) for key in keys) + " |"
    )
    return "\n".join(lines)
