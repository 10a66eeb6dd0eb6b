"""Benchmarks of the web UI.

Measures:

- server time of the runs page with 100,000 runs in the database (first page, a state
  filter, top-level runs with a label, a deep page), on SQLite and on PostgreSQL when
  reachable, in process (the ASGI app with its real database; target <= 1 s);
- server time of a run page with 10,000 task runs, once as one task mapped over 10,000
  children and once as 10,000 distinct tasks, plus the task-run fragment with a state
  filter (target <= 1 s);
- time from a state change to an open run page showing it, with a real server process and
  headless Chromium (the change is sent through the API; the page's own clock notes when
  the new state appears; p50 target <= 1 s).

Run with ``python -m benchmarks.ui``; ``run()`` returns the rows of the table.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

RUNS = 100_000
TASK_RUNS = 10_000
REPEAT = 7
LATENCY_SAMPLES = 10
STATES = ["Success"] * 6 + ["Failed", "Running", "Scheduled", "Cancelled"]


def _row(benchmark: str, value: float | None, unit: str, target: str = "") -> dict[str, Any]:
    return {
        "benchmark": benchmark,
        "value": None if value is None else round(value, 2),
        "unit": unit,
        "target": target,
    }


async def _fill(app: Any, api: Any) -> dict[str, str]:
    """Insert the runs and task runs in bulk; return ids of interest."""
    from sqlalchemy import insert

    from headwater.server.database import orm

    project = (await api.post("/api/projects", json={"name": "bench"})).json()["name"]
    tasks = [{"slug": f"task-{i}", "name": f"task {i}"} for i in range(TASK_RUNS)]
    flows = []
    for name, flow_tasks in (
        ("bench-many", []),
        ("bench-mapped", [{"slug": "numbers"}, {"slug": "double", "mapped": True}]),
        ("bench-wide", tasks),
    ):
        body = {"name": name, "project_name": project, "serialized_flow": {"tasks": flow_tasks}}
        flows.append((await api.post("/api/flows", json=body)).json())
    many = flows[0]
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    engine = app.state.db.engine
    run_rows: list[dict[str, Any]] = []
    label_rows: list[dict[str, Any]] = []
    ids: list[str] = []
    for i in range(RUNS):
        run_id = str(uuid.uuid4())
        ids.append(run_id)
        state = STATES[i % len(STATES)]
        created = start + dt.timedelta(seconds=i * 25)
        labels = ["nightly"] if i % 7 == 0 else []
        run_rows.append(
            {
                "id": run_id,
                "flow_id": many["id"],
                "flow_group_id": many["flow_group_id"],
                "flow_name": many["name"],
                "project_name": project,
                "name": f"run-{i}",
                "parameters": {"i": i},
                "context": {},
                "labels": labels,
                "scheduled_start_time": created,
                "start_time": created,
                "end_time": created + dt.timedelta(seconds=3),
                "state": {"type": state},
                "state_type": state,
                "version": 3,
                "times_resurrected": 0,
                "created": created,
                "updated": created,
                "parent_flow_run_id": ids[i - 1] if i % 10 == 9 else None,
            }
        )
        label_rows.extend({"flow_run_id": run_id, "label": x} for x in labels)
    async with engine.begin() as conn:
        for k in range(0, len(run_rows), 2000):
            await conn.execute(insert(orm.FlowRun.__table__), run_rows[k : k + 2000])
        for k in range(0, len(label_rows), 5000):
            await conn.execute(insert(orm.FlowRunLabel.__table__), label_rows[k : k + 5000])
    out = {}
    base = dt.datetime.now(dt.UTC)
    mapped = (await api.post("/api/flow-runs", json={"flow_id": flows[1]["id"]})).json()
    out["mapped"] = mapped["id"]
    children = [_task(mapped["id"], "double", i, base, i) for i in range(TASK_RUNS)]
    async with engine.begin() as conn:
        for k in range(0, len(children), 2000):
            await conn.execute(insert(orm.TaskRun.__table__), children[k : k + 2000])
    # A run of the wide flow gets its 10,000 task runs when it is created.
    wide = (await api.post("/api/flow-runs", json={"flow_id": flows[2]["id"]})).json()
    out["wide"] = wide["id"]
    table = orm.TaskRun.__table__
    async with engine.begin() as conn:
        await conn.execute(
            table.update()
            .where(table.c.flow_run_id == wide["id"])
            .values(state_type="Success", start_time=base, end_time=base + dt.timedelta(seconds=1))
        )
        await conn.execute(
            table.update()
            .where(table.c.flow_run_id == wide["id"], table.c.task_slug.like("task-%7"))
            .values(state_type="Failed")
        )
    return out


def _task(run_id: str, slug: str, index: int, base: dt.datetime, i: int) -> dict[str, Any]:
    state = STATES[i % len(STATES)]
    begin = base + dt.timedelta(milliseconds=i * 3)
    return {
        "id": str(uuid.uuid4()),
        "flow_run_id": run_id,
        "task_slug": slug,
        "task_name": slug,
        "map_index": index,
        "state": {"type": state},
        "state_type": state,
        "version": 2,
        "run_count": 1,
        "start_time": begin,
        "end_time": None if state == "Running" else begin + dt.timedelta(seconds=1),
        "created": base,
        "updated": base,
    }


async def _time(api: Any, path: str) -> float:
    times = []
    for _ in range(REPEAT):
        began = time.perf_counter()
        response = await api.get(path)
        times.append(time.perf_counter() - began)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: HTTP {response.status_code}: {response.text[:200]}")
    return statistics.median(times) * 1000


async def _pages(kind: str, url: str | None) -> list[dict[str, Any]]:
    import httpx

    from headwater.server.app import create_app
    from headwater.server.settings import ServerSettings

    home = Path(tempfile.mkdtemp(prefix="headwater-bench-ui-"))
    rows: list[dict[str, Any]] = []
    try:
        app = create_app(ServerSettings(home=home, database_url=url, start_services=False))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as api:
                began = time.perf_counter()
                ids = await _fill(app, api)
                fill = time.perf_counter() - began
                rows.append(
                    _row(
                        f"ui ({kind}): insert {RUNS:,} runs + 2 x {TASK_RUNS:,} task runs",
                        fill,
                        "s",
                    )
                )
                pages = [
                    ("runs page, 100,000 runs, first page", "/"),
                    ("runs page, state filter (Failed)", "/?state=Failed"),
                    ("runs page, top-level + label filter", "/?top=1&label=nightly"),
                    ("runs page, page 1,000", "/?page=1000"),
                    (f"run page, 1 task mapped over {TASK_RUNS:,}", f"/runs/{ids['mapped']}"),
                    (f"run page, {TASK_RUNS:,} distinct tasks", f"/runs/{ids['wide']}"),
                    (
                        "task-run fragment, state filter, 10,000 tasks",
                        f"/ui/runs/{ids['wide']}/tasks?task_state=Failed",
                    ),
                ]
                for name, path in pages:
                    rows.append(
                        _row(f"ui ({kind}): {name}", await _time(api, path), "ms", "<= 1000")
                    )
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return rows


def _latency() -> list[dict[str, Any]]:
    """State change (API call sent) -> new state shown on an open run page."""
    if shutil.which("chromium") is None or shutil.which("chromedriver") is None:
        return [_row("ui: state change -> page shows it (p50)", None, "ms", "<= 1000")]
    import httpx
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    from headwater.client import Client
    from headwater.testing import temporary_server

    profile = tempfile.mkdtemp(prefix="headwater-bench-chromium-")
    samples: list[float] = []
    with temporary_server() as server:
        client = Client(api_server=server.api_url)
        client.create_project("bench")
        flow = httpx.post(
            f"{server.api_url}/flows",
            json={"name": "latency", "project_name": "bench", "serialized_flow": {}},
        ).json()
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-sync",
            f"--user-data-dir={profile}",
        ):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        try:
            for _ in range(LATENCY_SAMPLES):
                run_id = client.create_flow_run(flow_id=flow["id"])
                driver.get(f"{server.url}/runs/{run_id}")
                _wait(
                    lambda: "on" in driver.find_element("id", "live-status").get_attribute("class")
                )
                driver.execute_script(
                    "window.__shown = null;"
                    "new MutationObserver(function () {"
                    "  var el = document.getElementById('run-state');"
                    "  if (!window.__shown && el && el.textContent.indexOf('Cancelled') >= 0)"
                    "    window.__shown = Date.now();"
                    "}).observe(document.body, {childList: true, subtree: true});"
                )
                sent = time.time() * 1000
                client.cancel_flow_run(run_id)
                shown = _wait(lambda: driver.execute_script("return window.__shown"))
                samples.append(float(shown) - sent)
        finally:
            driver.quit()
            shutil.rmtree(profile, ignore_errors=True)
    samples.sort()
    return [
        _row(
            "ui: state change -> page shows it (p50)", statistics.median(samples), "ms", "<= 1000"
        ),
        _row("ui: state change -> page shows it (max)", samples[-1], "ms", "<= 1000"),
    ]


def _wait(condition: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception:
            pass
        time.sleep(0.01)
    raise TimeoutError("the page did not show the change")


def run() -> list[dict[str, Any]]:
    """Page server times on SQLite (and PostgreSQL when reachable), then live latency."""
    from headwater.testing import postgres_available, temporary_postgres_database

    rows = asyncio.run(_pages("sqlite", None))
    if postgres_available():
        with temporary_postgres_database() as url:
            rows += asyncio.run(_pages("postgresql", url))
    rows += _latency()
    return rows


if __name__ == "__main__":
    for result in run():
        target = f"  (target {result['target']})" if result["target"] else ""
        print(f"{result['benchmark']:<64} {result['value']!s:>10} {result['unit']}{target}")
    sys.exit(0)
