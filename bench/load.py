"""Running wrk (Debian's package) against a loopback URL, for a bounded time, and reading its figures."""

import json
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

LUA = Path(__file__).resolve().parent / "lua"
# Targets are only ever servers this benchmark started on this machine.
LOOPBACK = ("http://127.0.0.1:", "http://localhost:")


@dataclass
class Figures:
    """What one wrk run measured."""

    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int  # connect/read/write errors, timeouts and non-2xx/3xx answers
    server_cpu_ms: float | None = None  # CPU of the server's processes per request
    db_cpu_ms: float | None = None  # CPU of PostgreSQL per request
    other_cores: float | None = None  # CPU taken meanwhile by unrelated processes, in cores

    def as_dict(self) -> dict[str, Any]:
        """For the JSON results."""
        return asdict(self)


def wrk_path() -> str:
    """wrk, or an explanation of how to get it."""
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk is missing: apt-get update && apt-get install -y wrk (or run bench/run.sh)")
    return found


def _lua_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def script(scenario: str | None, variables: dict[str, Any]) -> str:
    """A wrk script: the variables, the scenario's request function (if any), the report."""
    lines = []
    for name, value in variables.items():
        if isinstance(value, list):
            lines.append(f"{name} = {{{', '.join(_lua_string(item) for item in value)}}}")
        else:
            lines.append(f"{name} = {_lua_string(str(value))}")
    body = (LUA / f"{scenario}.lua").read_text() if scenario else ""
    return "\n".join([*lines, body, (LUA / "report.lua").read_text()])


def start(
    url: str,
    *,
    seconds: float,
    connections: int,
    headers: dict[str, str] | None = None,
    scenario: str | None = None,
    variables: dict[str, Any] | None = None,
) -> tuple[subprocess.Popen[str], Path]:
    """Start one wrk run in the background; `finish` reads its figures."""
    if not url.startswith(LOOPBACK):
        raise ValueError(f"the benchmark only loads servers on this machine, not {url}")
    handle = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False, encoding="utf-8")  # noqa: SIM115
    with handle:
        handle.write(script(scenario, variables or {}))
    command = [
        wrk_path(),
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        handle.name,
    ]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    command.append(url)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # noqa: S603
    return process, Path(handle.name)


def finish(process: subprocess.Popen[str], script_path: Path, timeout: float) -> Figures:
    """Wait for a wrk run and parse the line its report script printed."""
    try:
        output, _ = process.communicate(timeout=timeout)
    finally:
        script_path.unlink(missing_ok=True)
    for line in output.splitlines():
        if line.startswith("BENCH_JSON "):
            raw = json.loads(line.removeprefix("BENCH_JSON "))
            seconds = raw["duration_us"] / 1e6
            errors = sum(
                raw[name]
                for name in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
            )
            return Figures(
                requests=raw["requests"],
                seconds=round(seconds, 2),
                rps=round(raw["requests"] / seconds, 1) if seconds else 0.0,
                p50_ms=round(raw["p50_us"] / 1000, 2),
                p90_ms=round(raw["p90_us"] / 1000, 2),
                p99_ms=round(raw["p99_us"] / 1000, 2),
                max_ms=round(raw["max_us"] / 1000, 2),
                errors=errors,
            )
    raise RuntimeError(f"wrk printed no figures:\n{output}")


def run(url: str, *, seconds: float, connections: int, **kwargs: Any) -> Figures:
    """One wrk run in the foreground."""
    process, path = start(url, seconds=seconds, connections=connections, **kwargs)
    return finish(process, path, timeout=seconds + 60)
