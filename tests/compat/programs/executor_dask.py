"""DaskExecutor() with its own temporary local cluster."""

import os
import sys

from headwater import Flow, task
from headwater.executors import DaskExecutor

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


@task
def numbers():
    return [1, 2, 3, 4]


@task
def cube(x):
    return x**3, os.getpid()


@task
def total(pairs):
    return sum(value for value, _ in pairs)


with Flow("dask") as flow:
    cubes = cube.map(numbers())
    result = total(cubes)


if __name__ == "__main__":
    state = flow.run(executor=DaskExecutor())
    check("flow succeeded", state.is_successful(), True)
    check("total", state.result[result].result, 100)
    check("every child ran", len({p for _, p in state.result[cubes].result}) >= 1, True)

    executor = DaskExecutor(cluster_kwargs={"n_workers": 2, "threads_per_worker": 1})
    state = flow.run(executor=executor)
    check("cluster_kwargs run", state.result[result].result, 100)

    sys.exit(1 if FAILURES else 0)
