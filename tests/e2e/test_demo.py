"""``headwater demo --exit-after`` runs the README's main job end to end.

It starts a real server and agent, registers the examples, runs the orchestrator and
prints its result; on exit both child processes are gone.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[2]
CLI = "import sys; from headwater.cli import main; sys.exit(main())"


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_demo_runs_the_orchestrator_and_stops_cleanly(tmp_path: Path) -> None:
    env = dict(os.environ, HEADWATER_HOME=str(tmp_path / "home"))
    env.pop("HEADWATER_API_URL", None)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            CLI,
            "demo",
            "--exit-after",
            # Port 0: the demo picks a free loopback port and tells it.
            "--port",
            "0",
            "--numbers",
            "1,2,3",
            "--examples-dir",
            str(ROOT / "examples"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=200,
    )
    logs = ""
    for name in ("server.log", "agent.log"):
        path = tmp_path / "home" / "demo" / name
        if path.exists():
            logs += f"\n--- {name}\n" + path.read_text(errors="replace")[-3000:]
    assert done.returncode == 0, done.stdout + done.stderr + logs
    ready = re.search(r"Server ready at http://127\.0\.0\.1:(\d+)/api", done.stdout)
    assert ready, done.stdout
    port = int(ready.group(1))
    assert port != 0
    assert f"HEADWATER_API_URL=http://127.0.0.1:{port}/api" in done.stdout
    assert "Result: sum of squares of [1, 2, 3] = 14" in done.stdout
    assert "Orchestrator run: " in done.stdout
    children = done.stdout.split("Child runs: ", 1)[1].splitlines()[0].split(", ")
    assert len(children) == 3
    assert "headwater get flow-runs" in done.stdout
    deadline = time.monotonic() + 10
    while _listening(port) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _listening(port), "the demo left its server running"


def test_demo_rejects_bad_numbers(tmp_path: Path) -> None:
    env = dict(os.environ, HEADWATER_HOME=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-c", CLI, "demo", "--numbers", "1,x"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "--numbers" in done.stderr


def test_demo_rejects_a_port_out_of_range(tmp_path: Path) -> None:
    env = dict(os.environ, HEADWATER_HOME=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-c", CLI, "demo", "--port", "70000"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--port" in done.stderr and "70000" in done.stderr
    assert not (tmp_path / "demo").exists(), "nothing starts on bad input"
