"""Resumption with real agents: a restarted failed run, and Lazarus after a lost machine.

Either way the run continues where it stopped: the finished tasks are not run again (their
results are read back from the server), the child flow run created by a finished task is
not created again, and only the failed or interrupted task runs a second time.
"""

from __future__ import annotations

import os
import runpy
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from headwater.testing import (
    TemporaryServer,
    postgres_available,
    temporary_postgres_database,
    temporary_server,
)
from headwater.testing_agent import temporary_agent, wait_for_flow_run_state
from support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

SCRIPT = Path(__file__).parent / "flows" / "resumable.py"
_HEADWATER = str(Path(sys.executable).parent / "headwater")
FAST_REAPER = {
    "HEADWATER_HEARTBEAT_TIMEOUT": "3",
    "HEADWATER_REAPER_INTERVAL": "0.5",
    "HEADWATER_SUBMITTED_TIMEOUT": "10",
}
FAST_HEARTBEAT = {"HEADWATER__FLOW_RUN__HEARTBEAT_INTERVAL": "0.5"}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest) -> Iterator[TemporaryServer]:
    if request.param == "sqlite":
        with temporary_server(env=FAST_REAPER) as running:
            yield running
        return
    if not postgres_available() and os.environ.get("CI") != "true":
        pytest.skip("PostgreSQL is not reachable")
    with (
        temporary_postgres_database() as url,
        temporary_server(env=FAST_REAPER, database_url=url) as running,
    ):
        yield running


@pytest.fixture
def client(server: TemporaryServer) -> Any:
    from headwater.client import Client
    from headwater.storage import Local

    client = Client(api_server=server.api_url)
    client.create_project("e2e")
    for flow in runpy.run_path(str(SCRIPT), run_name="e2e_flows")["FLOWS"]:
        flow.storage = Local(path=str(SCRIPT), stored_as_script=True)
        client.register(flow, project_name="e2e")
    return client


def _start(client: Any, mode: str, log_dir: Path) -> str:
    flow = client.query_flows(name="e2e-resumable")[0]
    return str(
        client.create_flow_run(
            flow_id=flow["id"], parameters={"mode": mode, "log_dir": str(log_dir)}
        )
    )


def _task_states(client: Any, run_id: str, prefix: str) -> list[str]:
    return [
        r["state_type"]
        for r in client.query_task_runs(flow_run_id=run_id)
        if r["task_slug"].startswith(prefix)
    ]


def _count(log_dir: Path, name: str) -> int:
    path = log_dir / f"{name}.count"
    return len(path.read_text()) if path.exists() else 0


def _result(client: Any, flow_run_id: str, prefix: str) -> Any:
    from headwater.backend import TaskRunView

    rows = [
        r
        for r in client.query_task_runs(flow_run_id=flow_run_id)
        if r["task_slug"].startswith(prefix)
    ]
    assert len(rows) == 1, rows
    return TaskRunView.from_task_run_id(rows[0]["id"], client=client).get_result()


def _check_resumed(client: Any, run_id: str, log_dir: Path) -> dict[str, Any]:
    run = wait_for_flow_run_state(client, run_id, timeout=120)
    assert run["state_type"] == "Success", run["state_message"]
    assert _count(log_dir, "prepare") == 1  # kept, not run again
    assert _count(log_dir, "finish") == 2  # the interrupted task ran again
    assert _result(client, run_id, "finish") == 42  # with prepare's value read back
    children = client.get_flow_run_children(run_id)
    assert len(children) == 1, children  # the finished creating task was not run again
    creator = [
        r
        for r in client.query_task_runs(flow_run_id=run_id)
        if r["task_slug"].startswith("create_flow_run")
    ]
    assert [r["run_count"] for r in creator] == [1]
    assert wait_for_flow_run_state(client, children[0]["id"], timeout=60)["state_type"] == "Success"
    return run


def test_restart_reuses_finished_tasks_and_their_children(
    server: TemporaryServer, client: Any, tmp_path: Path
) -> None:
    with temporary_agent(server.api_url, process_env=FAST_HEARTBEAT):
        run_id = _start(client, "fail-once", tmp_path)
        failed = wait_for_flow_run_state(client, run_id, timeout=120)
        assert failed["state_type"] == "Failed"
        assert len(client.get_flow_run_children(run_id)) == 1
        # The user's restart, as the CLI does it: one line, exit code 0.
        env = {**os.environ, "HEADWATER_API_URL": server.api_url}
        done = subprocess.run(
            [_HEADWATER, "restart", run_id],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().startswith(f"Flow run {run_id} is scheduled again:")
        _check_resumed(client, run_id, tmp_path)
        # A run that did not fail cannot be restarted: exit code 1 and one line.
        again = subprocess.run(
            [_HEADWATER, "restart", run_id],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert again.returncode != 0
        assert "only a failed or cancelled flow run can be restarted" in again.stderr
        assert len(again.stderr.strip().splitlines()) == 1


def test_lazarus_resumes_a_run_whose_machine_was_lost(
    server: TemporaryServer, client: Any, tmp_path: Path
) -> None:
    with temporary_agent(server.api_url, process_env=FAST_HEARTBEAT) as agent:
        run_id = _start(client, "hang-once", tmp_path)
        pid_file = tmp_path / "finish.pid"
        deadline = time.monotonic() + 90
        while not pid_file.exists():
            assert time.monotonic() < deadline, "the last task did not start"
            time.sleep(0.05)
        child = client.get_flow_run_children(run_id)[0]
        wait_for_flow_run_state(client, child["id"], timeout=60)
        # Task states reach the server in batches (every 0.2 s): lose the machine once the
        # server holds the last task as Running, and so everything before it as finished.
        # (A loss inside that window runs the unrecorded tasks again; the chaos suite
        # counts those apart, and they never make a second child.)
        wait_until(
            lambda: _task_states(client, run_id, "finish") == ["Running"],
            timeout=60,
            interval=0.05,
            what="the server to hold the last task as Running",
        )
        agent.kill()
        os.killpg(int(pid_file.read_text()), signal.SIGKILL)  # the machine is gone

    def rescheduled(run: dict[str, Any]) -> bool:
        return run["state_type"] == "Scheduled" and run["times_resurrected"] == 1

    run = wait_for_flow_run_state(client, run_id, predicate=rescheduled, timeout=60)
    assert "Lazarus" in run["state_message"]
    with temporary_agent(server.api_url, process_env=FAST_HEARTBEAT):
        run = _check_resumed(client, run_id, tmp_path)
    assert run["times_resurrected"] == 1
