"""The benchmark command: discovery, row validation, targets, and one real run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from benchmarks.__main__ import check_rows, discover, meets

ROOT = Path(__file__).resolve().parents[2]


def test_discovers_public_modules_only() -> None:
    names = discover()
    assert "import_time" in names
    assert not any(name.startswith("_") for name in names)


@pytest.mark.parametrize(
    ("value", "target", "expected"),
    [
        (12, "<= 150", True),
        (151, "<= 150", False),
        (0, "0", True),
        (1, "== 0", False),
        (5, ">= 5", True),
        (4.9, "> 5", False),
        (1e-3, "< 1e-2", True),
        (3, "", None),
        (3, "p50 <= 3", None),
        (None, "<= 1", None),
    ],
)
def test_targets(value: float | None, target: str, expected: bool | None) -> None:
    assert meets(value, target) is expected


def test_rows_are_validated_with_clear_messages() -> None:
    rows = [{"benchmark": "b", "value": 1.5, "unit": "ms", "target": None, "extra": 1}]
    assert check_rows(rows) == [{"benchmark": "b", "value": 1.5, "unit": "ms", "target": ""}]
    with pytest.raises(ValueError, match="must return a list"):
        check_rows({"benchmark": "b"})
    with pytest.raises(ValueError, match="row 0 lacks unit, target"):
        check_rows([{"benchmark": "b", "value": 1}])
    with pytest.raises(ValueError, match="value is not a number"):
        check_rows([{"benchmark": "b", "value": "fast", "unit": "", "target": ""}])


def test_one_benchmark_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "benchmarks", "--only", "import_time"),
            *("--json", str(out), "--latest", str(tmp_path / "latest.json")),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    rows = report["benchmarks"]["import_time"]["rows"]
    forbidden = next(r for r in rows if "forbidden" in r["benchmark"])
    assert forbidden["value"] == 0
    assert all(set(r) == {"benchmark", "value", "unit", "target"} for r in rows)
    assert json.loads((tmp_path / "latest.json").read_text()) == report


def test_unknown_benchmark_is_one_line_and_non_zero() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--only", "no_such_benchmark"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"unknown benchmark no_such_benchmark; available: {', '.join(discover())}"
    ]
