"""Where the CPU went during a run: the server under test, PostgreSQL, wrk, and anything else.

The machine has two cores shared by the server, PostgreSQL and wrk, so a run is only worth its
figures when nothing else is busy. Each run records the CPU milliseconds the server and the
database spent per request (comparable across servers whatever the load), and how much CPU other
processes took during the run; a noisy run is flagged, and a run waits for a quiet machine first.
"""

import os
import time
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Snapshot:
    """CPU ticks of every process at one moment, with when it was taken."""

    at: float
    processes: dict[int, tuple[str, int, int]]  # pid -> (command, process group, ticks)


def snapshot() -> Snapshot:
    """Read /proc once."""
    processes = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        # The command is in parentheses and may hold spaces; fields after it are positional.
        command = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        processes[int(entry.name)] = (command, int(fields[2]), int(fields[11]) + int(fields[12]))
    return Snapshot(time.monotonic(), processes)


def usage(before: Snapshot, after: Snapshot, server_groups: set[int]) -> dict[str, float]:
    """CPU seconds of the servers, PostgreSQL, wrk and the rest between two snapshots."""
    spent = {"server": 0.0, "postgres": 0.0, "wrk": 0.0, "other": 0.0}
    me = os.getpid()
    for pid, (command, group, ticks) in after.processes.items():
        previous = before.processes.get(pid)
        delta = (ticks - (previous[2] if previous and previous[0] == command else 0)) / TICKS
        if group in server_groups:
            spent["server"] += delta
        elif command == "postgres":
            spent["postgres"] += delta
        elif command == "wrk" or pid == me:
            spent["wrk"] += delta
        else:
            spent["other"] += delta
    spent["wall"] = after.at - before.at
    return spent


def busy_share(seconds: float = 0.5) -> float:
    """How busy the whole machine is right now, 0 to 1 (all cores)."""

    def read() -> tuple[int, int]:
        values = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = values[3] + values[4]
        return sum(values), idle

    total_a, idle_a = read()
    time.sleep(seconds)
    total_b, idle_b = read()
    return 1 - (idle_b - idle_a) / max(1, total_b - total_a)


def wait_for_quiet(limit: float = 0.15, patience: float | None = None) -> float:
    """Wait (bounded) until the machine is nearly idle; the busy share seen last. The bound is
    BENCH_QUIET_PATIENCE seconds (default 120; 0 for a run that only checks the benchmark works)."""
    if patience is None:
        patience = float(os.environ.get("BENCH_QUIET_PATIENCE", "120"))
    deadline = time.monotonic() + patience
    share = busy_share()
    warned = False
    while share > limit and time.monotonic() < deadline:
        if not warned:
            print(f"  (machine {share:.0%} busy with other work: waiting up to {patience:.0f} s)", flush=True)
            warned = True
        time.sleep(2)
        share = busy_share()
    return share
