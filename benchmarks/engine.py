"""Per-task overhead of the local engine (``flow.run()`` on ``LocalExecutor``).

Two flows, each run once after a small warm-up: (a) a 1,000-task linear chain and
(b) one task mapped over 10,000 inputs. The headline value is the CPU time of
``flow.run()`` divided by the number of task runs, in microseconds (CPU time, like the
Prefect 1 figure it is compared with, does not depend on what else the machine runs);
the wall-clock time is reported beside it; the work inside each
task is a single addition, so nearly all of it is engine overhead. Both are measured with
the default configuration (INFO: every task run logs a start and an end line, as in
Prefect 1) and again with the ``headwater`` logger at WARNING (engine work only). Peak
RSS of the process is reported too. Run as ``python benchmarks/engine.py`` or through
``python -m benchmarks``.
"""

from __future__ import annotations

import gc
import resource
import sys
import time
from typing import Any

CHAIN_LENGTH = 1_000
MAP_WIDTH = 10_000
TARGET_US = "<= 100"


def _chain_flow(n: int) -> Any:
    from headwater import Flow, task

    @task
    def inc(x: int) -> int:
        return x + 1

    with Flow("benchmark-chain") as flow:
        value: Any = inc(0)
        for _ in range(n - 1):
            value = inc(value)
    return flow


def _map_flow(n: int) -> Any:
    from headwater import Flow, task

    @task
    def inc(x: int) -> int:
        return x + 1

    with Flow("benchmark-map") as flow:
        inc.map(list(range(n)))
    return flow


def _time_run(flow: Any) -> tuple[float, float]:
    """Run ``flow`` once; return (CPU seconds of this process, wall seconds)."""
    from headwater.executors import LocalExecutor

    gc.collect()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    state = flow.run(executor=LocalExecutor())
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    if not state.is_successful():
        raise RuntimeError(f"benchmark flow {flow.name!r} ended {state!r}")
    return cpu, wall


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # ru_maxrss is in KiB on Linux and bytes on macOS.
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _rows(suffix: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for label, flow, n in (
        (f"{CHAIN_LENGTH}-task linear chain, per task", _chain_flow(CHAIN_LENGTH), CHAIN_LENGTH),
        (f"one task mapped over {MAP_WIDTH} inputs, per child", _map_flow(MAP_WIDTH), MAP_WIDTH),
    ):
        cpu, wall = _time_run(flow)
        rows.append(
            {
                "benchmark": f"engine: {label}, CPU{suffix}",
                "value": round(cpu / n * 1e6, 1),
                "unit": "us",
                "target": TARGET_US,
            }
        )
        rows.append(
            {
                "benchmark": f"engine: {label}, wall clock{suffix}",
                "value": round(wall / n * 1e6, 1),
                "unit": "us",
                "target": "",
            }
        )
    return rows


def run() -> list[dict[str, Any]]:
    """Run both benchmarks (default logging, then logging at WARNING) and return rows."""
    import logging

    from headwater.utilities.logging import get_logger

    _time_run(_chain_flow(50))  # warm-up: imports, logger and config caches
    # Default configuration: INFO, so each task run logs its start and end lines.
    rows = _rows("")
    root = get_logger()
    level = root.level
    root.setLevel(logging.WARNING)
    try:
        rows += _rows(" (logging at WARNING)")
    finally:
        root.setLevel(level)
    rows.append(
        {
            "benchmark": "engine: peak RSS of the benchmark process",
            "value": round(_peak_rss_mb(), 1),
            "unit": "MB",
            "target": "",
        }
    )
    return rows


if __name__ == "__main__":
    for row in run():
        print(f"{row['benchmark']}: {row['value']} {row['unit']} (target {row['target'] or '-'})")
