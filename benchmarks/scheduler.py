"""Benchmark of the server's scheduler with 1,000 scheduled flow groups, per database.

Measures:

- a full scheduler pass: 1,000 switched-on groups with an hourly cron schedule and no
  runs yet, so the pass creates 10 runs for each (10,000 runs with their task runs);
- an idle pass: the same groups once their runs exist (nothing to do; median of 5);
- the idle CPU of a real ``headwater server start`` process holding those groups, with
  its scheduler passing every 10 s, over 40 s (per cent of one core).

The flows are registered through the API of a real server with scheduling off
(``HEADWATER_SERVER_SCHEDULER_INTERVAL=0``), then the passes run in this process against the
same database. Run with ``python -m benchmarks.scheduler``. PostgreSQL rows are skipped
when PostgreSQL is not reachable.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from typing import Any

GROUPS = 1000
_IDLE_WINDOW = 40.0
_IDLE_INTERVAL = "10"


def _row(benchmark: str, value: float, unit: str, target: str = "") -> dict[str, Any]:
    return {"benchmark": benchmark, "value": round(value, 4), "unit": unit, "target": target}


def _register(api_url: str) -> None:
    import httpx

    from headwater.schedules import CronSchedule

    schedule = CronSchedule("0 * * * *").to_ref()
    with httpx.Client(base_url=api_url, timeout=60) as client:
        client.post("/projects", json={"name": "bench"}).raise_for_status()
        for number in range(GROUPS):
            body = {
                "name": f"scheduled-{number}",
                "project_name": "bench",
                "serialized_flow": {"tasks": [{"slug": "t-1", "name": "t"}], "schedule": schedule},
            }
            client.post("/flows", json=body).raise_for_status()


async def _passes(database_url: str) -> tuple[float, list[float], int]:
    from headwater.server.database import Database
    from headwater.server.services.scheduler import Scheduler

    db = Database(database_url)
    try:
        scheduler = Scheduler(db, interval=30)
        started = time.perf_counter()
        await scheduler.run_once()
        full = time.perf_counter() - started
        idle = []
        for _ in range(5):
            started = time.perf_counter()
            await scheduler.run_once()
            idle.append(time.perf_counter() - started)
        return full, idle, scheduler.created
    finally:
        await db.dispose()


def _idle_cpu(server: Any) -> float:
    import psutil

    process = psutil.Process(server.process.pid)
    time.sleep(2.0)  # let the start-up pass and its garbage settle
    before = process.cpu_times()
    started = time.monotonic()
    time.sleep(_IDLE_WINDOW)
    after = process.cpu_times()
    used = (after.user - before.user) + (after.system - before.system)
    return 100.0 * used / (time.monotonic() - started)


def _bench(label: str, database_url: str | None) -> list[dict[str, Any]]:
    import shutil
    import tempfile
    from pathlib import Path

    from headwater.testing import TemporaryServer

    home = Path(tempfile.mkdtemp(prefix="headwater-bench-"))
    server = TemporaryServer(
        home=home, database_url=database_url, env={"HEADWATER_SERVER_SCHEDULER_INTERVAL": "0"}
    )
    rows: list[dict[str, Any]] = []
    try:
        server.start()
        _register(server.api_url)
        server.stop()
        url = database_url or f"sqlite:///{home / 'headwater.db'}"
        full, idle, created = asyncio.run(_passes(url))
        rows.append(_row(f"{label}: runs created by the full pass", created, "runs", "10000"))
        rows.append(_row(f"{label}: full pass, {GROUPS} groups (10 runs each)", full, "s"))
        rows.append(
            _row(
                f"{label}: idle pass, {GROUPS} groups (median of 5)",
                statistics.median(idle) * 1000,
                "ms",
                "<= 500",
            )
        )
        server.extra_env["HEADWATER_SERVER_SCHEDULER_INTERVAL"] = _IDLE_INTERVAL
        server.start()
        rows.append(
            _row(
                f"{label}: idle server CPU, {GROUPS} groups, pass every {_IDLE_INTERVAL} s",
                _idle_cpu(server),
                "% of a core",
                "<= 5",
            )
        )
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)
    return rows


def run() -> list[dict[str, Any]]:
    """Run the scheduler benchmarks on SQLite, then on PostgreSQL when reachable."""
    from headwater.testing import postgres_available, temporary_postgres_database

    rows = _bench("sqlite", None)
    if postgres_available():
        with temporary_postgres_database() as url:
            rows += _bench("postgresql", url)
    return rows


if __name__ == "__main__":
    for result in run():
        target = f"  (target {result['target']})" if result["target"] else ""
        print(f"{result['benchmark']:<66} {result['value']:>10} {result['unit']}{target}")
    sys.exit(0)
