"""Benchmarks of backend runs: a real server and a local agent (fork server on).

Measures, on SQLite and on PostgreSQL:

- an agent-run flow mapping one trivial task over 1,000 inputs, from ``create_flow_run``
  to ``Success`` (median of 3; target <= 1.5 s), and a chain of 300 trivial tasks
  (median of 3; target <= 0.5 s);
- the server's CPU seconds per 1,000 task runs (from the map runs), and the server's
  and agent's resident memory afterwards;

and on SQLite:

- latency of a trivial flow run, from ``create_flow_run`` until the server reports it
  ``Success``: p50 and p95 over 20 sequential runs (target: p50 <= 0.3 s);
- throughput: 200 runs created at once, seconds until all are finished;
- resident memory of the agent and of one flow-run process;
- import time of the flow-run process (the modules it loads before running a flow).

Run with ``python -m benchmarks.runs``; ``run()`` returns the rows for the benchmark table.
"""

from __future__ import annotations

import json
import os
import runpy
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._processes import cpu_seconds

_FLOWS = Path(__file__).resolve().parent.parent / "tests" / "e2e" / "flows"
_BENCH_FLOWS = Path(__file__).resolve().parent / "flows"
_LATENCY_RUNS = 20
_BURST_RUNS = 200
_MAP_WIDTH = 1000
_REPEATS = 3


def _row(benchmark: str, value: float, unit: str, target: str = "") -> dict[str, Any]:
    return {"benchmark": benchmark, "value": round(value, 4), "unit": unit, "target": target}


def _register(client: Any, file_name: str, folder: Path = _FLOWS) -> str:
    from headwater.storage import Local

    script = folder / file_name
    flow = runpy.run_path(str(script), run_name="benchmark_flow")["flow"]
    flow.storage = Local(path=str(script), stored_as_script=True)
    return str(client.register(flow, project_name="benchmarks"))


def _wait_finished(client: Any, flow_run_id: str, timeout: float = 120.0) -> dict[str, Any]:
    from headwater.testing_agent import wait_for_flow_run_state

    return wait_for_flow_run_state(client, flow_run_id, timeout=timeout)


def _latency(client: Any, flow_id: str) -> list[dict[str, Any]]:
    # One warm-up run so that the first-run costs (flow file compile cache, database
    # pages) do not count.
    _wait_finished(client, client.create_flow_run(flow_id=flow_id))
    durations = []
    for _ in range(_LATENCY_RUNS):
        started = time.perf_counter()
        run = _wait_finished(client, client.create_flow_run(flow_id=flow_id))
        durations.append(time.perf_counter() - started)
        if run["state_type"] != "Success":
            raise RuntimeError(f"benchmark run ended {run['state_type']}: {run['state_message']}")
    durations.sort()
    p95 = durations[min(len(durations) - 1, round(0.95 * len(durations)) - 1)]
    return [
        _row("trivial run create->Success p50", statistics.median(durations), "s", "<= 0.3"),
        _row("trivial run create->Success p95", p95, "s"),
    ]


def _burst(client: Any, flow_id: str) -> list[dict[str, Any]]:
    started = time.perf_counter()
    ids = [client.create_flow_run(flow_id=flow_id) for _ in range(_BURST_RUNS)]
    created = time.perf_counter() - started
    failed = 0
    for flow_run_id in ids:
        run = _wait_finished(client, flow_run_id, timeout=600)
        if run["state_type"] != "Success":
            failed += 1
            print(
                f"run {flow_run_id}: {run['state_type']}: {run['state_message']}", file=sys.stderr
            )
    total = time.perf_counter() - started
    return [
        _row(f"{_BURST_RUNS} runs created at once: all finished", total, "s"),
        _row(f"{_BURST_RUNS} runs: creating them", created, "s"),
        _row(f"{_BURST_RUNS} runs: not successful", failed, "runs", "0"),
    ]


def _rss(agent_pid: int, client: Any, flow_id: str) -> list[dict[str, Any]]:
    import psutil

    agent = psutil.Process(agent_pid)
    rows = [_row("agent RSS (idle, warm)", agent.memory_info().rss / 2**20, "MiB")]
    marker = Path(tempfile.mkdtemp()) / "started"
    run_id = client.create_flow_run(
        flow_id=flow_id, parameters={"seconds": 3.0, "marker": str(marker)}
    )
    deadline = time.monotonic() + 60
    while not (marker.exists() and marker.read_text()):
        if time.monotonic() > deadline:
            raise RuntimeError("the sleepy benchmark run did not start")
        time.sleep(0.02)
    process = psutil.Process(int(marker.read_text()))
    rows.append(
        _row("flow-run process RSS (running a task)", process.memory_info().rss / 2**20, "MiB")
    )
    _wait_finished(client, run_id)
    return rows


def _import_time() -> list[dict[str, Any]]:
    """Wall time of importing what the flow-run process imports, minus bare start-up."""
    code = (
        "import headwater.engine.backend._main, headwater.engine.backend._runners, "
        "headwater.client, headwater.storage, headwater.engine.results"
    )

    def best(args: list[str]) -> float:
        times = []
        for _ in range(5):
            started = time.perf_counter()
            subprocess.run([sys.executable, *args], check=True)
            times.append(time.perf_counter() - started)
        return min(times)

    bare = best(["-c", "pass"])
    full = best(["-c", code])
    listing = f"{code}; import json, sys; print(json.dumps(sorted(sys.modules)))"
    check = subprocess.run(
        [sys.executable, "-c", listing], check=True, capture_output=True, text=True
    )
    loaded = set(json.loads(check.stdout))
    heavy = sorted(
        m for m in ("dask", "distributed", "sqlalchemy", "fastapi", "uvicorn") if m in loaded
    )
    return [
        _row("flow-run process imports (beyond python start-up)", full - bare, "s"),
        _row("flow-run process start-up incl. interpreter", full, "s"),
        _row("heavy modules in flow-run process", len(heavy), "modules", "0"),
    ]


def _rss_mib(pid: int) -> float:
    import psutil

    return float(psutil.Process(pid).memory_info().rss) / 2**20


def _timed_runs(client: Any, flow_id: str, parameters: dict[str, Any] | None = None) -> float:
    """Median create -> Success seconds over the repeats (after one warm-up run)."""
    _wait_finished(client, client.create_flow_run(flow_id=flow_id, parameters=parameters))
    durations = []
    for _ in range(_REPEATS):
        started = time.perf_counter()
        run = _wait_finished(
            client, client.create_flow_run(flow_id=flow_id, parameters=parameters), timeout=600
        )
        durations.append(time.perf_counter() - started)
        if run["state_type"] != "Success":
            raise RuntimeError(f"benchmark run ended {run['state_type']}: {run['state_message']}")
    return statistics.median(durations)


def _workloads(label: str, server: Any, agent_pid: int, client: Any) -> list[dict[str, Any]]:
    """The map and chain workloads, server CPU per 1,000 task runs, memory afterwards."""
    assert server.process is not None
    server_pid = server.process.pid
    wide = _register(client, "map_many.py", _BENCH_FLOWS)
    chain = _register(client, "chain.py", _BENCH_FLOWS)
    cpu_before = cpu_seconds(server_pid)
    mapped = _timed_runs(client, wide, {"n": _MAP_WIDTH})
    cpu = cpu_seconds(server_pid) - cpu_before
    # Warm-up plus repeats; each run has the mapped parent, its children, numbers and n.
    task_runs = (_REPEATS + 1) * (_MAP_WIDTH + 3)
    chained = _timed_runs(client, chain)
    return [
        _row(f"{label}: map over {_MAP_WIDTH} tasks, create->Success", mapped, "s", "<= 1.5"),
        _row(f"{label}: chain of 300 tasks, create->Success", chained, "s", "<= 0.5"),
        _row(f"{label}: server CPU per 1,000 task runs", cpu * 1000 / task_runs, "s"),
        _row(f"{label}: server RSS after the workloads", _rss_mib(server_pid), "MiB"),
        _row(f"{label}: agent RSS after the workloads", _rss_mib(agent_pid), "MiB"),
    ]


def run() -> list[dict[str, Any]]:
    """Run every benchmark of this module and return its rows."""
    from headwater.client import Client
    from headwater.testing import (
        postgres_available,
        temporary_postgres_database,
        temporary_server,
    )
    from headwater.testing_agent import temporary_agent

    rows = _import_time()
    with temporary_server() as server, temporary_agent(server.api_url) as agent:
        client = Client(api_server=server.api_url)
        client.create_project("benchmarks")
        trivial = _register(client, "trivial.py")
        rows += _latency(client, trivial)
        rows += _rss(agent.pid, client, _register(client, "sleepy.py"))
        rows += _burst(client, trivial)
        rows += _workloads("sqlite", server, agent.pid, client)
    if postgres_available():
        with (
            temporary_postgres_database() as url,
            temporary_server(database_url=url) as server,
            temporary_agent(server.api_url) as agent,
        ):
            client = Client(api_server=server.api_url)
            client.create_project("benchmarks")
            rows += _workloads("postgresql", server, agent.pid, client)
    return rows


if __name__ == "__main__":
    os.environ.setdefault("HEADWATER_HOME", tempfile.mkdtemp(prefix="headwater-bench-"))
    for row in run():
        print(f"{row['benchmark']:<55} {row['value']:>10} {row['unit']:<8} {row['target']}")
