"""The local agent under stress: killed agents, server restarts, several agents, limits.

Each test gets its own server (short reaper thresholds) and its own agents, since it kills
or restarts them. Both are real subprocesses on a free loopback port, and every test runs
once on SQLite and once on a fresh PostgreSQL database.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import runpy
import signal
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
from headwater.testing_agent import AgentProcess, wait_for_flow_run_state
from headwater.testing_agent import temporary_agent as _temporary_agent
from support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

FLOWS = Path(__file__).parent / "flows"
FAST_REAPER = {
    "HEADWATER_HEARTBEAT_TIMEOUT": "3",
    "HEADWATER_REAPER_INTERVAL": "0.5",
    "HEADWATER_SUBMITTED_TIMEOUT": "5",
}
# Flow-run processes heartbeat every half second, well inside the 3 s timeout above.
FAST_HEARTBEAT = {"HEADWATER__FLOW_RUN__HEARTBEAT_INTERVAL": "0.5"}


def temporary_agent(api_url: str, **kwargs: Any) -> contextlib.AbstractContextManager[AgentProcess]:
    """An agent whose flow-run processes heartbeat well inside the reaper's timeout."""
    kwargs.setdefault("process_env", FAST_HEARTBEAT)
    return _temporary_agent(api_url, **kwargs)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None (the server's own SQLite file) or the URL of a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield None
        return
    if not postgres_available() and os.environ.get("CI") != "true":
        pytest.skip("PostgreSQL is not reachable")
    with temporary_postgres_database() as url:
        yield url


@pytest.fixture
def server(database_url: str | None) -> Iterator[TemporaryServer]:
    with temporary_server(env=FAST_REAPER, database_url=database_url) as process:
        yield process


@pytest.fixture
def client(server: TemporaryServer) -> Any:
    from headwater.client import Client

    client = Client(api_server=server.api_url)
    client.create_project("e2e")
    return client


def register(client: Any, file_name: str) -> str:
    from headwater.storage import Local

    script = FLOWS / file_name
    flow = runpy.run_path(str(script), run_name="e2e_flow")["flow"]
    flow.storage = Local(path=str(script), stored_as_script=True)
    return str(client.register(flow, project_name="e2e"))


def _wait_marker(marker: Path, timeout: float = 60.0) -> int:
    wait_until(lambda: marker.exists() and marker.read_text(), timeout, 0.05, "the flow to start")
    return int(marker.read_text())


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie awaiting its reaper counts as gone)."""
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait_gone(pid: int, timeout: float = 15.0) -> None:
    wait_until(lambda: not _alive(pid), timeout, 0.05, f"flow-run process {pid} to end")


def test_a_flow_run_outlives_an_agent_killed_with_sigkill(
    server: TemporaryServer, client: Any, tmp_path: Path
) -> None:
    marker = tmp_path / "started"
    run_id = client.create_flow_run(
        flow_id=register(client, "sleepy.py"), parameters={"seconds": 2, "marker": str(marker)}
    )
    with temporary_agent(server.api_url) as agent:
        pid = _wait_marker(marker)
        agent.kill()
    run = wait_for_flow_run_state(client, run_id, timeout=60)
    assert run["state_type"] == "Success", run["state_message"]
    _wait_gone(pid)


def test_agent_and_flow_process_killed_the_reaper_reschedules_the_run(
    server: TemporaryServer, client: Any, tmp_path: Path
) -> None:
    marker = tmp_path / "started"
    run_id = client.create_flow_run(
        flow_id=register(client, "sleepy.py"), parameters={"seconds": 60, "marker": str(marker)}
    )
    with temporary_agent(server.api_url) as agent:
        pid = _wait_marker(marker)
        agent.kill()
        os.killpg(pid, signal.SIGKILL)  # the machine is gone: nothing reports any more

    def rescheduled(run: dict[str, Any]) -> bool:
        return run["state_type"] == "Scheduled"

    # Lazarus (tests/e2e/test_resumption_e2e.py follows such a run to its end).
    run = wait_for_flow_run_state(client, run_id, predicate=rescheduled, timeout=60)
    assert "heartbeat" in (run["state_message"] or "").lower()
    assert run["times_resurrected"] == 1
    client.cancel_flow_run(run_id)


def test_a_server_restart_mid_run_loses_nothing(tmp_path: Path, database_url: str | None) -> None:
    from headwater.client import Client

    # The reaper's usual thresholds: a restart takes longer than the 3 s used elsewhere.
    with temporary_server(
        env={"HEADWATER_HEARTBEAT_TIMEOUT": "60"}, database_url=database_url
    ) as server:
        client = Client(api_server=server.api_url)
        client.create_project("e2e")
        _restart_mid_run(server, client, tmp_path)


def _restart_mid_run(server: TemporaryServer, client: Any, tmp_path: Path) -> None:
    marker = tmp_path / "started"
    run_id = client.create_flow_run(
        flow_id=register(client, "sleepy.py"), parameters={"seconds": 3, "marker": str(marker)}
    )
    with temporary_agent(server.api_url):
        _wait_marker(marker)
        server.restart()
        run = wait_for_flow_run_state(client, run_id, timeout=90)
        assert run["state_type"] == "Success", run["state_message"]
        task_runs = client.query_task_runs(flow_run_id=run_id)
        assert {t["task_name"] for t in task_runs} == {"nap", "seconds", "marker"}
        assert all(t["state_type"] == "Success" for t in task_runs)
        messages = [log["message"] for log in client.get_logs(run_id)]
        assert any(m.startswith("Submitted for execution") for m in messages)
        # The agent is still claiming after the restart: a new run is picked up.
        second = client.create_flow_run(flow_id=register(client, "trivial.py"))
        assert wait_for_flow_run_state(client, second, timeout=60)["state_type"] == "Success"


def _two_agents(server: TemporaryServer, client: Any) -> None:
    flow_id = register(client, "trivial.py")
    with temporary_agent(server.api_url), temporary_agent(server.api_url):
        ids = [client.create_flow_run(flow_id=flow_id) for _ in range(12)]
        for run_id in ids:
            run = wait_for_flow_run_state(client, run_id, timeout=90)
            assert run["state_type"] == "Success", run["state_message"]
    for run_id in ids:
        submitted = [
            log
            for log in client.get_logs(run_id)
            if log["message"].startswith("Submitted for execution")
        ]
        assert len(submitted) == 1, submitted
        history = [s["state"]["type"] for s in client.get_flow_run_states(run_id)]
        assert history.count("Running") == 1
    assert len({a["name"] for a in client.get_agents()}) >= 2


def test_two_agents_never_run_the_same_run(server: TemporaryServer, client: Any) -> None:
    _two_agents(server, client)


@pytest.mark.postgres
def test_two_agents_never_run_the_same_run_on_postgresql(pg_server: TemporaryServer) -> None:
    from headwater.client import Client

    client = Client(api_server=pg_server.api_url)
    client.create_project("e2e")
    _two_agents(pg_server, client)


def _parse(value: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_max_concurrent_is_respected(server: TemporaryServer, client: Any) -> None:
    flow_id = register(client, "sleepy.py")
    with temporary_agent(server.api_url, max_concurrent=2):
        ids = [
            client.create_flow_run(flow_id=flow_id, parameters={"seconds": 2.0}) for _ in range(5)
        ]
        runs = [wait_for_flow_run_state(client, i, timeout=90) for i in ids]
    assert all(r["state_type"] == "Success" for r in runs)
    events = []
    for run in runs:
        events.append((_parse(run["start_time"]), 1))
        events.append((_parse(run["end_time"]), -1))
    running = peak = 0
    for _, delta in sorted(events, key=lambda e: (e[0], e[1])):
        running += delta
        peak = max(peak, running)
    assert peak <= 2
    assert peak == 2  # the limit is used, not just respected


def test_labels_decide_which_agent_gets_a_run(server: TemporaryServer, client: Any) -> None:
    flow_id = register(client, "trivial.py")
    with temporary_agent(server.api_url, labels=["gpu"]):
        plain = client.create_flow_run(flow_id=flow_id)
        gpu = client.create_flow_run(flow_id=flow_id, labels=["gpu"])
        assert wait_for_flow_run_state(client, gpu, timeout=60)["state_type"] == "Success"
        assert client.get_flow_run(plain)["state_type"] == "Scheduled"
    with temporary_agent(server.api_url):
        assert wait_for_flow_run_state(client, plain, timeout=60)["state_type"] == "Success"


def test_agent_shutdown_terminates_runs_and_says_so(
    server: TemporaryServer, client: Any, tmp_path: Path
) -> None:
    marker = tmp_path / "started"
    run_id = client.create_flow_run(
        flow_id=register(client, "sleepy.py"), parameters={"seconds": 60, "marker": str(marker)}
    )
    with temporary_agent(server.api_url, extra_args=["--shutdown-grace", "0.2"]) as agent:
        pid = _wait_marker(marker)
        assert agent.stop() == 0
    run = client.get_flow_run(run_id)
    assert run["state_type"] == "Failed"
    assert "SIGTERM" in run["state_message"]
    _wait_gone(pid)


def test_a_run_whose_agent_is_gone_still_stops_when_cancelled(
    server: TemporaryServer, client: Any, tmp_path: Path
) -> None:
    marker = tmp_path / "started"
    run_id = client.create_flow_run(
        flow_id=register(client, "sleepy.py"), parameters={"seconds": 60, "marker": str(marker)}
    )
    with temporary_agent(server.api_url) as agent:
        pid = _wait_marker(marker)
        agent.kill()
    client.cancel_flow_run(run_id)
    run = wait_for_flow_run_state(client, run_id, timeout=30)
    assert run["state_type"] == "Cancelled"
    _wait_gone(pid)


def test_a_run_does_not_start_before_its_scheduled_time(
    server: TemporaryServer, client: Any
) -> None:
    flow_id = register(client, "trivial.py")
    start = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=2)
    with temporary_agent(server.api_url):
        run_id = client.create_flow_run(flow_id=flow_id, scheduled_start_time=start)
        run = wait_for_flow_run_state(client, run_id, timeout=60)
    assert run["state_type"] == "Success", run["state_message"]
    assert _parse(run["start_time"]) >= start


def test_a_stopped_agent_leaves_new_runs_to_the_next_agent(
    tmp_path: Path, database_url: str | None
) -> None:
    from headwater.client import Client

    # Default reaper thresholds: a run swallowed by a dead agent's claim would sit
    # Submitted for minutes.
    with temporary_server(database_url=database_url) as server:
        client = Client(api_server=server.api_url)
        client.create_project("e2e")
        flow_id = register(client, "trivial.py")
        for stop in ("stop", "kill"):
            with temporary_agent(server.api_url) as agent:
                started = time.monotonic()
                agent.stop() if stop == "stop" else agent.kill()
                assert time.monotonic() - started < 5
            run_id = client.create_flow_run(flow_id=flow_id)
            with temporary_agent(server.api_url):
                run = wait_for_flow_run_state(client, run_id, timeout=30)
            assert run["state_type"] == "Success", (stop, run["state_message"])


def test_an_api_key_reaches_the_agent_and_its_flow_runs() -> None:
    from headwater.client import Client

    with temporary_server(api_key="e2e-secret") as server:
        client = Client(api_server=server.api_url, api_key="e2e-secret")
        client.create_project("e2e")
        run_id = client.create_flow_run(flow_id=register(client, "basic.py"))
        with temporary_agent(server.api_url, api_key="e2e-secret"):
            run = wait_for_flow_run_state(client, run_id, timeout=60)
        assert run["state_type"] == "Success", run["state_message"]
        assert any(m["message"] == "total of [0, 2, 4]" for m in client.get_logs(run_id))


def test_a_run_ended_by_the_server_stops_its_process(
    server: TemporaryServer, client: Any, tmp_path: Path
) -> None:
    from headwater.engine.state import Failed

    marker = tmp_path / "started"
    run_id = client.create_flow_run(
        flow_id=register(client, "sleepy.py"), parameters={"seconds": 60, "marker": str(marker)}
    )
    with temporary_agent(server.api_url):
        pid = _wait_marker(marker)
        client.set_flow_run_state(run_id, Failed("Ended from outside"))
        _wait_gone(pid)
    run = client.get_flow_run(run_id)
    assert run["state_type"] == "Failed"
    assert run["state_message"] == "Ended from outside"


def test_prefect1_deployment_flags_max_polls_hostname_label_and_no_cloud_logs(
    server: TemporaryServer, client: Any
) -> None:
    import socket
    import subprocess
    import sys

    run_id = client.create_flow_run(
        flow_id=register(client, "basic.py"), parameters={"n": 2}, labels=[socket.gethostname()]
    )
    agent = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from headwater.cli import main; sys.exit(main())",
            "agent",
            "local",
            "start",
            "--api-url",
            server.api_url,
            "--hostname-label",
            "--max-polls",
            "1",
            "--agent-address",
            "http://127.0.0.1:8080",
            "--no-cloud-logs",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **FAST_HEARTBEAT},
    )
    output = agent.stdout + agent.stderr
    # One poll took the run; the agent saw it through to its end and then stopped.
    assert agent.returncode == 0, output
    assert "--agent-address http://127.0.0.1:8080 is ignored" in output
    run = client.get_flow_run(run_id)
    assert run["state_type"] == "Success", run["state_message"]
    messages = [log["message"] for log in client.get_logs(run_id)]
    assert any(m.startswith("Submitted for execution: PID:") for m in messages)
    assert "making 2 numbers" not in messages


def test_no_hostname_label_is_accepted_and_adds_nothing(
    server: TemporaryServer, client: Any
) -> None:
    flow_id = register(client, "trivial.py")
    with temporary_agent(server.api_url, extra_args=["--no-hostname-label", "--max-polls", "50"]):
        run_id = client.create_flow_run(flow_id=flow_id)
        assert wait_for_flow_run_state(client, run_id, timeout=60)["state_type"] == "Success"
