"""``headwater register --no-schedule``, ``headwater flow schedule ...``, ``flow backfill``
and ``get flow-runs --upcoming`` as real subprocesses against a real server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from headwater.testing import TemporaryServer, temporary_server

pytestmark = pytest.mark.e2e

FLOWS = """
from datetime import timedelta

from headwater import Flow, Parameter, task
from headwater.schedules import CronSchedule, IntervalSchedule


@task
def say(word):
    return word


with Flow("{prefix}-daily", schedule=CronSchedule("0 6 * * *")) as daily:
    say(Parameter("word", default="morning"))

with Flow("{prefix}-needy", schedule=IntervalSchedule(interval=timedelta(hours=1))) as needy:
    say(Parameter("word"))
"""


def _executable() -> str:
    found = shutil.which("headwater", path=str(Path(sys.executable).parent))
    assert found, "the headwater console script is not installed"
    return found


def hw(api_url: str, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HEADWATER_API_URL=api_url)
    env.pop("HEADWATER_API_KEY", None)
    result = subprocess.run(
        [_executable(), *args], capture_output=True, text=True, env=env, timeout=120
    )
    if ok:
        assert result.returncode == 0, (args, result.stdout, result.stderr)
    else:
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr, result.stderr
        assert result.stderr.strip().count("\n") == 0, result.stderr
        assert result.stderr.startswith("Error"), result.stderr
    return result


@pytest.fixture(scope="module")
def cli_server() -> Iterator[TemporaryServer]:
    with temporary_server() as server:
        yield server


def _upcoming(url: str, name: str) -> list[dict[str, object]]:
    out = hw(url, "get", "flow-runs", "--upcoming", "--name", name, "--json").stdout
    runs: list[dict[str, object]] = json.loads(out) if out.strip().startswith("[") else []
    return runs


def test_schedule_commands(cli_server: TemporaryServer, tmp_path: Path) -> None:
    url = cli_server.api_url
    prefix = f"s{uuid.uuid4().hex[:6]}"
    path = tmp_path / "scheduled_flows.py"
    path.write_text(FLOWS.format(prefix=prefix))
    project = f"p-{prefix}"
    hw(url, "create", "project", project)

    # A required parameter no clock supplies: registering with the schedule on fails in
    # one line, the other flow registers; --no-schedule registers both.
    failed = hw(url, "register", "--project", project, "--path", str(path), ok=False)
    assert f"{prefix}-needy" in failed.stderr and "'word'" in failed.stderr
    assert f"Flow '{prefix}-daily': registered" in failed.stdout
    assert len(_upcoming(url, f"{prefix}-daily")) == 10
    quiet = hw(url, "register", "--project", project, "--path", str(path), "--no-schedule")
    assert f"Flow '{prefix}-needy': registered, version 1" in quiet.stdout
    assert f"Flow '{prefix}-daily': registered, version 2" in quiet.stdout
    assert _upcoming(url, f"{prefix}-daily") == []
    assert (
        "Nothing found"
        in hw(url, "get", "flow-runs", "--upcoming", "--name", f"{prefix}-daily").stdout
    )

    on = hw(url, "flow", "schedule", "on", f"{prefix}-daily").stdout
    assert "schedule on" in on and "06:00:00" in on
    upcoming = _upcoming(url, f"{prefix}-daily")
    assert len(upcoming) == 10
    table = hw(url, "get", "flow-runs", "--upcoming", "--name", f"{prefix}-daily").stdout
    assert "Upcoming flow runs" in table
    refused = hw(url, "flow", "schedule", "on", f"{prefix}-needy", ok=False).stderr
    assert "cannot be switched on" in refused

    show = json.loads(hw(url, "flow", "schedule", "show", f"{prefix}-daily", "--json").stdout)
    assert show["is_schedule_active"] is True and show["late_runs"] == "all"
    late = hw(url, "flow", "schedule", "late-runs", f"{prefix}-daily", "skip", "--max-age", "90")
    assert "late runs: skip (older than 90 s)" in late.stdout
    hw(url, "flow", "schedule", "late-runs", f"{prefix}-daily", "skip", ok=False)

    filled = hw(
        url,
        "flow",
        "backfill",
        f"{prefix}-daily",
        "--start",
        "2024-01-01",
        "--end",
        "2024-01-03T12:00",
    ).stdout
    assert "3 run(s) created, 0 time(s) already had a run" in filled
    again = hw(
        url,
        "flow",
        "backfill",
        f"{prefix}-daily",
        "--start",
        "2024-01-01",
        "--end",
        "2024-01-03T12:00",
    ).stdout
    assert "0 run(s) created, 3 time(s) already had a run" in again
    bad = subprocess.run(
        [_executable(), "flow", "backfill", f"{prefix}-daily", "--start", "soon", "--end", "x"],
        capture_output=True,
        text=True,
        env=dict(os.environ, HEADWATER_API_URL=url),
        timeout=60,
    )
    assert bad.returncode == 2 and "not an ISO date-time" in bad.stderr

    off = hw(url, "flow", "schedule", "off", f"{prefix}-daily").stdout
    assert "schedule off" in off
    assert _upcoming(url, f"{prefix}-daily") == []
    missing = hw(url, "flow", "schedule", "on", "no-such-flow", ok=False).stderr
    assert "No registered flow named 'no-such-flow'" in missing
