"""Benchmark of the retention service on SQLite, in process.

Fills a fresh SQLite database with old finished flow runs (each with task runs, states,
logs and an artifact), then runs one retention pass (batches of 200 runs) while a writer
keeps creating and finishing runs through the API. Reports the pass's throughput and the
writer's slowest and 95th-percentile write during the pass: batches must stay short
enough that writers are not stalled (target: slowest write <= 500 ms).

Run with ``python -m benchmarks.retention``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

_OLD_RUNS = 3000
_LOGS_PER_RUN = 5
_BATCH = 200


def _row(benchmark: str, value: float, unit: str, target: str = "") -> dict[str, Any]:
    return {"benchmark": benchmark, "value": round(value, 3), "unit": unit, "target": target}


async def _measure(home: Path) -> list[dict[str, Any]]:
    import httpx

    from headwater.server.app import create_app
    from headwater.server.database import orm
    from headwater.server.database.orm_backend import Artifact
    from headwater.server.services.retention import RetentionService
    from headwater.server.settings import ServerSettings

    settings = ServerSettings(home=home, start_services=False)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://b/api/") as http:
            await http.post("projects", json={"name": "bench"})
            flow = (
                await http.post(
                    "flows", json={"name": "f", "project_name": "bench", "serialized_flow": {}}
                )
            ).json()
            then = orm.utcnow() - dt.timedelta(days=30)
            db = app.state.db
            async with db.session() as session:
                for i in range(_OLD_RUNS):
                    run = orm.FlowRun(
                        id=orm.new_id(),
                        flow_id=flow["id"],
                        flow_group_id=flow["flow_group_id"],
                        flow_name="f",
                        project_name="bench",
                        name=f"old-{i}",
                        state={"type": "Success"},
                        state_type="Success",
                        state_timestamp=then,
                        end_time=then,
                        version=3,
                        created=then,
                        updated=then,
                    )
                    task_run = orm.TaskRun(
                        id=orm.new_id(),
                        flow_run_id=run.id,
                        task_slug="t-1",
                        state_type="Success",
                        state_timestamp=then,
                        version=2,
                    )
                    session.add_all([run, task_run])
                    session.add_all(
                        orm.FlowRunState(
                            flow_run_id=run.id, version=v, type=t, serialized={"type": t}
                        )
                        for v, t in ((1, "Scheduled"), (2, "Running"), (3, "Success"))
                    )
                    session.add_all(
                        orm.Log(flow_run_id=run.id, timestamp=then, message=f"line {n}")
                        for n in range(_LOGS_PER_RUN)
                    )
                    session.add(
                        Artifact(
                            flow_run_id=run.id,
                            task_run_id=task_run.id,
                            kind="link",
                            data={"link": "/x"},
                        )
                    )
                await session.commit()

            latencies: list[float] = []
            done = asyncio.Event()

            async def writer() -> None:
                async def timed(path: str, body: dict[str, Any]) -> Any:
                    start = time.perf_counter()
                    response = await http.post(path, json=body)
                    latencies.append(time.perf_counter() - start)
                    response.raise_for_status()
                    return response.json()

                while not done.is_set():
                    run = await timed("flow-runs", {"flow_id": flow["id"]})
                    for state in ("Running", "Success"):
                        await timed(f"flow-runs/{run['id']}/state", {"state": {"type": state}})
                    await timed("logs", {"logs": [{"flow_run_id": run["id"], "message": "new"}]})

            service = RetentionService(
                db, app.state.results, ages={"flow_runs": 86400.0}, batch_size=_BATCH
            )
            task = asyncio.create_task(writer())
            started = time.perf_counter()
            deleted = await service.run_pass()
            elapsed = time.perf_counter() - started
            done.set()
            await task
    latencies.sort()
    p95 = latencies[max(0, int(len(latencies) * 0.95) - 1)]
    return [
        _row("retention: old flow runs deleted", deleted["flow_runs"], "runs", f"== {_OLD_RUNS}"),
        _row(f"retention: deletion rate (SQLite, batches of {_BATCH} runs)", deleted["flow_runs"] / elapsed, "runs/s"),
        _row("retention: requests of a concurrent writer during the pass", len(latencies), "requests"),
        _row("retention: concurrent write, median", statistics.median(latencies) * 1000, "ms"),
        _row("retention: concurrent write, p95", p95 * 1000, "ms"),
        _row("retention: concurrent write, slowest", latencies[-1] * 1000, "ms", "<= 500"),
    ]  # fmt: skip


def run() -> list[dict[str, Any]]:
    """Rows of the benchmark table."""
    with tempfile.TemporaryDirectory(prefix="headwater-bench-retention-") as home:
        return asyncio.run(_measure(Path(home)))


if __name__ == "__main__":
    for row in run():
        print(row)
