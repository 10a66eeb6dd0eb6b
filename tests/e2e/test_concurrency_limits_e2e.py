"""Concurrency limits end to end: real server, real agents, real flow-run processes.

Overlaps are measured from the state history the server recorded (server timestamps):
a flow run holds its label's slot from Submitted to its final state, a task run holds its
tag's slot from Running to its final state. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import runpy
import signal
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

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

FLOWS = Path(__file__).parent / "flows"
FAST_REAPER = {
    "HEADWATER_HEARTBEAT_TIMEOUT": "3",
    "HEADWATER_REAPER_INTERVAL": "0.5",
    "HEADWATER_SUBMITTED_TIMEOUT": "30",
}
# Flow-run processes heartbeat every half second, well inside the 3 s timeout above.
FAST_HEARTBEAT = {"HEADWATER__FLOW_RUN__HEARTBEAT_INTERVAL": "0.5"}
FINISHED = {"Success", "Failed", "Cancelled", "TimedOut", "Cached", "Skipped", "TriggerFailed"}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def hw(request: pytest.FixtureRequest) -> Iterator[TemporaryServer]:
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


def temporary_agent(api_url: str, **kwargs: Any) -> contextlib.AbstractContextManager[AgentProcess]:
    """An agent whose flow-run processes heartbeat well inside the reaper's timeout."""
    kwargs.setdefault("process_env", FAST_HEARTBEAT)
    return _temporary_agent(api_url, **kwargs)


@pytest.fixture
def client(hw: TemporaryServer) -> Iterator[Any]:
    from headwater.client import Client

    with Client(api_url=hw.api_url) as client:
        client.create_project("limits")
        yield client


def register(client: Any, file_name: str) -> str:
    from headwater.storage import Local

    script = FLOWS / file_name
    flow = runpy.run_path(str(script), run_name="e2e_flow")["flow"]
    flow.storage = Local(path=str(script), stored_as_script=True)
    return str(client.register(flow, project_name="limits"))


def _time(entry: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(str(entry["timestamp"]))


def interval(history: list[dict[str, Any]], starts: set[str]) -> tuple[dt.datetime, dt.datetime]:
    """From the first state in ``starts`` to the first finished state after it."""
    types = [h["state"]["type"] for h in history]
    first = next(i for i, t in enumerate(types) if t in starts)
    end = next(i for i in range(first, len(types)) if types[i] in FINISHED)
    return _time(history[first]), _time(history[end])


def most_at_once(intervals: list[tuple[dt.datetime, dt.datetime]]) -> int:
    """The largest number of intervals open at one instant (an end before a start)."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    current = peak = 0
    for _, step in events:
        current += step
        peak = max(peak, current)
    return peak


def test_two_agents_and_a_label_limit_of_one_never_overlap(
    hw: TemporaryServer, client: Any, tmp_path: Path
) -> None:
    flow_id = register(client, "sleepy.py")
    client.update_flow_concurrency_limit("one-at-a-time", 1)
    runs = [
        client.create_flow_run(
            flow_id=flow_id, labels=["one-at-a-time"], parameters={"seconds": 1.0}
        )
        for _ in range(5)
    ]
    with (
        temporary_agent(hw.api_url, labels=["one-at-a-time"], max_concurrent=4) as first,
        temporary_agent(hw.api_url, labels=["one-at-a-time"], max_concurrent=4) as second,
    ):
        finished = [wait_for_flow_run_state(client, run, timeout=240) for run in runs]
        names = {first.name, second.name}
    agents = {a["id"] for a in client.get_agents() if a["name"] in names}
    assert len(agents) == 2
    assert [r["state_type"] for r in finished] == ["Success"] * 5, finished
    histories = [client.get_flow_run_states(run) for run in runs]
    held = [interval(h, {"Submitted"}) for h in histories]
    running = [interval(h, {"Running"}) for h in histories]
    assert most_at_once(held) == 1
    assert most_at_once(running) == 1
    assert {r["agent_id"] for r in finished} <= agents


def test_a_tag_limit_of_two_over_ten_mapped_tasks(hw: TemporaryServer, client: Any) -> None:
    flow_id = register(client, "tag_limited.py")
    limit_id = client.update_task_tag_limit("e2e-db", 2)
    assert client.get_task_tag_limit("e2e-db") == 2
    run = client.create_flow_run(flow_id=flow_id)
    with temporary_agent(hw.api_url):
        finished = wait_for_flow_run_state(client, run, timeout=240)
    assert finished["state_type"] == "Success", finished["state_message"]
    children = [t for t in client.query_task_runs(flow_run_id=run) if t["map_index"] >= 0]
    assert len(children) == 10
    assert {t["state_type"] for t in children} == {"Success"}
    histories = [client.get_task_run_states(t["id"]) for t in children]
    peak = most_at_once([interval(h, {"Running"}) for h in histories])
    assert peak == 2  # the limit, and it was reached: six threads were asking
    queued = [h for h in histories if any(e["state"]["type"] == "Queued" for e in h)]
    assert queued, "no task run ever waited"
    for history in queued:
        types = [e["state"]["type"] for e in history]
        assert types.count("Queued") == 1 and types.count("Running") == 1, types
        assert types.index("Queued") < types.index("Running")
    assert client.get_task_tag_limits("e2e-db")[0]["running"] == 0
    client.delete_task_tag_limit(limit_id)
    assert client.get_task_tag_limit("e2e-db") is None


def _task_runs(client: Any, run: str, state: str) -> list[dict[str, Any]]:
    return [t for t in client.query_task_runs(flow_run_id=run, state=state) if t["map_index"] >= 0]


def test_cancelling_a_run_whose_task_runs_wait_frees_everything(
    hw: TemporaryServer, client: Any
) -> None:
    flow_id = register(client, "tag_limited.py")
    client.update_task_tag_limit("e2e-db", 0)
    run = client.create_flow_run(flow_id=flow_id)
    with temporary_agent(hw.api_url):
        wait_until(
            lambda: len(_task_runs(client, run, "Queued")) >= 6,
            timeout=120,
            interval=0.1,
            what="six task runs to wait Queued",
        )
        client.cancel_flow_run(run)
        finished = wait_for_flow_run_state(client, run, timeout=120)
    assert finished["state_type"] == "Cancelled"
    children = [t for t in client.query_task_runs(flow_run_id=run) if t["map_index"] >= 0]
    assert children and all(t["state_type"] == "Cancelled" for t in children)
    assert not any(t["start_time"] for t in children)  # none of them ever ran
    # Nothing is left holding the tag: with room again a new run goes straight through.
    client.update_task_tag_limit("e2e-db", 2)
    assert client.get_task_tag_limits("e2e-db")[0]["running"] == 0
    again = client.create_flow_run(flow_id=flow_id)
    with temporary_agent(hw.api_url):
        assert wait_for_flow_run_state(client, again, timeout=240)["state_type"] == "Success"


def test_the_reaper_frees_the_slots_of_a_killed_flow_run_process(
    hw: TemporaryServer, client: Any
) -> None:
    import psutil

    flow_id = register(client, "tag_limited.py")
    client.update_task_tag_limit("e2e-db", 2)
    lost = client.create_flow_run(flow_id=flow_id, parameters={"seconds": 600})
    with temporary_agent(hw.api_url) as agent:
        wait_until(
            lambda: len(_task_runs(client, lost, "Running")) == 2,
            timeout=120,
            interval=0.1,
            what="two task runs to hold the slots",
        )
        # The machine is gone: agent, flow-run process and its workers stop at once.
        groups = {os.getpgid(p.pid) for p in psutil.Process(agent.pid).children(recursive=True)}
        agent.kill()
        for group in groups - {os.getpgrp()}:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
    # The reaper's Lazarus sees the heartbeats stop and queues the run again: its
    # unfinished task runs go back to Pending, which holds no slot.
    rescheduled = wait_for_flow_run_state(
        client,
        lost,
        lambda run: run["state_type"] == "Scheduled" and "Lazarus" in (run["state_message"] or ""),
        timeout=120,
    )
    assert rescheduled["state_type"] == "Scheduled"
    assert _task_runs(client, lost, "Running") == []
    assert client.get_task_tag_limits("e2e-db")[0]["running"] == 0
    # Its tasks would sleep for ten minutes again: cancel it, so the next run has the slots.
    assert client.cancel_flow_run(lost)["state"] == "Cancelled"
    after = client.create_flow_run(flow_id=flow_id)
    with temporary_agent(hw.api_url):
        assert wait_for_flow_run_state(client, after, timeout=240)["state_type"] == "Success"
