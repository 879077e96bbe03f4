"""Verification and consolidation of this tree beside another checkout, in one run, turn about.

    python -m bench.beside /path/to/old/checkout [--rounds 2]

Each round runs, in a child process started in each tree (so each imports its own code), that tree's
bench.run.bench_verify and bench_consolidate on a demo set written by that tree's own exporter. Prints a
Markdown table (the source of the issue-22 rows of docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import json, sys, tempfile
from pathlib import Path
from bench.run import _demo_set, bench_consolidate, bench_verify
with tempfile.TemporaryDirectory() as folder:
    root, returns = _demo_set(Path(folder))
    verify = bench_verify(root, returns)
    consolidate = bench_consolidate(root, returns, 4)
print("RESULT", json.dumps({"verify": verify, "consolidate": consolidate}))
"""


def run_in(tree: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-c", CHILD], cwd=tree, env=env, capture_output=True, text=True, check=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("other", type=Path, help="the other checkout (e.g. a worktree of the commit before)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    for _ in range(args.rounds):
        runs["before"].append(run_in(args.other.resolve()))
        runs["after"].append(run_in(ROOT))

    def median(side: str, part: str, key: str) -> float:
        return statistics.median(r[part][key] for r in runs[side])

    print(f"| measure (median of {args.rounds} rounds, turn about) | before | after |")
    print("|---|---|---|")
    rows = (
        ("verify: `collect` on all cores, returns/s", "verify", "verified_per_s", "{:.0f}"),
        ("verify: `collect` on one worker, returns/s", "verify", "serial_per_s", "{:.0f}"),
        ("verify: the checks alone, ms of CPU a file", "verify", "in_process_ms", "{:.2f}"),
        ("verify: `main.py verify FILE…`, returns/s", "verify", "command_per_s", "{:.0f}"),
        ("verify: openpyxl read-only open (baseline), files/s", "verify", "openpyxl_per_s", "{:.0f}"),
        ("consolidate 4 × demo set: seconds", "consolidate", "seconds", "{:.1f}"),
        ("consolidate: openpyxl open of the same files (baseline), seconds", "consolidate", "openpyxl_seconds", "{:.1f}"),
    )
    for label, part, key, shape in rows:
        print(f"| {label} | {shape.format(median('before', part, key))} | {shape.format(median('after', part, key))} |")
    for side in ("before", "after"):
        ratios = [r["consolidate"]["seconds"] / r["consolidate"]["openpyxl_seconds"] for r in runs[side]]
        print(f"| consolidate ÷ openpyxl open, {side} (each round) | " + " / ".join(f"{x:.2f}×" for x in ratios) + " | |")
    print("\n```json\n" + json.dumps(runs, indent=1) + "\n```")


if __name__ == "__main__":
    main()
