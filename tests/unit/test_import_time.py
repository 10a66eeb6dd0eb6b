"""Importing headwater stays light: no dask, distributed, sqlalchemy, fastapi or uvicorn.

Each check runs in a fresh interpreter, so modules other tests imported do not count.
This asserts which modules are absent, not how long the import takes (timing belongs to
``python -m benchmarks --only import_time``).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

FORBIDDEN = ("dask", "distributed", "sqlalchemy", "fastapi", "uvicorn")


def _loaded_after(statement: str) -> list[str]:
    code = f"{statement}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return list(json.loads(proc.stdout.splitlines()[-1]))


def _forbidden(modules: list[str]) -> list[str]:
    return [name for name in modules if name.split(".")[0] in FORBIDDEN]


@pytest.mark.parametrize(
    "statement",
    [
        "import headwater",
        "import headwater.executors",
        "from headwater.executors import DaskExecutor, LocalDaskExecutor, LocalExecutor\n"
        "LocalDaskExecutor(); DaskExecutor()",
    ],
)
def test_statement_imports_no_heavy_module(statement: str) -> None:
    modules = _loaded_after(statement)
    assert "headwater" in modules
    assert _forbidden(modules) == []


def test_local_dask_executor_runs_without_dask() -> None:
    statement = (
        "from headwater.executors import LocalDaskExecutor\n"
        "ex = LocalDaskExecutor('threads', num_workers=2)\n"
        "with ex.start():\n"
        "    assert ex.wait(ex.submit(pow, 2, 5)) == 32"
    )
    assert _forbidden(_loaded_after(statement)) == []


def test_the_check_itself_sees_heavy_modules() -> None:
    # Guards against a check that could never fail.
    assert "distributed" in _forbidden(_loaded_after("import distributed"))
