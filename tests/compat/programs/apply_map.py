"""apply_map: map a function that builds a sub-graph (with case/merge) over inputs."""

import sys

from headwater import Flow, apply_map, case, task
from headwater.tasks.control_flow import merge

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


@task
def inc(x):
    return x + 1


@task
def negate(x):
    return -x


@task
def is_even(x):
    return x % 2 == 0


@task
def total(xs):
    return sum(xs)


def inc_or_negate(x):
    cond = is_even(x)
    with case(cond, True):
        res1 = inc(x)
    with case(cond, False):
        res2 = negate(x)
    return merge(res1, res2)


with Flow("apply-map example") as flow:
    result = apply_map(inc_or_negate, range(4))
    summed = total(result)


state = flow.run()
check("flow succeeded", state.is_successful(), True)
check("apply_map result", state.result[result].result, [1, -1, 3, -3])
check("reduce after apply_map", state.result[summed].result, 0)

sys.exit(1 if FAILURES else 0)
