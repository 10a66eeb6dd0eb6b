"""Per-task overhead of the local engine (``flow.run()`` on ``LocalExecutor``).

Two flows, each run once after a small warm-up: (a) a 1,000-task linear chain and
(b) one task mapped over 10,000 inputs. The reported value is the wall time of
``flow.run()`` divided by the number of task runs, in microseconds; the work inside each
task is a single addition, so nearly all of it is engine overhead. Peak RSS of the
process is reported too. Run as ``python benchmarks/engine.py`` or through
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


def _time_run(flow: Any) -> float:
    from headwater.executors import LocalExecutor

    gc.collect()
    start = time.perf_counter()
    state = flow.run(executor=LocalExecutor())
    elapsed = time.perf_counter() - start
    if not state.is_successful():
        raise RuntimeError(f"benchmark flow {flow.name!r} ended {state!r}")
    return elapsed


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # ru_maxrss is in KiB on Linux and bytes on macOS.
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def run() -> list[dict[str, Any]]:
    """Run both benchmarks and return the result rows."""
    _time_run(_chain_flow(50))  # warm-up: imports, logger and config caches
    chain = _chain_flow(CHAIN_LENGTH)
    chain_s = _time_run(chain)
    mapped = _map_flow(MAP_WIDTH)
    map_s = _time_run(mapped)
    # The mapped flow runs MAP_WIDTH children plus the parent and the constant task.
    return [
        {
            "benchmark": f"engine: {CHAIN_LENGTH}-task linear chain, per task",
            "value": round(chain_s / CHAIN_LENGTH * 1e6, 1),
            "unit": "us",
            "target": TARGET_US,
        },
        {
            "benchmark": f"engine: one task mapped over {MAP_WIDTH} inputs, per child",
            "value": round(map_s / MAP_WIDTH * 1e6, 1),
            "unit": "us",
            "target": TARGET_US,
        },
        {
            "benchmark": "engine: peak RSS of the benchmark process",
            "value": round(_peak_rss_mb(), 1),
            "unit": "MB",
            "target": "",
        },
    ]


if __name__ == "__main__":
    for row in run():
        print(f"{row['benchmark']}: {row['value']} {row['unit']} (target {row['target'] or '-'})")
