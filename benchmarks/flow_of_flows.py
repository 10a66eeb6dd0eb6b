"""Flow-of-flows benchmarks against a real server and a real local agent.

Rows (``{"benchmark", "value", "unit", "target"}``):

* ``StartFlowRun(wait=True)`` round trip, p50 and p95 over 20 calls: from the call to its
  return, for a trivial child flow run by the agent (target p50 <= 0.3 s).
* Wake-up delay: from the child's final state timestamp (stored by the server) to the
  return of the waiting task, p50 and p95 (target p50 <= 50 ms).
* ``create_flow_run`` mapped over 100 children plus ``wait_for_flow_run`` for all of them:
  total seconds and children per second.

Run ``python benchmarks/flow_of_flows.py`` or ``python -m benchmarks --only flow_of_flows``.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import UTC, datetime
from typing import Any

from headwater import Flow, task

ROUNDS = 20
FAN_OUT = 100
PROJECT = "bench"


@task
def one() -> int:
    return 1


with Flow("bench-child") as child_flow:
    one()


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def _register(client: Any) -> None:
    from headwater.exceptions import ConflictError
    from headwater.storage import Local

    try:
        client.create_project(PROJECT)
    except ConflictError:
        pass
    child_flow.storage = Local(path=os.path.abspath(__file__), stored_as_script=True)
    client.register(child_flow, project_name=PROJECT)


def _start_flow_run_rounds(client: Any) -> tuple[list[float], list[float]]:
    from headwater.engine.signals import SUCCESS
    from headwater.tasks.headwater import StartFlowRun

    starter = StartFlowRun(flow_name="bench-child", project_name=PROJECT, wait=True)
    round_trips: list[float] = []
    wake_ups: list[float] = []
    for index in range(ROUNDS + 1):
        started = time.perf_counter()
        try:
            starter.run(idempotency_key=f"bench-{time.time_ns()}-{index}")
            raise RuntimeError("StartFlowRun(wait=True) returned without mirroring a state")
        except SUCCESS as mirrored:
            # Outside a flow the mirrored final state surfaces as its signal; inside a
            # flow it becomes the task's state, with the child run id as its result.
            child_id = mirrored.state.result
        elapsed = time.perf_counter() - started
        returned = datetime.now(UTC)
        final = datetime.fromisoformat(client.get_flow_run(child_id)["state_timestamp"])
        if index == 0:
            continue  # warm-up: first run pays for imports in the agent's children
        round_trips.append(elapsed)
        wake_ups.append((returned - final).total_seconds())
    return round_trips, wake_ups


def _fan_out() -> float:
    from headwater import unmapped
    from headwater.tasks.headwater import create_flow_run, wait_for_flow_run

    with Flow("bench-fan-out") as parent:
        ids = create_flow_run.map(
            flow_name=unmapped("bench-child"),
            project_name=unmapped(PROJECT),
            parameters=[{} for _ in range(FAN_OUT)],
        )
        wait_for_flow_run.map(ids, stream_states=unmapped(False))
    started = time.perf_counter()
    state = parent.run()
    elapsed = time.perf_counter() - started
    if not state.is_successful():
        raise RuntimeError(f"fan-out parent ended {state!r}")
    return elapsed


def run() -> list[dict[str, Any]]:
    """Start a server and an agent, run the benchmarks, return the result rows."""
    from headwater.client import Client
    from headwater.testing import temporary_server
    from headwater.testing_agent import temporary_agent

    with (
        temporary_server() as server,
        temporary_agent(server.api_url, max_concurrent=16),
    ):
        previous = os.environ.get("HEADWATER_API_URL")
        os.environ["HEADWATER_API_URL"] = server.api_url
        try:
            client = Client(api_server=server.api_url)
            _register(client)
            round_trips, wake_ups = _start_flow_run_rounds(client)
            fan_out = _fan_out()
        finally:
            if previous is None:
                os.environ.pop("HEADWATER_API_URL", None)
            else:
                os.environ["HEADWATER_API_URL"] = previous
    return [
        {
            "benchmark": "StartFlowRun(wait=True) round trip p50",
            "value": round(statistics.median(round_trips), 3),
            "unit": "s",
            "target": "<= 0.3",
        },
        {
            "benchmark": "StartFlowRun(wait=True) round trip p95",
            "value": round(_percentile(round_trips, 0.95), 3),
            "unit": "s",
            "target": None,
        },
        {
            "benchmark": "child final state -> waiting task returns, p50",
            "value": round(statistics.median(wake_ups) * 1000, 1),
            "unit": "ms",
            "target": "<= 50",
        },
        {
            "benchmark": "child final state -> waiting task returns, p95",
            "value": round(_percentile(wake_ups, 0.95) * 1000, 1),
            "unit": "ms",
            "target": None,
        },
        {
            "benchmark": f"create_flow_run mapped over {FAN_OUT} + wait for all: total",
            "value": round(fan_out, 2),
            "unit": "s",
            "target": None,
        },
        {
            "benchmark": f"create_flow_run mapped over {FAN_OUT} + wait for all: throughput",
            "value": round(FAN_OUT / fan_out, 1),
            "unit": "children/s",
            "target": None,
        },
    ]


if __name__ == "__main__":
    for row in run():
        target = f"  (target {row['target']})" if row["target"] else ""
        print(f"{row['benchmark']}: {row['value']} {row['unit']}{target}")
    sys.exit(0)
