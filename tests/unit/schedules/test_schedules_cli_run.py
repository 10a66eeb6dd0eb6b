"""`headwater run --path` runs a scheduled flow once, now (it does not follow the schedule)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

FLOW = """
from datetime import UTC, datetime, timedelta
from headwater import Flow, task
from headwater.schedules import IntervalSchedule

@task
def hello():
    print("hello ran")

soon = datetime.now(UTC) + timedelta(hours=1)
with Flow("scheduled-cli", schedule=IntervalSchedule(start_date=soon, interval=timedelta(hours=1))) as flow:
    hello()
"""


def _executable() -> str:
    found = shutil.which("headwater", path=str(Path(sys.executable).parent))
    assert found, "the headwater console script is not installed"
    return found


def test_run_path_runs_a_scheduled_flow_once(tmp_path: Path) -> None:
    script = tmp_path / "scheduled_flow.py"
    script.write_text(FLOW, encoding="utf-8")
    done = subprocess.run(
        [_executable(), "run", "--path", str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Flow run succeeded" in done.stdout
