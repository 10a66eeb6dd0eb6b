"""Benchmark: how long ``import headwater`` takes, and what it must not import.

Measures, each in a fresh interpreter:

- the cumulative time of ``import headwater`` as ``python -X importtime`` reports it (the
  ``headwater`` line's cumulative column), median over several runs after one warm-up
  run that fills the bytecode cache; target <= 150 ms;
- the number of modules that importing ``headwater`` adds to the interpreter;
- how many of the forbidden heavy modules (dask, distributed, sqlalchemy, fastapi,
  uvicorn) it imports; target 0.

Run with ``python -m benchmarks.import_time``; ``run()`` returns the rows for the
benchmark table.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from typing import Any

FORBIDDEN = ("dask", "distributed", "sqlalchemy", "fastapi", "uvicorn")
_RUNS = 7


def _row(benchmark: str, value: float, unit: str, target: str = "") -> dict[str, Any]:
    return {"benchmark": benchmark, "value": round(value, 3), "unit": unit, "target": target}


def cumulative_import_ms(module: str = "headwater") -> float:
    """Return ``module``'s cumulative import time in milliseconds, from ``-X importtime``.

    Args:
        module: the top-level module to import in a fresh interpreter.

    Returns:
        The cumulative microseconds of the line naming ``module``, in milliseconds.

    Raises:
        RuntimeError: when the import fails or the report has no line for ``module``.
    """
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"import {module} failed: {proc.stderr.strip()[-2000:]}")
    for line in proc.stderr.splitlines():
        # "import time:  self [us] | cumulative | imported package"
        if not line.startswith("import time:"):
            continue
        parts = line[len("import time:") :].split("|")
        # Nested imports are indented; the requested module's own line has one space.
        if len(parts) == 3 and parts[2].rstrip() == f" {module}":
            return int(parts[1]) / 1000.0
    raise RuntimeError(f"-X importtime reported no line for {module!r}")


def imported_modules(module: str = "headwater") -> tuple[list[str], int]:
    """Return the modules that importing ``module`` adds, and the baseline module count.

    Args:
        module: the module to import in a fresh interpreter.

    Returns:
        ``(sorted names added by the import, number of modules loaded before it)``.
    """
    code = (
        "import json, sys; before = set(sys.modules); "
        f"import {module}; "
        "print(json.dumps([sorted(set(sys.modules) - before), len(before)]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    added, baseline = json.loads(out)
    return list(added), int(baseline)


def forbidden_in(modules: list[str]) -> list[str]:
    """Return the names in ``modules`` that belong to a forbidden top-level package."""
    return sorted(name for name in modules if name.split(".")[0] in FORBIDDEN)


def run() -> list[dict[str, Any]]:
    """Measure the import of ``headwater``; return benchmark rows."""
    cumulative_import_ms()  # warm-up: compile and cache bytecode
    times = [cumulative_import_ms() for _ in range(_RUNS)]
    added, _ = imported_modules()
    forbidden = forbidden_in(added)
    return [
        _row(
            "import headwater: cumulative time (median)", statistics.median(times), "ms", "<= 150"
        ),
        _row("import headwater: cumulative time (max)", max(times), "ms"),
        _row("import headwater: modules added", len(added), "modules"),
        _row(
            "import headwater: forbidden heavy modules imported",
            len(forbidden),
            "modules",
            "== 0",
        ),
    ]


if __name__ == "__main__":
    for row in run():
        target = f"  (target {row['target']})" if row["target"] else ""
        print(f"{row['benchmark']}: {row['value']} {row['unit']}{target}")
