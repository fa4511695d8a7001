"""Render the measured parts of docs/performance.md from one results file of `python -m bench`.

`python -m bench.report bench/results/bench-<time>.json` prints the markdown of the run: the
service vs baseline table, the scale table, the plans and the two-instance figures. The prose of
docs/performance.md quotes it; nothing in it is typed by hand.
"""

import json
import sys
from pathlib import Path
from typing import Any

SCALE_TARGET_MS = 50
DEEP_TARGET_MS = 100


def _scale_table(scale: dict[str, Any]) -> str:
    lines = [
        "| query | note | p50 ms | p99 ms | requests | under target? |",
        "|---|---|---:|---:|---:|---|",
    ]
    for key, figures in scale["queries"].items():
        deep = "offset=" in key and "offset=9950" not in key
        target = DEEP_TARGET_MS if deep else SCALE_TARGET_MS
        verdict = "yes" if figures["p99_ms"] < target and not figures["errors"] else "**no**"
        lines.append(
            f"| `{key}` | {figures['note']} | {figures['p50_ms']:.1f} | {figures['p99_ms']:.1f} | "
            f"{figures['requests']} | {verdict} (< {target} ms) |"
        )
    return "\n".join(lines)


def _plans(scale: dict[str, Any]) -> str:
    parts = []
    for key, texts in scale["plans"].items():
        parts.append(f"#### `{key}`\n")
        for text in texts:
            sql, _, plan = text.partition("\n\n")
            parts.append(f"```sql\n{sql.strip()}\n```\n\n```\n{plan.strip()}\n```\n")
    return "\n".join(parts)


def _instances(instances: dict[str, Any]) -> str:
    one, two = instances["one"], instances["two"]
    lines = [
        "| | req/s | p50 ms | p99 ms |",
        "|---|---:|---:|---:|",
        f"| one instance | {one['rps']:,.0f} | {one['p50_ms']:.1f} | {one['p99_ms']:.1f} |",
        f"| two instances | {two['rps']:,.0f} | {two['p50_ms']:.1f} | {two['p99_ms']:.1f} (the worse of the two) |",
    ]
    for name, check in instances["checks"].items():
        details = ", ".join(f"{k} {v}" for k, v in check.items() if k != "holds")
        lines.append(f"\n- {name}: {'holds' if check['holds'] else '**does not hold**'} ({details})")
    return "\n".join(lines)


def _checks(checks: dict[str, Any]) -> str:
    """The comparison's figures against the issue's targets (`checks` of bench/run.py): ratios of
    every write (create, update, delete) and the list's; a verdict where there is a target."""
    lines = []
    for name, value in checks.items():
        if name.endswith("_ok"):
            continue
        ok = checks.get(f"{name}_ok")
        verdict = "" if ok is None else (" (met)" if ok else " (**missed**)")
        lines.append(f"- {name.replace('_', ' ')}: {value}{verdict}")
    return "\n".join(lines)


def render(results: dict[str, Any]) -> str:
    """The markdown of one run."""
    environment, args = results["environment"], results["args"]
    head = (
        f"Run of {environment['at']} (commit {environment['git']}, {environment['cpus']} cores, "
        f"Python {environment['python']}, {environment['wrk'].split(' Copyright')[0]}): "
        f"`python -m bench {' '.join(args['parts'])} --duration {args['duration']:g} "
        f"--rounds {args['rounds']} --scale-duration {args['scale_duration']:g}`, "
        f"{results['seconds']:.0f} s in all."
    )
    sections = [head]
    if "markdown" in results:
        sections += ["### Service vs baseline", results["markdown"]]
    if "checks" in results:
        sections.append(_checks(results["checks"]))
    if "scale" in results:
        scale = results["scale"]
        rows = ", ".join(f"{count:,} {name.replace('_', ' ')}" for name, count in scale["rows"].items())
        sections += [
            "### Scale",
            f"Generated {rows} in {scale['generation_seconds']:.0f} s; organization 1 is the largest.",
            _scale_table(scale),
            "### Plans",
            _plans(scale),
        ]
    if "instances" in results:
        sections += ["### Two instances", _instances(results["instances"])]
    return "\n\n".join(sections) + "\n"


def main() -> None:
    """Print the report of the results file named on the command line."""
    print(render(json.loads(Path(sys.argv[1]).read_text())))


if __name__ == "__main__":
    main()
