"""The one benchmark command: ``python -m benchmarks [--only NAME] [--json FILE]``.

Contract:
    Every module ``benchmarks/<name>.py`` whose name does not start with ``_`` is a
    benchmark. It exposes ``run() -> list[dict]``; each row is
    ``{"benchmark": str, "value": number | None, "unit": str, "target": str}`` where
    ``target`` is empty (or None) or a comparison such as ``"<= 150"``, ``">= 1000"`` or
    a bare number meaning equality, against ``value`` in the row's unit.

    Each module runs in its own subprocess (so one benchmark's imports, threads and
    memory never affect another's numbers), with the repository root as working
    directory. A module that fails, times out or returns malformed rows is reported as
    an error row; the command then exits with status 1. Results are printed as a table
    and written to ``benchmarks/results/latest.json`` (and to ``--json FILE`` when given);
    with ``--only``, the other modules' earlier results in ``latest.json`` are kept.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LATEST = HERE / "results" / "latest.json"
_TARGET = re.compile(r"^\s*(<=|>=|<|>|==)?\s*([-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?)\s*$", re.I)
_KEYS = ("benchmark", "value", "unit", "target")


def discover() -> list[str]:
    """Return the names of the benchmark modules, sorted."""
    return sorted(
        path.stem
        for path in HERE.glob("*.py")
        if not path.stem.startswith("_") and path.stem.isidentifier()
    )


def check_rows(rows: Any) -> list[dict[str, Any]]:
    """Validate what a benchmark's ``run()`` returned.

    Args:
        rows: the returned value.

    Returns:
        The rows, each with exactly the four keys.

    Raises:
        ValueError: naming the first problem found.
    """
    if not isinstance(rows, list):
        raise ValueError(f"run() must return a list of rows, got {type(rows).__name__}")
    checked = []
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise ValueError(f"row {index} is not a dict: {row!r}")
        missing = [key for key in _KEYS if key not in row]
        if missing:
            raise ValueError(f"row {index} lacks {', '.join(missing)}: {row!r}")
        value = row["value"]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ValueError(f"row {index} value is not a number: {value!r}")
        entry = {key: row[key] for key in _KEYS}
        entry["target"] = "" if entry["target"] is None else str(entry["target"])
        checked.append(entry)
    return checked


def meets(value: Any, target: str) -> bool | None:
    """Whether ``value`` meets ``target`` (``None`` when the target is not a comparison)."""
    match = _TARGET.match(target or "")
    if match is None or value is None:
        return None
    op, bound = match.group(1) or "==", float(match.group(2))
    number = float(value)
    outcome: dict[str, bool] = {
        "<=": number <= bound,
        ">=": number >= bound,
        "<": number < bound,
        ">": number > bound,
        "==": number == bound,
    }
    return outcome[op]


def _child(name: str, out: str) -> int:
    import importlib

    module = importlib.import_module(f"benchmarks.{name}")
    rows = module.run()
    Path(out).write_text(json.dumps(rows, default=str))
    return 0


def run_one(name: str, timeout: float) -> dict[str, Any]:
    """Run one benchmark module in a subprocess.

    Args:
        name: the module name under ``benchmarks``.
        timeout: seconds before the subprocess is killed.

    Returns:
        ``{"rows": [...], "seconds": float, "error": str | None}``.
    """
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="headwater-bench-") as tmp:
        out = os.path.join(tmp, "rows.json")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        cmd = [sys.executable, "-m", "benchmarks", "--child", name, "--child-out", out]
        try:
            proc = subprocess.run(
                cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            return _failed(started, f"timed out after {timeout:g} s")
        if proc.returncode != 0:
            tail = (proc.stderr.strip() or proc.stdout.strip())[-1500:]
            return _failed(started, f"exited with status {proc.returncode}: {tail}")
        try:
            rows = check_rows(json.loads(Path(out).read_text()))
        except (OSError, ValueError) as exc:
            return _failed(started, f"bad result: {exc}")
    return {"rows": rows, "seconds": round(time.perf_counter() - started, 2), "error": None}


def _failed(started: float, error: str) -> dict[str, Any]:
    return {"rows": [], "seconds": round(time.perf_counter() - started, 2), "error": error}


def _print_table(results: dict[str, dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Headwater benchmarks")
    for column in ("module", "benchmark", "value", "unit", "target", "met"):
        table.add_column(column, justify="right" if column == "value" else "left")
    for name, result in results.items():
        if result["error"]:
            table.add_row(name, "[red]ERROR[/red]", "", "", "", result["error"][:200])
        for row in result["rows"]:
            ok = meets(row["value"], str(row["target"]))
            mark = {True: "[green]yes[/green]", False: "[red]no[/red]", None: ""}[ok]
            value = "" if row["value"] is None else f"{row['value']:g}"
            table.add_row(name, row["benchmark"], value, row["unit"], str(row["target"]), mark)
    # Piped output gets a wide table instead of rich's 80-column fallback.
    Console(width=None if sys.stdout.isatty() else 140).print(table)


def _previous_results(latest: Path) -> dict[str, dict[str, Any]]:
    try:
        previous = json.loads(latest.read_text())["benchmarks"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return dict(previous) if isinstance(previous, dict) else {}


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the benchmarks, print and save the results."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--only", action="append", metavar="NAME", help="run only NAME")
    parser.add_argument("--json", metavar="FILE", help="also write the results to FILE")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per module")
    parser.add_argument(
        "--latest", metavar="FILE", default=str(LATEST), help="where latest results are kept"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args.child, args.child_out)

    available = discover()
    if args.list:
        print("\n".join(available))
        return 0
    selected = available
    if args.only:
        wanted = [name for item in args.only for name in item.split(",") if name]
        unknown = [name for name in wanted if name not in available]
        if unknown:
            print(
                f"unknown benchmark {', '.join(unknown)}; available: {', '.join(available)}",
                file=sys.stderr,
            )
            return 2
        selected = wanted

    results: dict[str, dict[str, Any]] = {}
    for name in selected:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        results[name] = run_one(name, args.timeout)
    _print_table(results)

    # A partial run (--only) updates its modules in latest.json and keeps the others'.
    latest = Path(args.latest)
    merged = _previous_results(latest) if args.only else {}
    merged.update(results)
    report = {
        "generated_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "benchmarks": merged,
        "rows": [
            {"module": name, **row} for name, result in merged.items() for row in result["rows"]
        ],
    }
    text = json.dumps(report, indent=2, default=str)
    latest.parent.mkdir(parents=True, exist_ok=True)
    latest.write_text(text)
    if args.json:
        Path(args.json).write_text(text)
    return 1 if any(result["error"] for result in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
