"""Per-task cost of each executor, and the start-up cost of the parallel ones.

For every executor (LocalExecutor, LocalDaskExecutor with threads and with processes,
DaskExecutor on its default temporary cluster) one flow is run: a task mapped over
``WIDTH`` inputs followed by a ``CHAIN``-task linear chain, each task a single addition.
Reported per executor: wall time per task run in microseconds (including executor
start-up, so the cost a user pays for a small flow), and the start-up plus shutdown time of
the executor alone (``with executor.start(): pass``), median of three.

Run with ``python -m benchmarks.executors``; ``run()`` returns the rows for the table.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

WIDTH = 500
CHAIN = 100


def _row(benchmark: str, value: float, unit: str, target: str = "") -> dict[str, Any]:
    return {"benchmark": benchmark, "value": round(value, 3), "unit": unit, "target": target}


def _executors() -> dict[str, Callable[[], Any]]:
    from headwater.executors import DaskExecutor, LocalDaskExecutor, LocalExecutor

    return {
        "LocalExecutor": LocalExecutor,
        "LocalDaskExecutor(threads)": lambda: LocalDaskExecutor("threads"),
        "LocalDaskExecutor(processes)": lambda: LocalDaskExecutor("processes"),
        "DaskExecutor()": DaskExecutor,
    }


def _flow() -> Any:
    from headwater import Flow, task

    @task
    def inc(x: int) -> int:
        return x + 1

    @task
    def total(values: list[int]) -> int:
        return sum(values)

    with Flow("executor-benchmark") as flow:
        value: Any = total(inc.map(list(range(WIDTH))))
        for _ in range(CHAIN):
            value = inc(value)
    return flow


def _startup_seconds(factory: Callable[[], Any]) -> float:
    times = []
    for _ in range(3):
        executor = factory()
        started = time.perf_counter()
        with executor.start():
            pass
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run() -> list[dict[str, Any]]:
    """Run the flow under every executor; return benchmark rows."""
    flow = _flow()
    n_tasks = WIDTH + 1 + 1 + CHAIN  # children, the mapped parent's input, total, chain
    flow.run()  # warm-up: imports and first-run caches
    rows = []
    for name, factory in _executors().items():
        started = time.perf_counter()
        state = flow.run(executor=factory())
        elapsed = time.perf_counter() - started
        if not state.is_successful():
            raise RuntimeError(f"{name}: the benchmark flow ended {state!r}")
        rows.append(_row(f"{name}: per task run ({n_tasks} runs)", elapsed / n_tasks * 1e6, "us"))
        rows.append(_row(f"{name}: start + shutdown", _startup_seconds(factory) * 1000, "ms"))
    return rows


if __name__ == "__main__":
    for row in run():
        target = f"  (target {row['target']})" if row["target"] else ""
        print(f"{row['benchmark']}: {row['value']} {row['unit']}{target}")
