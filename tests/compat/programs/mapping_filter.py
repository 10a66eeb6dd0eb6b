"""Keep going past failed mapped children: FilterTask drops their exceptions and Nones."""

import sys

from headwater import Flow, task
from headwater.engine import signals
from headwater.tasks.control_flow.filter import FilterTask

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


@task
def risky(x):
    if x == 2:
        raise ValueError("bad input")
    if x == 3:
        raise signals.SKIP("nothing for 3")
    if x == 5:
        return None
    return x * 10


@task
def total(values):
    return sum(values)


filter_results = FilterTask()
keep_large = FilterTask(filter_func=lambda value: value > 15)

with Flow("filtering") as flow:
    results = risky.map([1, 2, 3, 4, 5])
    good = filter_results(results)
    summed = total(good)
    large = keep_large(good)


state = flow.run()
check("flow succeeded despite a failed child", state.is_successful(), True)
check("failed child", state.result[results].map_states[1].is_failed(), True)
check("default filter drops exceptions, skips and None", state.result[good].result, [10, 40])
check("reduce after filtering", state.result[summed].result, 50)
check("custom filter_func", state.result[large].result, [40])

sys.exit(1 if FAILURES else 0)
