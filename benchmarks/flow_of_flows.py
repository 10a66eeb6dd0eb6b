"""Flow-of-flows benchmarks against a real server and a real local agent.

Rows (``{"benchmark", "value", "unit", "target"}``):

* ``StartFlowRun(wait=True)`` round trip, p50 and p95 over 20 calls: from the call to its
  return, for a trivial child flow run by the agent (target p50 <= 0.3 s).
* Wake-up delay: from the child's final state timestamp (stored by the server) to the
  return of the waiting task, p50 and p95 (target p50 <= 50 ms).
* ``create_flow_run`` mapped over 100 children plus ``wait_for_flow_run`` for all of them:
  total seconds and children per second, with the parent run by the agent (its children
  are created with one bulk request; target <= 4 s) and with the parent run locally.

Each on SQLite and on PostgreSQL (when reachable). On SQLite also a parent mapping
``create_flow_run`` over 2,000 children, with the peak resident memory of the server and
the agent while it runs (the scale check: it must complete, memory must stay bounded).

Run ``python benchmarks/flow_of_flows.py`` or ``python -m benchmarks --only flow_of_flows``.
"""

from __future__ import annotations

import os
import runpy
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any

from benchmarks._processes import tree_cpu_seconds
from headwater import Flow, task

ROUNDS = 20
FAN_OUT = 100
SCALE = 2000
PROJECT = "bench"
_PARENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "flows", "fan_out.py")


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


def _register_parent(client: Any) -> str:
    from headwater.storage import Local

    parent = runpy.run_path(_PARENT, run_name="bench_parent")["flow"]
    parent.storage = Local(path=_PARENT, stored_as_script=True)
    return str(client.register(parent, project_name=PROJECT))


def _backend_fan_out(client: Any, parent_id: str, children: int) -> float:
    """Seconds from creating the agent-run parent until it (and so every child) is done."""
    from headwater.testing_agent import wait_for_flow_run_state

    started = time.perf_counter()
    run_id = client.create_flow_run(flow_id=parent_id, parameters={"n": children})
    run = wait_for_flow_run_state(client, run_id, timeout=3600)
    elapsed = time.perf_counter() - started
    if run["state_type"] != "Success":
        raise RuntimeError(f"fan-out parent ended {run['state_type']}: {run['state_message']}")
    finished = client.query_flow_runs(parent_flow_run_id=run_id, state="Success", limit=10_000)
    if len(finished) != children:
        raise RuntimeError(f"{len(finished)} of {children} children succeeded")
    return elapsed


class _PeakRss:
    """Samples the resident memory of some processes every half second; keeps the peak."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.peak = dict.fromkeys(pids, 0.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        import psutil

        while not self._stop.wait(0.5):
            for name, pid in self.pids.items():
                try:
                    rss = psutil.Process(pid).memory_info().rss / 2**20
                except psutil.Error:
                    continue
                self.peak[name] = max(self.peak[name], rss)

    def __enter__(self) -> _PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _row(benchmark: str, value: float, unit: str, target: str | None = None) -> dict[str, Any]:
    return {"benchmark": benchmark, "value": round(value, 3), "unit": unit, "target": target}


def _bench(label: str, database_url: str | None, scale: bool) -> list[dict[str, Any]]:
    from headwater.client import Client
    from headwater.testing import temporary_server
    from headwater.testing_agent import temporary_agent

    rows: list[dict[str, Any]] = []
    with (
        temporary_server(database_url=database_url) as server,
        temporary_agent(server.api_url, max_concurrent=16) as agent,
    ):
        previous = os.environ.get("HEADWATER_API_URL")
        os.environ["HEADWATER_API_URL"] = server.api_url
        try:
            client = Client(api_server=server.api_url)
            _register(client)
            parent_id = _register_parent(client)
            round_trips, wake_ups = _start_flow_run_rounds(client)
            _backend_fan_out(client, parent_id, 10)  # warm-up
            assert server.process is not None
            server_cpu, agent_cpu = (
                tree_cpu_seconds(server.process.pid),
                tree_cpu_seconds(agent.pid),
            )
            backend = _backend_fan_out(client, parent_id, FAN_OUT)
            server_cpu = tree_cpu_seconds(server.process.pid) - server_cpu
            agent_cpu = tree_cpu_seconds(agent.pid) - agent_cpu
            local = _fan_out()
            rows += _rows(label, round_trips, wake_ups, backend, local)
            # Where the fan-out's time goes, on a machine with os.cpu_count() cores.
            rows += [
                _row(
                    f"{label}: {FAN_OUT} children: server CPU per child",
                    1000 * server_cpu / FAN_OUT,
                    "ms",
                ),
                _row(
                    f"{label}: {FAN_OUT} children: agent + run processes CPU per child",
                    1000 * agent_cpu / FAN_OUT,
                    "ms",
                ),
            ]
            if scale:
                assert server.process is not None
                with _PeakRss({"server": server.process.pid, "agent": agent.pid}) as peak:
                    total = _backend_fan_out(client, parent_id, SCALE)
                rows += [
                    _row(
                        f"{label}: create_flow_run mapped over {SCALE}, agent-run: total",
                        total,
                        "s",
                    ),
                    _row(f"{label}: {SCALE} children: peak server RSS", peak.peak["server"], "MiB"),
                    _row(f"{label}: {SCALE} children: peak agent RSS", peak.peak["agent"], "MiB"),
                ]
        finally:
            if previous is None:
                os.environ.pop("HEADWATER_API_URL", None)
            else:
                os.environ["HEADWATER_API_URL"] = previous
    return rows


def run() -> list[dict[str, Any]]:
    """Start a server and an agent per database, run the benchmarks, return the rows."""
    from headwater.testing import postgres_available, temporary_postgres_database

    rows = _bench("sqlite", None, scale=True)
    if postgres_available():
        with temporary_postgres_database() as url:
            rows += _bench("postgresql", url, scale=False)
    return rows


def _rows(
    label: str, round_trips: list[float], wake_ups: list[float], backend: float, fan_out: float
) -> list[dict[str, Any]]:
    return [
        {
            "benchmark": f"{label}: create_flow_run mapped over {FAN_OUT} + wait, agent-run parent",
            "value": round(backend, 2),
            "unit": "s",
            "target": "<= 4",
        },
        {
            "benchmark": f"{label}: StartFlowRun(wait=True) round trip p50",
            "value": round(statistics.median(round_trips), 3),
            "unit": "s",
            "target": "<= 0.08",
        },
        {
            "benchmark": f"{label}: StartFlowRun(wait=True) round trip p95",
            "value": round(_percentile(round_trips, 0.95), 3),
            "unit": "s",
            "target": None,
        },
        {
            "benchmark": f"{label}: child final state -> waiting task returns, p50",
            "value": round(statistics.median(wake_ups) * 1000, 1),
            "unit": "ms",
            "target": "<= 50",
        },
        {
            "benchmark": f"{label}: child final state -> waiting task returns, p95",
            "value": round(_percentile(wake_ups, 0.95) * 1000, 1),
            "unit": "ms",
            "target": None,
        },
        {
            "benchmark": f"{label}: create_flow_run mapped over {FAN_OUT} + wait, local parent: total",
            "value": round(fan_out, 2),
            "unit": "s",
            "target": None,
        },
        {
            "benchmark": f"{label}: create_flow_run mapped over {FAN_OUT} + wait, local parent: rate",
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
