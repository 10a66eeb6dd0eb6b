"""Mapping: map, unmapped, flatten, map over mapped output, reduce, empty maps, failures."""

import sys

import headwater
from headwater import Flow, Parameter, flatten, task, unmapped

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
    return [1, 2, 3]


@task
def nothing():
    return []


@task
def add(x, y):
    return x + y


@task
def inc(x):
    return x + 1


@task
def total(xs):
    return sum(xs)


@task
def pairs(x):
    return [x, x * 10]


@task
def whoami(x):
    return (headwater.context.map_index, headwater.context.task_full_name)


@task
def invert(x):
    return 1 / x


with Flow("mapping") as flow:
    nums = numbers()
    added = add.map(nums, y=unmapped(100))
    incd = inc.map(added)
    s = total(incd)
    nested = pairs.map(nums)
    flat = inc.map(flatten(nested))
    idx = whoami.map(nums)
    literal = inc.map([10, 20])
    zipped = add.map(nums, [10, 20, 30])
    uneven = add.map([1, 2, 3], [1, 2])
    empty = inc.map(nothing())
    empty_total = total(empty)
    param_mapped = inc.map(Parameter("values", default=[5, 6]))

with Flow("mapping-failure") as failing:
    inverted = invert.map([1, 0, 4])
    after = inc.map(inverted)


state = flow.run()
check("flow succeeded", state.is_successful(), True)
check("map with unmapped", state.result[added].result, [101, 102, 103])
check("map over mapped", state.result[incd].result, [102, 103, 104])
check("reduce", state.result[s].result, 309)
check("mapped parent state is Mapped", state.result[added].is_mapped(), True)
check("map_states count", len(state.result[added].map_states), 3)
check("children successful", all(c.is_successful() for c in state.result[added].map_states), True)
check("nested lists", state.result[nested].result, [[1, 10], [2, 20], [3, 30]])
check("flatten", state.result[flat].result, [2, 11, 3, 21, 4, 31])
check(
    "map_index and task_full_name",
    state.result[idx].result,
    [(0, "whoami[0]"), (1, "whoami[1]"), (2, "whoami[2]")],
)
check("map over a literal list", state.result[literal].result, [11, 21])
check("map two mapped args", state.result[zipped].result, [11, 22, 33])
check("uneven map uses the shortest", state.result[uneven].result, [2, 4])
check("empty map", state.result[empty].result, [])
check("reduce of empty map", state.result[empty_total].result, 0)
check("map over a parameter", state.result[param_mapped].result, [6, 7])
state = flow.run(parameters={"values": [1, 2, 3]})
check("map over a passed parameter", state.result[param_mapped].result, [2, 3, 4])

state = failing.run()
check("flow with a failed child fails", state.is_failed(), True)
children = state.result[inverted].map_states
check("failing child", [c.is_failed() for c in children], [False, True, False])
downstream = state.result[after].map_states
check(
    "downstream of the failed child",
    [type(c).__name__ for c in downstream],
    ["Success", "TriggerFailed", "Success"],
)
check("downstream values", [downstream[0].result, downstream[2].result], [2.0, 1.25])

sys.exit(1 if FAILURES else 0)
