"""Prefect 1 scripts as people wrote them, against a real server and agent: a child flow
registered at module level, then ``parent.run()`` at module level, no ``__main__`` guard.

Each test counts what the system did: the flow runs on the server (exactly those the
script asks for), the flow versions (one: loading a flow never registers it again), and the
agent's real processes (its process tree, read with psutil, returns to its idle size; the
counts it reports in ``GET /agents`` agree). Then the runaway protections: a flow script
that creates a run of itself while it loads and then fails is stopped by the agent's
load-failure refusal, and a flow that starts runs of itself is stopped by the server's
nesting ceiling. Every test runs once on SQLite and once on a fresh PostgreSQL database.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from headwater.client import Client
from headwater.testing import (
    TemporaryServer,
    postgres_available,
    temporary_postgres_database,
    temporary_server,
)
from headwater.testing_agent import AgentProcess, temporary_agent, wait_for_flow_run_state
from support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

HEADWATER = [sys.executable, "-c", "import sys; from headwater.cli import main; sys.exit(main())"]

# The issue's script, as Prefect 1's docs wrote flows: everything at module level.
UNGUARDED = """
import os

from headwater import Flow, Parameter, task, unmapped
from headwater.storage import Local
from headwater.tasks.headwater import create_flow_run, wait_for_flow_run

PROJECT = os.environ["E2E_PROJECT"]


@task(log_stdout=True)
def shout(word):
    print(word.upper())
    return word.upper()


with Flow("unguarded-child", storage={storage}) as child:
    shout(Parameter("word"))

child.register(project_name=PROJECT)

with Flow("unguarded-parent") as parent:
    ids = create_flow_run.map(
        flow_name=unmapped("unguarded-child"),
        project_name=unmapped(PROJECT),
        parameters=[{{"word": "a"}}, {{"word": "b"}}, {{"word": "c"}}],
    )
    wait_for_flow_run.map(ids, raise_final_state=unmapped(True))

parent.run()
"""

# Both flows registered at module level; the parent then runs on the agent.
REGISTERS_BOTH = """
import os

from headwater import Flow, task
from headwater.tasks.headwater import StartFlowRun

PROJECT = os.environ["E2E_PROJECT"]


@task
def leaf():
    return "leaf"


with Flow("both-child") as child:
    leaf()

child.register(project_name=PROJECT)

start = StartFlowRun(flow_name="both-child", project_name=PROJECT, wait=True)

with Flow("both-parent") as parent:
    start.map(parameters=[{}, {}])

parent.register(project_name=PROJECT)
parent.run()
"""

# Loading this script creates a run of its own flow, then fails: without the agent's
# load-failure refusal every run would create the next one, for ever.
SELF_SPAWNING_BROKEN = """
import os

from headwater import Client, Flow
from headwater.storage import Local

flow = Flow("self-spawning", storage=Local(stored_as_script=True, path=__file__))
flow_id = flow.register(project_name=os.environ["E2E_PROJECT"])

from headwater import context

if context.get("loading_flow"):
    Client().create_flow_run(flow_name="self-spawning", project_name=os.environ["E2E_PROJECT"])
    raise RuntimeError("this script cannot be loaded")
"""

# A flow that starts a run of itself: only the nesting ceiling ends the chain.
RECURSIVE = """
import os

from headwater import Flow
from headwater.tasks.headwater import StartFlowRun

PROJECT = os.environ["E2E_PROJECT"]

with Flow("recursive") as flow:
    StartFlowRun(flow_name="recursive", project_name=PROJECT, wait=True)()

flow.register(project_name=PROJECT)
"""


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


@contextlib.contextmanager
def _backend(
    database_url: str | None,
    project: str,
    server_env: Mapping[str, str] | None = None,
    agent_args: tuple[str, ...] = (),
) -> Iterator[tuple[TemporaryServer, AgentProcess, Client]]:
    # The flow-run processes see the project's name as the script did.
    flow_env = {"E2E_PROJECT": project}
    with (
        temporary_server(database_url=database_url, env=server_env) as server,
        temporary_agent(server.api_url, env=flow_env, extra_args=agent_args) as agent,
    ):
        client = Client(api_server=server.api_url)
        try:
            yield server, agent, client
        finally:
            client.close()


def _live_children(pid: int) -> list[int]:
    """The agent's descendant processes that are alive (zombies do not count)."""
    import psutil

    alive = []
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    for child in children:
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                alive.append(child.pid)
        except psutil.NoSuchProcess:
            continue
    return alive


def _wait(condition: Callable[[], Any], what: str, timeout: float = 120.0) -> Any:
    return wait_until(condition, timeout=timeout, interval=0.1, what=what)


def _agent_stats(client: Client, agent: AgentProcess) -> dict[str, Any]:
    (record,) = [a for a in client.get_agents() if a["name"] == agent.name]
    return dict(record.get("stats") or {})


def _idle_count(client: Client, agent: AgentProcess) -> int:
    """The agent's process count with no run in flight (a warm spare, if it keeps one)."""
    _wait(lambda: _agent_stats(client, agent).get("live_processes") == 0, "an idle agent")
    previous = -1

    def settled() -> bool:
        nonlocal previous
        count = len(_live_children(agent.pid))
        same, previous = count == previous, count
        time.sleep(0.5)
        return same

    _wait(settled, "a steady process count")
    return previous


class _PeakSampler(threading.Thread):
    """Samples the agent's process count until stopped; keeps the highest."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(0.05):
            self.peak = max(self.peak, len(_live_children(self.pid)))

    def stop(self) -> int:
        self._stop_event.set()
        self.join(10)
        return self.peak


def _run_script(
    tmp_path: Path, source: str, server: TemporaryServer, project: str, name: str = "flows.py"
) -> subprocess.CompletedProcess[str]:
    script = tmp_path / name
    script.write_text(source)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("HEADWATER__") and k != "HEADWATER_DATABASE_URL"
    }
    env.update(HEADWATER_API_URL=server.api_url, HEADWATER_HOME=str(home), E2E_PROJECT=project)
    return subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def _warm_up(client: Client, project: str, tmp_path: Path, server: TemporaryServer) -> None:
    """One trivial run through the agent, so the idle count is measured after a run."""
    done = _run_script(
        tmp_path,
        "import os\nfrom headwater import Flow\n"
        "Flow('warm-up').register(project_name=os.environ['E2E_PROJECT'])\n",
        server,
        project,
        name="warm_up.py",
    )
    assert done.returncode == 0, done.stderr
    run_id = client.create_flow_run(flow_name="warm-up", project_name=project)
    assert wait_for_flow_run_state(client, run_id, timeout=120)["state_type"] == "Success"


def _versions(client: Client, name: str) -> list[int]:
    return sorted(int(f["version"]) for f in client.query_flows(name=name, limit=100))


@pytest.mark.parametrize(
    "storage", ["Local()", "Local(stored_as_script=True, path=__file__)"], ids=["pickle", "script"]
)
def test_unguarded_parent_run_creates_exactly_its_children(
    database_url: str | None, storage: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = f"unguarded-{uuid.uuid4().hex[:6]}"
    with _backend(database_url, project) as (server, agent, client):
        client.create_project(project)
        _warm_up(client, project, tmp_path, server)
        idle = _idle_count(client, agent)
        spawned_before = _agent_stats(client, agent)["spawned"]
        sampler = _PeakSampler(agent.pid)
        sampler.start()
        done = _run_script(tmp_path, UNGUARDED.format(storage=storage), server, project)
        assert done.returncode == 0, done.stdout + done.stderr
        # the processes the runs started are all gone again
        _wait(lambda: len(_live_children(agent.pid)) == idle, "the agent to be idle again")
        peak = sampler.stop()
        # The agent reports its counts within a second of a change: forked runs can all
        # finish inside that window, so wait for a report that has seen them start.
        stats = _wait(
            lambda: (
                (s := _agent_stats(client, agent)).get("live_processes") == 0
                and s.get("spawned", 0) >= spawned_before + 3
                and s
            ),
            "the agent to report its runs started and no live process",
        )
        runs = [r for r in client.query_flow_runs(limit=1000) if r["flow_name"] != "warm-up"]
        # exactly the three children of the one local parent run, nothing more
        assert sorted(r["flow_name"] for r in runs) == ["unguarded-child"] * 3
        assert {r["state_type"] for r in runs} == {"Success"}, [r["state_message"] for r in runs]
        assert sorted(r["parameters"]["word"] for r in runs) == ["a", "b", "c"]
        assert _versions(client, "unguarded-child") == [1]
        assert stats["spawned"] - spawned_before == 3
        assert stats["refused_load_failures"] == 0
        # the agent's log shows the counts with every start
        assert "flow-run processes alive, " in agent.output()
        if storage.startswith("Local(stored"):
            # each child run executed the script; its register() and run() were skipped
            logs = [line["message"] for r in runs for line in client.get_logs(r["id"])]
            assert sum("flow.register() was called while" in m for m in logs) == 3, logs
            assert sum("flow.run() was called while" in m for m in logs) == 3, logs
        with capsys.disabled():
            print(
                f"\n[{storage}, {'postgresql' if database_url else 'sqlite'}] flow runs: "
                f"{len(runs)}; flow versions: 1; agent processes idle {idle}, peak {peak}, "
                f"after {len(_live_children(agent.pid))}; spawned {stats['spawned'] - spawned_before}"
            )


def test_parent_registered_beside_its_child_runs_on_the_agent(
    database_url: str | None, tmp_path: Path
) -> None:
    project = f"both-{uuid.uuid4().hex[:6]}"
    with _backend(database_url, project) as (server, agent, client):
        client.create_project(project)
        done = _run_script(tmp_path, REGISTERS_BOTH, server, project)
        assert done.returncode == 0, done.stdout + done.stderr
        local = client.query_flow_runs(limit=100)
        # the module-level parent.run() ran locally: two children, no parent on the server
        assert sorted(r["flow_name"] for r in local) == ["both-child", "both-child"]
        for run in local:
            wait_for_flow_run_state(client, run["id"], timeout=120)
        idle = _idle_count(client, agent)
        (parent_flow,) = client.query_flows(name="both-parent")
        parent_id = client.create_flow_run(flow_id=parent_flow["id"])
        final = wait_for_flow_run_state(client, parent_id, timeout=180)
        assert final["state_type"] == "Success", final["state_message"]
        _wait(lambda: len(_live_children(agent.pid)) == idle, "the agent to be idle again")
        runs = client.query_flow_runs(limit=100)
        children = [r for r in runs if r["parent_flow_run_id"] == parent_id]
        assert len(runs) == 2 + 1 + 2
        assert sorted(r["flow_name"] for r in children) == ["both-child", "both-child"]
        assert {r["state_type"] for r in children} == {"Success"}
        assert _versions(client, "both-child") == [1]
        assert _versions(client, "both-parent") == [1]


def test_a_flow_that_keeps_failing_to_load_is_refused_not_respawned(
    database_url: str | None, tmp_path: Path
) -> None:
    project = f"broken-{uuid.uuid4().hex[:6]}"
    # One slot, so that each failure is counted before the next run is taken.
    args = ("--max-concurrent", "1", "--load-failure-limit", "3", "--load-failure-window", "600")
    with _backend(database_url, project, agent_args=args) as (server, agent, client):
        client.create_project(project)
        done = _run_script(tmp_path, SELF_SPAWNING_BROKEN, server, project, name="spawner.py")
        assert done.returncode == 0, done.stdout + done.stderr
        first = client.create_flow_run(flow_name="self-spawning", project_name=project)

        def refused() -> list[dict[str, Any]]:
            runs = client.query_flow_runs(limit=100)
            return [r for r in runs if (r["state_message"] or "").startswith("Not started")]

        (refusal,) = _wait(refused, "a refused run", timeout=180)
        _wait(
            lambda: _agent_stats(client, agent).get("live_processes") == 0,
            "the agent to report no live process",
        )
        runs = client.query_flow_runs(limit=100)
        # the first run and one run created by each of the three failed loads; the fourth
        # run is refused without a process, so it creates no fifth
        assert len(runs) == 4, [(r["name"], r["state_message"]) for r in runs]
        assert {r["state_type"] for r in runs} == {"Failed"}
        load_failures = [
            r for r in runs if (r["state_message"] or "").startswith("Could not load flow")
        ]
        assert len(load_failures) == 3
        assert first in {r["id"] for r in load_failures}
        message = refusal["state_message"]
        assert "flow 'self-spawning'" in message and "failed to load 3 times in a row" in message
        assert "RuntimeError: this script cannot be loaded" in message
        # reported within a second or so
        stats = _wait(
            lambda: (s := _agent_stats(client, agent)).get("refused_load_failures") == 1 and s,
            "the agent to report the refusal",
        )
        assert stats["spawned"] == 3
        assert "failed to load 3 times in a row" in agent.output()
        assert _versions(client, "self-spawning") == [1]


def test_a_flow_that_starts_itself_stops_at_the_nesting_ceiling(
    database_url: str | None, tmp_path: Path
) -> None:
    project = f"recursive-{uuid.uuid4().hex[:6]}"
    env = {"HEADWATER_SERVER_MAX_RUN_DEPTH": "3"}
    with _backend(database_url, project, server_env=env) as (server, _agent, client):
        client.create_project(project)
        done = _run_script(tmp_path, RECURSIVE, server, project, name="recursive.py")
        assert done.returncode == 0, done.stdout + done.stderr
        root = client.create_flow_run(flow_name="recursive", project_name=project)
        final = wait_for_flow_run_state(client, root, timeout=240)
        assert final["state_type"] == "Failed"
        runs = client.query_flow_runs(limit=100)
        # the root and three levels of children; the fourth level is refused
        assert len(runs) == 4, [(r["name"], r["state_message"]) for r in runs]
        by_parent = {r["parent_flow_run_id"]: r for r in runs}
        chain = [by_parent[None]]
        while chain[-1]["id"] in by_parent:
            chain.append(by_parent[chain[-1]["id"]])
        assert len(chain) == 4
        deepest = client.get_flow_run(chain[-1]["id"])
        assert deepest["state_type"] == "Failed"
        (task_run,) = [
            t for t in client.query_task_runs(flow_run_id=deepest["id"]) if t["state_type"]
        ]
        assert "Flow run nesting too deep" in (task_run["state_message"] or "")
        assert "more than 3 ancestor runs" in task_run["state_message"]
        assert f"({chain[0]['id']})" in task_run["state_message"]


def test_register_path_on_an_unguarded_script_registers_once_and_runs_nothing(
    database_url: str | None, tmp_path: Path
) -> None:
    project = f"cli-{uuid.uuid4().hex[:6]}"
    with _backend(database_url, project) as (server, agent, client):
        client.create_project(project)
        script = tmp_path / "flows.py"
        script.write_text(UNGUARDED.format(storage="Local()"))
        env = dict(os.environ, HEADWATER_API_URL=server.api_url, E2E_PROJECT=project)
        env.pop("HEADWATER_DATABASE_URL", None)
        done = subprocess.run(
            [*HEADWATER, "register", "--project", project, "-p", str(script)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        output = done.stdout + done.stderr
        assert "Flow 'unguarded-child': registered, version 1" in output
        assert "Flow 'unguarded-parent': registered, version 1" in output
        # the file's own register() and run() were skipped while the command loaded it
        assert "'unguarded-child': flow.register() was called while" in output
        assert "'unguarded-parent': flow.run() was called while" in output
        assert client.query_flow_runs(limit=100) == []
        assert _versions(client, "unguarded-child") == [1]
        assert _versions(client, "unguarded-parent") == [1]
        assert _agent_stats(client, agent).get("spawned", 0) == 0
