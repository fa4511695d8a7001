"""`python -m bench instructions`: the CPU instructions one request costs, service and baseline
side by side, counted by valgrind's callgrind.

Requests per second on a shared 2-core VM move by a fifth from one round to the next; the number
of instructions a request runs does not (the same to 0.1 % from run to run, whatever else the
machine is doing). Each application is driven in-process, as a server would call it (an ASGI
call per request, no sockets), under `valgrind --tool=callgrind --instr-atstart=no`: after its
pools are full (every connection open, as on a loaded server) and a warm-up, counting is switched
on with `callgrind_control` for `--requests` requests, one after the other, and off again. What
it counts is the application's user-space work: not the HTTP server (the same uvicorn for both),
not the kernel's (system calls, such as the memory a greenlet maps), not PostgreSQL's.

The data are the comparison's (`bench/data.py`, MAIN); the scenarios are the comparison's hot
requests. Needs valgrind (Debian's package; on every machine of this project's kind).
"""

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import data

# Scenario -> title: the comparison's hot requests (their requests: `_request`).
SCENARIOS = {
    "read_one": "Read one location, bearer token",
    "list_bearer": "List 50 locations (of 1,000), bearer token",
    "list_basic": "List 50 locations, HTTP Basic (linked system)",
    "create": "Create a location with its audit event",
}
# Requests run concurrently before counting: enough to open every connection of both apps' pools.
FILL = 48
WARM_UP = 100
_COLLECTED = re.compile(r"Collected : (\d+)")


def instructions(args: argparse.Namespace) -> dict[str, Any]:
    """Every scenario on both applications; instructions per request and their ratio."""
    from bench.run import prepare

    valgrind = shutil.which("valgrind")
    if valgrind is None or shutil.which("callgrind_control") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    servers = prepare(data.MAIN, "ainas_instructions", with_baseline=False)
    results: dict[str, Any] = {"requests": args.requests}
    try:
        servers.service.stop()  # the applications are driven in-process below
        ctx = servers.context
        state = {
            "env": {**servers.env, "BASELINE_DATABASE_URL": servers.database.dsn},
            "main": ctx.main.id,
            "writer": ctx.writer.id,
            "main_token": ctx.main_token,
            "writer_token": ctx.writer_token,
            "basic": ctx.main.basic,
            "code": ctx.codes[len(ctx.codes) // 2],
        }
        with tempfile.TemporaryDirectory() as work:
            state_file = Path(work) / "state.json"
            state_file.write_text(json.dumps(state))
            for key, title in SCENARIOS.items():
                if args.scenarios and key not in args.scenarios:
                    continue
                counts = {
                    app: _count(valgrind, Path(work), state_file, app, key, args.requests)
                    for app in ("service", "baseline")
                }
                results[key] = {
                    "title": title,
                    **counts,
                    "ratio": round(counts["service"] / counts["baseline"], 2),
                }
                print(
                    f"  {key:<12} service {counts['service']:>10,} baseline {counts['baseline']:>10,} "
                    f"instructions per request ({results[key]['ratio']} ×)",
                    flush=True,
                )
    finally:
        servers.stop()
    results["markdown"] = table(results)
    print()
    print(results["markdown"])
    return results


def _count(valgrind: str, work: Path, state_file: Path, app: str, scenario: str, requests: int) -> int:
    log = work / f"{app}-{scenario}.log"
    command = [
        valgrind,
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={work / f'{app}-{scenario}.out'}",
        f"--log-file={log}",
        sys.executable,
        "-m",
        "bench.instructions",
        str(state_file),
        app,
        scenario,
        str(requests),
    ]
    env = {**os.environ, **json.loads(state_file.read_text())["env"]}
    errors = work / f"{app}-{scenario}.err"  # the application's own log lines
    with errors.open("w") as stderr:
        done = subprocess.run(  # noqa: S603
            command, env=env, stdout=subprocess.DEVNULL, stderr=stderr, timeout=900, check=False
        )
    if done.returncode != 0:
        raise RuntimeError(f"{app} {scenario}: exit {done.returncode}\n{errors.read_text()[-3000:]}")
    found = _COLLECTED.search(log.read_text())
    if found is None:
        raise RuntimeError(f"{app} {scenario}: callgrind counted nothing\n{log.read_text()[-2000:]}")
    return int(found.group(1)) // requests


def table(results: dict[str, Any]) -> str:
    """The Markdown table of docs/performance.md."""
    lines = ["| request | service | baseline | service / baseline |", "|---|---:|---:|---:|"]
    for key in SCENARIOS:
        if key in results:
            row = results[key]
            lines.append(f"| {row['title']} | {row['service']:,} | {row['baseline']:,} | {row['ratio']} |")
    return "\n".join(lines)


# The driver: run under valgrind, one application and scenario per process.


def _request(
    state: dict[str, Any], scenario: str, number: int, app: str
) -> tuple[str, str, list[tuple[bytes, bytes]], bytes]:
    main = f"/api/v1/organizations/{state['main']}"
    bearer = [(b"authorization", f"Bearer {state['main_token']}".encode())]
    if scenario == "read_one":
        return "GET", f"{main}/locations/{state['code']}", bearer, b""
    if scenario == "list_bearer":
        return "GET", f"{main}/locations", bearer, b""
    if scenario == "list_basic":
        return "GET", f"{main}/locations", [(b"authorization", state["basic"].encode())], b""
    code = f"{app[0].upper()}{os.getpid() % 1000:03d}{number:06d}"
    body = json.dumps({"code": code, "name": "ベンチマーク新規拠点", "short_name": "ベンチ新規"}).encode()
    headers = [
        (b"authorization", f"Bearer {state['writer_token']}".encode()),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    return "POST", f"/api/v1/organizations/{state['writer']}/locations", headers, body


async def _call(
    asgi: Any, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes, query: bytes
) -> int:
    statuses: list[int] = []
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()  # no disconnect while the answer is written
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"accept", b"*/*"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    await asgi(scope, receive, send)
    return statuses[0]


def _instrument(state: str) -> None:
    """Switch callgrind's counting in this process on or off (blocking: nothing else should run)."""
    control = shutil.which("callgrind_control") or "callgrind_control"
    subprocess.run([control, f"--instr={state}", str(os.getpid())], check=True, capture_output=True)  # noqa: S603


async def _drive(state: dict[str, Any], app_name: str, scenario: str, requests: int) -> None:
    if app_name == "service":
        from app.main import create_app

        asgi: Any = create_app()
    else:
        from bench.baseline import create_app as create_baseline

        asgi = create_baseline()
    query = b"limit=50" if scenario.startswith("list") else b""
    numbers = iter(range(1, 10**6))

    async def one() -> int:
        method, path, headers, body = _request(state, scenario, next(numbers), app_name)
        return await _call(asgi, method, path, headers, body, query)

    async with asgi.router.lifespan_context(asgi):
        # One first, alone: a linked system's first request checks its password with argon2 and
        # stores the digest that later ones compare (a burst of first requests would be refused).
        statuses = {await one()}
        statuses |= set(await asyncio.gather(*(one() for _ in range(FILL))))
        statuses |= {await one() for _ in range(WARM_UP)}
        _instrument("on")
        counted = {await one() for _ in range(requests)}
        _instrument("off")
    if (statuses | counted) - {200, 201}:
        raise SystemExit(f"{app_name} {scenario}: answered {sorted(statuses | counted)}")


if __name__ == "__main__":
    import uvloop

    state_path, app_name, scenario, count = sys.argv[1:5]
    uvloop.run(_drive(json.loads(Path(state_path).read_text()), app_name, scenario, int(count)))
