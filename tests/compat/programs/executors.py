"""The same mapped flow under LocalExecutor, LocalDaskExecutor (threads, processes) and DaskExecutor."""

import os
import sys
import time
from datetime import timedelta

from headwater import Flow, Parameter, task
from headwater.executors import DaskExecutor, LocalDaskExecutor, LocalExecutor

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


@task
def numbers(n):
    return list(range(n))


@task(max_retries=1, retry_delay=timedelta(seconds=0))
def square(x):
    return x * x


@task
def total(xs):
    return sum(xs)


@task
def pid(x):
    return os.getpid()


@task
def nap(x):
    time.sleep(1.5)
    return x


with Flow("executors") as flow:
    nums = numbers(Parameter("n", default=6))
    squares = square.map(nums)
    result = total(squares)
    pids = pid.map(nums)

with Flow("parallel") as parallel:
    naps = nap.map([1, 2, 3, 4])


# Guarded as in Prefect 1: worker processes started with spawn import this file again.
if __name__ == "__main__":
    for label, executor in [
        ("local", LocalExecutor()),
        ("threads", LocalDaskExecutor(scheduler="threads", num_workers=2)),
        ("processes", LocalDaskExecutor(scheduler="processes", num_workers=2)),
        ("dask", DaskExecutor()),
        (
            "dask cluster_kwargs",
            DaskExecutor(cluster_kwargs={"n_workers": 2, "threads_per_worker": 1}),
        ),
    ]:
        state = flow.run(executor=executor)
        check(f"{label}: succeeded", state.is_successful(), True)
        check(f"{label}: total", state.result[result].result, 55)
        check(f"{label}: squares", state.result[squares].result, [0, 1, 4, 9, 16, 25])
        if label in ("local", "threads"):
            check(f"{label}: runs in this process", set(state.result[pids].result), {os.getpid()})
        if label == "processes":
            check(
                f"{label}: runs in worker processes",
                os.getpid() in state.result[pids].result,
                False,
            )

    flow.executor = LocalDaskExecutor()
    check("flow.executor attribute used", flow.run(parameters={"n": 3}).result[result].result, 5)

    start = time.monotonic()
    state = parallel.run(executor=LocalDaskExecutor(scheduler="threads", num_workers=4))
    elapsed = time.monotonic() - start
    check(
        "threads ran in parallel", (state.result[naps].result, elapsed < 4.5), ([1, 2, 3, 4], True)
    )

    sys.exit(1 if FAILURES else 0)
