"""Batched task-run tracking and the fork server, against real server and agent processes.

- The client's bulk methods and the task-state writer against a real server.
- Flow runs executed by a real agent: a wide map recorded completely (every task run,
  its state history and its result), states queued when the run is cancelled still
  reaching the server, and runs started by the fork server (or spawned when their run
  config changes interpreter start-up variables).

Both databases, one server and agent per database for the module.
"""

from __future__ import annotations

import contextlib
import os
import runpy
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import psutil
import pytest

from headwater.engine.backend._states import TaskStateWriter
from headwater.run_configs import LocalRun
from headwater.testing import (
    TemporaryServer,
    postgres_available,
    temporary_postgres_database,
    temporary_server,
)
from headwater.testing_agent import AgentProcess, temporary_agent, wait_for_flow_run_state
from support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

FLOWS = Path(__file__).parent / "flows"


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def stack(request: pytest.FixtureRequest) -> Iterator[tuple[TemporaryServer, AgentProcess, Any]]:
    with contextlib.ExitStack() as stack:
        database_url: str | None = None
        if request.param == "postgresql":
            if not postgres_available() and os.environ.get("CI") != "true":
                pytest.skip("PostgreSQL is not reachable")
            database_url = stack.enter_context(temporary_postgres_database())
        server = stack.enter_context(temporary_server(database_url=database_url))
        agent = stack.enter_context(
            temporary_agent(server.api_url, extra_args=["--cancel-grace", "5"])
        )
        from headwater.client import Client

        client = Client(api_server=server.api_url)
        client.create_project("e2e")
        yield server, agent, client


def register(client: Any, file_name: str) -> str:
    from headwater.storage import Local

    script = FLOWS / file_name
    flow = runpy.run_path(str(script), run_name="e2e_flow")["flow"]
    flow.storage = Local(path=str(script), stored_as_script=True)
    return str(client.register(flow, project_name="e2e"))


def _running_run(client: Any, slugs: int = 3) -> tuple[str, list[str]]:
    # A label no agent has: the module's agent must not run it meanwhile.
    flow_run_id = client.create_flow_run(
        flow_id=register(client, "trivial.py"), labels=["no-agent-has-this"]
    )
    client.set_flow_run_state(flow_run_id, {"type": "Running"})
    rows = client.get_or_create_task_runs(
        flow_run_id, [{"task_slug": "w", "map_index": i} for i in range(slugs)]
    )
    return flow_run_id, [str(r["id"]) for r in rows]


def _history(client: Any, task_run_id: str) -> list[str]:
    return [h["state"]["type"] for h in client.get_task_run_states(task_run_id)]


def _wait_marker(marker: Path, timeout: float = 60.0) -> int:
    wait_until(
        lambda: marker.exists() and marker.read_text(),
        timeout=timeout,
        interval=0.05,
        what="the flow to start",
    )
    return int(marker.read_text())


# ----------------------------------------------------------------------- the client


def test_client_bulk_methods(stack: tuple[TemporaryServer, AgentProcess, Any]) -> None:
    _, _, client = stack
    flow_id = register(client, "trivial.py")
    ids = client.create_flow_runs(
        [
            {"flow_id": flow_id, "idempotency_key": "bulk-a", "labels": ["no-agent-has-this"]},
            {"flow_id": flow_id, "idempotency_key": "bulk-b", "labels": ["no-agent-has-this"]},
            {"flow_id": flow_id, "idempotency_key": "bulk-a"},
        ]
    )
    assert ids[0] == ids[2] and ids[0] != ids[1]
    again = client.create_flow_run(flow_id=flow_id, idempotency_key="bulk-b")
    assert again == ids[1]
    assert client.create_flow_runs([]) == []
    with pytest.raises(ValueError, match=r"runs\[0\]: unknown argument"):
        client.create_flow_runs([{"flow_id": flow_id, "nonsense": 1}])
    with pytest.raises(ValueError, match="needs flow_id"):
        client.create_flow_runs([{"parameters": {}}])

    _, (a, b, _) = _running_run(client)
    outcomes = client.set_task_run_states(
        [
            {"task_run_id": a, "state": {"type": "Running"}},
            {"task_run_id": a, "result": cloudpickle.dumps(41)},
            {"task_run_id": a, "state": {"type": "Success"}},
            {"task_run_id": b, "state": {"type": "Bogus"}},
        ]
    )
    assert [o["status"] for o in outcomes] == ["accepted", "accepted", "accepted", "error"]
    assert outcomes[3]["status_code"] == 422
    assert cloudpickle.loads(client.download_result(a)) == 41
    assert _history(client, a) == ["Pending", "Running", "Success"]


# ----------------------------------------------------------------------- the writer


def test_the_writer_sends_in_order_and_flushes_on_demand(
    stack: tuple[TemporaryServer, AgentProcess, Any],
) -> None:
    _, _, client = stack
    _, (a, b, c) = _running_run(client)
    # A long window: only flush() sends.
    writer = TaskStateWriter(client, flush_interval=60.0).start()
    try:
        writer.submit(a, {"type": "Running"})
        assert writer.add_result(a, cloudpickle.dumps("a"))
        writer.submit(a, {"type": "Success"})
        writer.submit(b, {"type": "Running"})
        assert _history(client, a) == ["Pending"]
        assert writer.flush(timeout=60)
        assert _history(client, a) == ["Pending", "Running", "Success"]
        assert _history(client, b) == ["Pending", "Running"]
        assert cloudpickle.loads(client.download_result(a)) == "a"
        assert writer.batches_sent == 1 and writer.items_sent == 4
        # The synchronous path sends what is queued first, then answers for its own item.
        writer.submit(b, {"type": "Success"})
        outcome = writer.write_now(c, {"type": "Running"})
        assert outcome["status"] == "accepted" and outcome["state"]["type"] == "Running"
        assert _history(client, b) == ["Pending", "Running", "Success"]
        # Too large to travel with the states: the caller uploads it itself.
        assert not writer.add_result(c, b"x" * (writer.inline_result_bytes + 1))
    finally:
        writer.close(timeout=60)


def test_the_writer_flushes_within_its_window_from_many_threads(
    stack: tuple[TemporaryServer, AgentProcess, Any],
) -> None:
    _, _, client = stack
    _, ids = _running_run(client, slugs=40)
    writer = TaskStateWriter(client, flush_interval=0.2).start()
    try:

        def work(task_run_id: str) -> None:
            writer.submit(task_run_id, {"type": "Running"})
            writer.submit(task_run_id, {"type": "Success"})

        threads = [threading.Thread(target=work, args=(i,)) for i in ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # No flush: the background thread sends by itself.
        deadline = time.monotonic() + 60
        while not all(_history(client, i)[-1] == "Success" for i in ids):
            assert time.monotonic() < deadline, "the writer did not send its window"
            time.sleep(0.1)
        histories = [_history(client, i) for i in ids]
        assert all(h == ["Pending", "Running", "Success"] for h in histories), histories
    finally:
        writer.close(timeout=60)


def test_refused_states_reach_the_callback(
    stack: tuple[TemporaryServer, AgentProcess, Any],
) -> None:
    _, _, client = stack
    flow_run_id, (a, b, _) = _running_run(client)
    refused: list[tuple[str, dict[str, Any]]] = []
    writer = TaskStateWriter(
        client, flush_interval=60.0, on_rejected=lambda i, o: refused.append((i, o))
    ).start()
    try:
        writer.submit(a, {"type": "Running"})
        writer.flush(timeout=60)
        client.cancel_flow_run(flow_run_id)
        writer.submit(b, {"type": "Running"})
        writer.submit("no-such-task-run", {"type": "Running"})
        writer.flush(timeout=60)
    finally:
        writer.close(timeout=60)
    assert [(i, o["status"]) for i, o in refused] == [
        (b, "rejected"),
        ("no-such-task-run", "error"),
    ]
    assert "flow run is Cancelling" in (refused[0][1]["detail"] or "")
    assert _history(client, b) == ["Pending"]


# ----------------------------------------------------------------------- agent runs


def test_a_wide_map_is_recorded_completely(
    stack: tuple[TemporaryServer, AgentProcess, Any],
) -> None:
    _, _, client = stack
    flow_run_id = client.create_flow_run(
        flow_id=register(client, "wide_map.py"), parameters={"n": 300}
    )
    run = wait_for_flow_run_state(client, flow_run_id, timeout=180)
    assert run["state_type"] == "Success", run["state_message"]
    task_runs = client.query_task_runs(flow_run_id=flow_run_id)
    by_slug: dict[str, list[dict[str, Any]]] = {}
    for task_run in task_runs:
        by_slug.setdefault(task_run["task_slug"].rsplit("-", 1)[0], []).append(task_run)
    assert sorted((k, len(v)) for k, v in by_slug.items()) == [
        ("inc", 301),
        ("n", 1),
        ("numbers", 1),
        ("total", 1),
    ]
    assert all(t["state_type"] in ("Success", "Mapped") for t in task_runs)
    children = sorted(
        (t for t in by_slug["inc"] if t["map_index"] >= 0), key=lambda t: t["map_index"]
    )
    assert [t["map_index"] for t in children] == list(range(300))
    assert all(t["run_count"] == 1 for t in children)
    for child in (children[0], children[150], children[299]):
        assert _history(client, child["id"]) == ["Pending", "Running", "Success"]
        value = cloudpickle.loads(client.download_result(child["id"]))
        assert value == child["map_index"] + 1
    (reduced,) = by_slug["total"]
    assert cloudpickle.loads(client.download_result(reduced["id"])) == sum(range(1, 301))


def test_states_queued_at_a_cancel_still_reach_the_server(
    stack: tuple[TemporaryServer, AgentProcess, Any], tmp_path: Path
) -> None:
    _, _, client = stack
    marker = tmp_path / "started"
    # A window far longer than the test: only the SIGTERM drain can send the states.
    run_config = LocalRun(env={"HEADWATER__FLOW_RUN__STATE_FLUSH_INTERVAL": "600"})
    flow_run_id = client.create_flow_run(
        flow_id=register(client, "finish_then_sleep.py"),
        parameters={"marker": str(marker)},
        run_config=run_config,
    )
    pid = _wait_marker(marker)
    client.cancel_flow_run(flow_run_id)
    run = wait_for_flow_run_state(client, flow_run_id, timeout=60)
    assert run["state_type"] == "Cancelled"
    states = {
        t["task_slug"].rsplit("-", 1)[0]: t for t in client.query_task_runs(flow_run_id=flow_run_id)
    }
    # Nothing was sent before the cancel; the drain sends it all afterwards. A Running
    # state reaching the server once the run is Cancelling is refused (as for a task
    # starting then); what the task finished with is recorded.
    assert _history(client, states["quick"]["id"])[-1] == "Success"
    assert cloudpickle.loads(client.download_result(states["quick"]["id"])) == 1
    assert states["nap"]["state_type"] == "Cancelled"
    deadline = time.monotonic() + 30
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the flow-run process is still alive"
        time.sleep(0.05)


def _parent_of_run_process(client: Any, tmp_path: Path, run_config: Any) -> psutil.Process:
    tmp_path.mkdir()
    marker = tmp_path / "started"
    flow_run_id = client.create_flow_run(
        flow_id=register(client, "sleepy.py"),
        parameters={"seconds": 0.5, "marker": str(marker)},
        run_config=run_config,
    )
    pid = _wait_marker(marker)
    process = psutil.Process(pid)
    assert os.getpgid(pid) == pid  # its own process group, as a spawned process has
    parent = process.parent()
    assert parent is not None
    run = wait_for_flow_run_state(client, flow_run_id, timeout=60)
    assert run["state_type"] == "Success", run["state_message"]
    return parent


def test_runs_are_forked_from_the_fork_server_or_spawned_when_they_must_be(
    stack: tuple[TemporaryServer, AgentProcess, Any], tmp_path: Path
) -> None:
    _, agent, client = stack
    work = tmp_path / "work"
    work.mkdir()
    forked_parent = _parent_of_run_process(
        client, tmp_path / "a", LocalRun(working_dir=str(work), env={"SOME_SETTING": "1"})
    )
    assert forked_parent.pid != agent.pid
    assert forked_parent.parent() is not None and forked_parent.parent().pid == agent.pid
    assert "_forkserver_main" in " ".join(forked_parent.cmdline())
    # A run changing a variable the interpreter reads at start-up needs a fresh one.
    spawned_parent = _parent_of_run_process(
        client, tmp_path / "b", LocalRun(env={"PYTHONHASHSEED": "123"})
    )
    assert spawned_parent.pid == agent.pid
