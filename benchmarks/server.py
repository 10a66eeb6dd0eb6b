"""Benchmarks of the server on SQLite and on PostgreSQL, with real server processes.

Measures, per database:

- server start time: from launching ``headwater server start`` until ``/api/health``
  answers (target <= 2 s), and its resident memory once idle (target <= 100 MB);
- flow-run creates per second: one client creating runs one after another (target
  >= 600/s), with the server's CPU milliseconds per create (target <= 2), and 8 clients
  creating concurrently;
- a bulk create of 1,000 flow runs with ``POST /flow-runs/bulk`` (target <= 0.3 s);
- 1,000 task-run states (Running then Success for 500 task runs) in batches of 500
  with ``POST /task-runs/states``, as the flow-run process's writer sends them;
- task-run state updates per second (one client, Running then Success per task run);
- wake-up latency: from sending a flow run's final state to the return of a waiter
  already parked in ``GET /flow-runs/{id}/wait`` (p50 target <= 10 ms, and p95); this
  includes the state write itself, whose round trip is reported beside it.

Run with ``python -m benchmarks.server``; ``run()`` returns the rows of the table.
PostgreSQL rows are skipped when PostgreSQL is not reachable.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import threading
import time
import uuid
from typing import Any

from benchmarks._processes import cpu_seconds

_SEQUENTIAL_CREATES = 300
_CONCURRENT_CLIENTS = 8
_CONCURRENT_CREATES_EACH = 60
_TASK_RUNS = 150
_WAKEUPS = 50


def _row(benchmark: str, value: float, unit: str, target: str = "") -> dict[str, Any]:
    return {"benchmark": benchmark, "value": round(value, 4), "unit": unit, "target": target}


def _rss_mb(pid: int) -> float:
    import psutil

    process = psutil.Process(pid)
    total = process.memory_info().rss
    for child in process.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.Error:
            pass
    return total / (1024 * 1024)


def _make_flow(client: Any) -> str:
    project = f"bench-{uuid.uuid4().hex[:8]}"
    client.post("/projects", json={"name": project}).raise_for_status()
    body = {"name": "bench", "project_name": project, "serialized_flow": {}}
    response = client.post("/flows", json=body)
    response.raise_for_status()
    return str(response.json()["id"])


def _creates(api_url: str, flow_id: str, server_pid: int) -> list[dict[str, Any]]:
    import httpx

    rows = []
    with httpx.Client(base_url=api_url, timeout=60) as client:
        for _ in range(10):  # warm-up: connections, statement caches
            client.post("/flow-runs", json={"flow_id": flow_id}).raise_for_status()
        cpu = cpu_seconds(server_pid)
        started = time.perf_counter()
        for _ in range(_SEQUENTIAL_CREATES):
            body = {"flow_id": flow_id, "idempotency_key": uuid.uuid4().hex}
            client.post("/flow-runs", json=body).raise_for_status()
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(server_pid) - cpu
        bulk = [{"flow_id": flow_id, "idempotency_key": uuid.uuid4().hex} for _ in range(1000)]
        started = time.perf_counter()
        client.post("/flow-runs/bulk", json={"flow_runs": bulk}).raise_for_status()
        bulk_elapsed = time.perf_counter() - started
    creates = [
        _row(
            "flow-run creates, 1 sequential client",
            _SEQUENTIAL_CREATES / elapsed,
            "runs/s",
            ">= 600",
        ),
        _row("server CPU per flow-run create", cpu * 1000 / _SEQUENTIAL_CREATES, "ms", "<= 2"),
        _row("bulk create of 1,000 flow runs", bulk_elapsed, "s", "<= 0.3"),
    ]

    errors: list[BaseException] = []
    barrier = threading.Barrier(_CONCURRENT_CLIENTS + 1)

    def worker() -> None:
        try:
            with httpx.Client(base_url=api_url, timeout=60) as client:
                client.get("/health").raise_for_status()
                barrier.wait()
                for _ in range(_CONCURRENT_CREATES_EACH):
                    client.post("/flow-runs", json={"flow_id": flow_id}).raise_for_status()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(_CONCURRENT_CLIENTS)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    total = _CONCURRENT_CLIENTS * _CONCURRENT_CREATES_EACH
    rows.append((f"flow-run creates, {_CONCURRENT_CLIENTS} concurrent clients", total / elapsed))
    return creates + [_row(name, value, "runs/s") for name, value in rows]


def _task_updates(api_url: str, flow_id: str) -> list[dict[str, Any]]:
    import httpx

    with httpx.Client(base_url=api_url, timeout=60) as client:
        run = client.post("/flow-runs", json={"flow_id": flow_id}).json()
        client.post(f"/flow-runs/{run['id']}/state", json={"state": {"type": "Running"}})
        ids = []
        for i in range(_TASK_RUNS):
            body = {"flow_run_id": run["id"], "task_slug": f"task-{i}"}
            response = client.post("/task-runs", json=body)
            response.raise_for_status()
            ids.append(response.json()["id"])
        started = time.perf_counter()
        for task_run_id in ids:
            for kind in ("Running", "Success"):
                response = client.post(
                    f"/task-runs/{task_run_id}/state", json={"state": {"type": kind}}
                )
                response.raise_for_status()
                assert response.json()["status"] == "accepted", response.text
        elapsed = time.perf_counter() - started
        keys = [{"task_slug": "batched", "map_index": i} for i in range(500)]
        body = {"flow_run_id": run["id"], "task_runs": keys}
        batched = [r["id"] for r in client.post("/task-runs/bulk", json=body).json()]
        batch_started = time.perf_counter()
        for kind in ("Running", "Success"):
            items = [{"task_run_id": i, "state": {"type": kind}} for i in batched]
            answer = client.post("/task-runs/states", json={"states": items})
            answer.raise_for_status()
            assert all(o["status"] == "accepted" for o in answer.json()["results"]), answer.text
        batch_elapsed = time.perf_counter() - batch_started
    return [
        _row("task-run state updates, 1 client", 2 * _TASK_RUNS / elapsed, "updates/s"),
        _row("task-run state updates, batches of 500", 1000 / batch_elapsed, "updates/s"),
    ]


async def _wakeups(api_url: str, flow_id: str) -> tuple[list[float], list[float]]:
    """Wake-up latencies and, for context, the state write's own round trips (ms)."""
    import httpx

    latencies = []
    writes = []
    async with (
        httpx.AsyncClient(base_url=api_url, timeout=60) as waiter,
        httpx.AsyncClient(base_url=api_url, timeout=60) as writer,
    ):
        for i in range(_WAKEUPS + 3):
            run = (await writer.post("/flow-runs", json={"flow_id": flow_id})).json()
            state_url = f"/flow-runs/{run['id']}/state"
            await writer.post(state_url, json={"state": {"type": "Running"}})
            returned: list[float] = []

            async def wait(run_id: str = run["id"], out: list[float] = returned) -> None:
                response = await waiter.get(f"/flow-runs/{run_id}/wait", params={"timeout": 30})
                out.append(time.perf_counter())
                assert response.json()["finished"] is True, response.text

            task = asyncio.create_task(wait())
            # Let the waiter park on the server before the write (not part of the number).
            await asyncio.sleep(0.05)
            sent = time.perf_counter()
            await writer.post(state_url, json={"state": {"type": "Success"}})
            written = time.perf_counter()
            await asyncio.wait_for(task, 30)
            if i >= 3:  # the first few warm up connections
                latencies.append((returned[0] - sent) * 1000)
                writes.append((written - sent) * 1000)
    return latencies, writes


def _bench(label: str, database_url: str | None) -> list[dict[str, Any]]:
    import shutil
    import tempfile
    from pathlib import Path

    import httpx

    from headwater.testing import TemporaryServer

    home = Path(tempfile.mkdtemp(prefix="headwater-bench-"))
    server = TemporaryServer(home=home, database_url=database_url)
    rows: list[dict[str, Any]] = []
    try:
        # Migrate once first, so start time measures a server on an existing database
        # (the usual case); then measure a clean start.
        server.start()
        server.stop()
        started = time.perf_counter()
        server.start()
        rows.append(_row(f"{label}: server start time", time.perf_counter() - started, "s", "<= 2"))
        assert server.process is not None
        with httpx.Client(base_url=server.api_url, timeout=30) as client:
            client.get("/health").raise_for_status()
            flow_id = _make_flow(client)
        time.sleep(1.0)  # idle: let start-up garbage settle before reading memory
        rows.append(_row(f"{label}: idle server RSS", _rss_mb(server.process.pid), "MB", "<= 100"))
        for row in _creates(server.api_url, flow_id, server.process.pid):
            rows.append({**row, "benchmark": f"{label}: {row['benchmark']}"})
        for row in _task_updates(server.api_url, flow_id):
            rows.append({**row, "benchmark": f"{label}: {row['benchmark']}"})
        latencies, writes = asyncio.run(_wakeups(server.api_url, flow_id))
        quantiles = statistics.quantiles(latencies, n=20)
        rows.append(
            _row(f"{label}: wake-up latency p50", statistics.median(latencies), "ms", "<= 10")
        )
        rows.append(_row(f"{label}: wake-up latency p95", quantiles[18], "ms"))
        # The write's own round trip is part of the wake-up latency above.
        rows.append(
            _row(f"{label}: final-state write round trip p50", statistics.median(writes), "ms")
        )
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)
    return rows


def run() -> list[dict[str, Any]]:
    """Run the server benchmarks on SQLite, then on PostgreSQL when reachable."""
    from headwater.testing import postgres_available, temporary_postgres_database

    rows = _bench("sqlite", None)
    if postgres_available():
        with temporary_postgres_database() as url:
            rows += _bench("postgresql", url)
    return rows


if __name__ == "__main__":
    for result in run():
        target = f"  (target {result['target']})" if result["target"] else ""
        print(f"{result['benchmark']:<58} {result['value']:>10} {result['unit']}{target}")
    sys.exit(0)
