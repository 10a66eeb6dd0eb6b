"""The fault-injection suite: ``python -m tests.chaos [options]`` from the repository root.

Runs every scenario of ``scenarios.py`` (or those named with ``--only``) at full size
against real servers, agents and flow-run processes, prints one line of counts per
scenario and database, and writes them all as JSON (``--json``). Sizes can be changed
per scenario (``--trials NAME=N``) or all at once (``--scale F``). The run is bounded:
``--time-limit`` seconds in all (default 3600), after which the remaining scenarios are
skipped and reported as such. Exit status 1 when any scenario saw a stuck, lost or
twice-run run, a lost log line, a duplicate child or a 5xx answer.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .scenarios import SCENARIOS, run_scenario

_COLUMNS = (
    "trials",
    "runs",
    "finished",
    "failed_clear",
    "stuck",
    "executed_twice",
    "lost",
    "logs_lost",
    "http_5xx",
    "duplicate_children",
    "rerun_unrecorded",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__)
    parser.add_argument("--only", action="append", default=[], help="scenario name (repeatable)")
    parser.add_argument(
        "--trials", action="append", default=[], metavar="NAME=N", help="size of one scenario"
    )
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every full size")
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--time-limit", type=float, default=3600.0)
    parser.add_argument("--json", type=Path, default=None, help="write the counts here")
    parser.add_argument("--list", action="store_true", help="list the scenarios and sizes")
    args = parser.parse_args(argv)
    if args.list:
        for name, (_, databases, full, short) in SCENARIOS.items():
            print(f"{name:14} full {full:4}  CI {short:3}  on {', '.join(databases)}")
        return 0
    sizes = {name: max(1, round(full * args.scale)) for name, (_, _, full, _) in SCENARIOS.items()}
    for item in args.trials:
        name, _, value = item.partition("=")
        if name not in SCENARIOS or not value.isdigit():
            parser.error(f"--trials wants NAME=N with a known scenario, got {item!r}")
        sizes[name] = int(value)
    names = args.only or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")
    deadline = time.monotonic() + args.time_limit
    results = []
    failed = False
    for name in names:
        _, databases, _, _ = SCENARIOS[name]
        for database in databases:
            if args.database not in ("both", database):
                continue
            if time.monotonic() > deadline:
                print(f"{name} [{database}]: skipped, the time limit was reached")
                results.append({"scenario": name, "database": database, "skipped": True})
                continue
            counts = run_scenario(name, sizes[name], database, seed=args.seed)
            failed = failed or not counts.ok
            row = counts.as_dict()
            results.append(row)
            cells = " ".join(f"{c}={row[c]}" for c in _COLUMNS)
            print(f"{name} [{database}] {cells} seconds={counts.seconds:.0f}", flush=True)
            if counts.delays:
                print(f"  lost-claim delays (s): {row['lost_claim_delays_s']}")
            for note in counts.notes[:10]:
                print(f"  {note}")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
