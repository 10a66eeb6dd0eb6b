"""A Tuple return annotation lets a task's result be unpacked without nout."""

import sys
from typing import Tuple  # noqa: UP035 (Prefect 1 era spelling)

from headwater import Flow, task

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


@task
def min_max(values) -> Tuple[int, int]:  # noqa: UP006 (Prefect 1 era spelling)
    return min(values), max(values)


@task
def spread(low, high):
    return high - low


with Flow("tuple-annotation") as flow:
    low, high = min_max([4, 9, 1])
    width = spread(low, high)


check("nout inferred", min_max.nout, 2)
state = flow.run()
check("flow succeeded", state.is_successful(), True)
check("unpacked values", (state.result[low].result, state.result[high].result), (1, 9))
check("downstream", state.result[width].result, 8)

sys.exit(1 if FAILURES else 0)
