"""Concurrency limits end to end: real server, real agents, real flow-run processes.

Overlaps are measured from the state history the server recorded (server timestamps):
a flow run holds its label's slot from Submitted to its final state, a task run holds its
tag's slot from Running to its final state. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import os
import runpy
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

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

FLOWS = Path(__file__).parent / "flows"
FINISHED = {"Success", "Failed", "Cancelled", "TimedOut", "Cached", "Skipped", "TriggerFailed"}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def hw(request: pytest.FixtureRequest) -> Iterator[TemporaryServer]:
    if request.param == "sqlite":
        with temporary_server() as running:
            yield running
        return
    if not postgres_available() and os.environ.get("CI") != "true":
        pytest.skip("PostgreSQL is not reachable")
    with temporary_postgres_database() as url, temporary_server(database_url=url) as running:
        yield running


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
