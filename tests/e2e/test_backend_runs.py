"""Registered flows run for real: server + local agent subprocesses, SQLite and PostgreSQL.

One server and one agent per database serve every test in this module; each test
registers its flow from tests/e2e/flows and reads states, task runs, results and logs
back through the API.
"""

from __future__ import annotations

import contextlib
import os
import runpy
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

from headwater.testing import (
    TemporaryServer,
    postgres_available,
    temporary_postgres_database,
    temporary_server,
)
from headwater.testing_agent import temporary_agent, wait_for_flow_run_state

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

FLOWS = Path(__file__).parent / "flows"


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def stack(request: pytest.FixtureRequest) -> Iterator[tuple[TemporaryServer, Any]]:
    with contextlib.ExitStack() as stack:
        database_url: str | None = None
        if request.param == "postgresql":
            if not postgres_available() and os.environ.get("CI") != "true":
                pytest.skip("PostgreSQL is not reachable")
            database_url = stack.enter_context(temporary_postgres_database())
        server = stack.enter_context(temporary_server(database_url=database_url))
        stack.enter_context(temporary_agent(server.api_url, extra_args=["--cancel-grace", "3"]))
        from headwater.client import Client

        client = Client(api_server=server.api_url)
        client.create_project("e2e")
        yield server, client


def register(client: Any, file_name: str, path: Path | None = None) -> str:
    """Register the flow defined in tests/e2e/flows/<file_name>, stored as that script."""
    from headwater.storage import Local

    script = path or FLOWS / file_name
    flow = runpy.run_path(str(script), run_name="e2e_flow")["flow"]
    flow.storage = Local(path=str(script), stored_as_script=True)
    return str(client.register(flow, project_name="e2e"))


def _task_runs(client: Any, flow_run_id: str) -> list[dict[str, Any]]:
    return list(client.query_task_runs(flow_run_id=flow_run_id))


def _result(client: Any, task_run_id: str) -> Any:
    return cloudpickle.loads(client.download_result(task_run_id))


def test_run_states_task_runs_mapped_children_results_and_logs(
    stack: tuple[TemporaryServer, Any],
) -> None:
    _, client = stack
    flow_id = register(client, "basic.py")
    run_id = client.create_flow_run(
        flow_id=flow_id, parameters={"n": 4}, context={"from_run_context": "yes"}
    )
    run = wait_for_flow_run_state(client, run_id, timeout=60)
    assert run["state_type"] == "Success", run["state_message"]
    history = [s["state"]["type"] for s in client.get_flow_run_states(run_id)]
    assert history[0] == "Scheduled"
    assert "Submitted" in history and "Running" in history
    assert history[-1] == "Success"

    task_runs = _task_runs(client, run_id)
    by_name: dict[str, list[dict[str, Any]]] = {}
    for task_run in task_runs:
        by_name.setdefault(task_run["task_name"], []).append(task_run)
    doubles = sorted(by_name["double"], key=lambda t: t["map_index"])
    assert [t["map_index"] for t in doubles] == [-1, 0, 1, 2, 3]
    assert doubles[0]["state_type"] == "Mapped"
    assert all(t["state_type"] == "Success" for t in doubles[1:])
    assert [_result(client, t["id"]) for t in doubles[1:]] == [0, 2, 4, 6]
    (total,) = by_name["total"]
    assert total["state_type"] == "Success"
    assert _result(client, total["id"]) == 12

    (info_run,) = by_name["run_context"]
    info = _result(client, info_run["id"])
    assert info["running_with_backend"] is True
    assert info["flow_run_id"] == run_id
    assert info["flow_run_name"] == run["name"]
    assert info["task_run_id"] == info_run["id"]
    assert info["task_slug"] == info_run["task_slug"]
    assert info["task_run_count"] == 1
    assert info["from_run_context"] == "yes"

    messages = [log["message"] for log in client.get_logs(run_id)]
    assert any(m.startswith("Submitted for execution: PID:") for m in messages)
    assert "making 4 numbers" in messages
    assert "total of [0, 2, 4, 6]" in messages


def test_a_retried_task_keeps_its_task_run_id(stack: tuple[TemporaryServer, Any]) -> None:
    _, client = stack
    run_id = client.create_flow_run(flow_id=register(client, "retries.py"))
    run = wait_for_flow_run_state(client, run_id, timeout=60)
    assert run["state_type"] == "Success", run["state_message"]
    (task_run,) = [t for t in _task_runs(client, run_id) if t["task_name"] == "flaky"]
    assert _result(client, task_run["id"]) == task_run["id"]
    types = [s["state"]["type"] for s in client.get_task_run_states(task_run["id"])]
    assert "Retrying" in types and types[-1] == "Success"


def test_unloadable_storage_fails_the_run_saying_why(
    stack: tuple[TemporaryServer, Any], tmp_path: Path
) -> None:
    _, client = stack
    script = tmp_path / "vanishing.py"
    shutil.copy(FLOWS / "trivial.py", script)
    flow_id = register(client, "", path=script)
    script.unlink()
    run_id = client.create_flow_run(flow_id=flow_id)
    run = wait_for_flow_run_state(client, run_id, timeout=60)
    assert run["state_type"] == "Failed"
    assert run["state_message"].startswith("Could not load flow from storage:")
    assert "vanishing.py" in run["state_message"]


def test_a_process_dying_without_a_final_state_fails_the_run(
    stack: tuple[TemporaryServer, Any],
) -> None:
    _, client = stack
    run_id = client.create_flow_run(flow_id=register(client, "crash.py"))
    run = wait_for_flow_run_state(client, run_id, timeout=60)
    assert run["state_type"] == "Failed"
    assert "exited with code 3" in run["state_message"]
    assert "simulated fatal error" in run["state_message"]
    errors = [log["message"] for log in client.get_logs(run_id) if log["level"] == "ERROR"]
    assert any("simulated fatal error" in m for m in errors)


def _pid_gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie awaiting its reaper counts as gone)."""
    import psutil

    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_cancelling_a_sleeping_flow_ends_cancelled_and_its_process_is_gone(
    stack: tuple[TemporaryServer, Any], tmp_path: Path
) -> None:
    _, client = stack
    marker = tmp_path / "started"
    run_id = client.create_flow_run(
        flow_id=register(client, "sleepy.py"),
        parameters={"seconds": 60, "marker": str(marker)},
    )
    deadline = time.monotonic() + 60
    while not marker.exists() or not marker.read_text():
        assert time.monotonic() < deadline, "the flow did not start"
        time.sleep(0.05)
    pid = int(marker.read_text())
    started = time.monotonic()
    client.cancel_flow_run(run_id)
    run = wait_for_flow_run_state(client, run_id, timeout=30)
    assert run["state_type"] == "Cancelled"
    assert time.monotonic() - started < 15
    deadline = time.monotonic() + 15
    while not _pid_gone(pid):
        assert time.monotonic() < deadline, f"flow-run process {pid} still alive"
        time.sleep(0.05)
    (nap,) = [t for t in _task_runs(client, run_id) if t["task_name"] == "nap"]
    assert nap["state_type"] == "Cancelled"


def test_run_config_env_and_working_dir_and_a_tasks_own_result(
    stack: tuple[TemporaryServer, Any], tmp_path: Path
) -> None:
    from headwater.run_configs import LocalRun

    _, client = stack
    results = tmp_path / "results"
    run_config = LocalRun(
        env={"E2E_RESULT_DIR": str(results), "E2E_MARKER": "from-run-config"},
        working_dir=str(tmp_path),
    )
    run_id = client.create_flow_run(
        flow_id=register(client, "own_result.py"), run_config=run_config
    )
    run = wait_for_flow_run_state(client, run_id, timeout=60)
    assert run["state_type"] == "Success", run["state_message"]
    by_name = {t["task_name"]: t for t in _task_runs(client, run_id)}
    # The task's own Result is honoured: the value is in its file, the state points there.
    assert cloudpickle.loads((results / "answer.pickle").read_bytes()) == 42
    ref = by_name["answer"]["state"]["result"]
    assert ref["type"] == "LocalResult"
    assert ref["location"].endswith("answer.pickle")
    where = _result(client, by_name["where"]["id"])
    assert os.path.realpath(where["cwd"]) == os.path.realpath(tmp_path)
    assert where["marker"] == "from-run-config"
    assert where["ctx"] == run_id


def test_task_runs_in_executor_worker_processes_report_to_the_server(
    stack: tuple[TemporaryServer, Any],
) -> None:
    _, client = stack
    run_id = client.create_flow_run(flow_id=register(client, "parallel.py"))
    run = wait_for_flow_run_state(client, run_id, timeout=90)
    assert run["state_type"] == "Success", run["state_message"]
    children = sorted(
        (
            t
            for t in _task_runs(client, run_id)
            if t["task_name"] == "square" and t["map_index"] >= 0
        ),
        key=lambda t: t["map_index"],
    )
    assert [t["state_type"] for t in children] == ["Success"] * 4
    values = [_result(client, t["id"]) for t in children]
    assert [v for v, _ in values] == [1, 4, 9, 16]
    flow_process = next(
        int(log["message"].rsplit(" ", 1)[-1])
        for log in client.get_logs(run_id)
        if log["message"].startswith("Submitted for execution: PID:")
    )
    assert all(pid != flow_process for _, pid in values)
    # The workers' log records reach the run's logs, tagged with their task runs.
    by_message = {log["message"]: log for log in client.get_logs(run_id)}
    for child in children:
        x = child["map_index"] + 1
        log = by_message.get(f"squaring {x} in a worker process")
        assert log is not None, sorted(by_message)
        assert log["task_run_id"] == child["id"]


@pytest.fixture
def external_dask_cluster(
    stack: tuple[TemporaryServer, Any], tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[str]:
    """A Dask scheduler and worker started apart from Headwater, with no Headwater settings."""
    import subprocess
    import sys

    if "postgresql" in request.node.callspec.id:
        pytest.skip("the worker set-up does not depend on the database")

    from headwater.testing import free_port

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER")}
    env["HEADWATER_HOME"] = str(tmp_path / "elsewhere")
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    worker = [sys.executable, "-m", "distributed.cli.dask_worker"]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
    processes = [
        subprocess.Popen(
            [*dask, "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"], **quiet
        ),
        subprocess.Popen(
            [*worker, address, "--nthreads", "1", "--no-nanny", "--no-dashboard"], **quiet
        ),
    ]
    try:
        yield address
    finally:
        # Nothing of theirs needs a clean shutdown; killing keeps the test fast.
        for process in processes:
            process.kill()
        for process in processes:
            process.wait(10)


def test_an_external_dask_worker_needs_no_configuration(
    stack: tuple[TemporaryServer, Any], external_dask_cluster: str
) -> None:
    from headwater.run_configs import LocalRun
    from headwater.storage import Local

    _, client = stack
    script = FLOWS / "external_dask.py"
    flow = runpy.run_path(str(script), run_name="e2e_flow")["flow"]
    flow.storage = Local(path=str(script), stored_as_script=True)
    flow.run_config = LocalRun(env={"E2E_DASK_ADDRESS": external_dask_cluster})
    run_id = client.create_flow_run(flow_id=str(client.register(flow, project_name="e2e")))
    run = wait_for_flow_run_state(client, run_id, timeout=90)
    assert run["state_type"] == "Success", run["state_message"]
    children = sorted(
        (
            t
            for t in _task_runs(client, run_id)
            if t["task_name"] == "hello" and t["map_index"] >= 0
        ),
        key=lambda t: t["map_index"],
    )
    assert [t["state_type"] for t in children] == ["Success", "Success"]
    assert [_result(client, t["id"]) for t in children] == [2, 4]
    by_message = {log["message"]: log for log in client.get_logs(run_id)}
    for child in children:
        log = by_message.get(f"hello from a dask worker: {child['map_index'] + 1}")
        assert log is not None, sorted(by_message)
        assert log["task_run_id"] == child["id"]
