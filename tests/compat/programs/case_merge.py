"""Conditional branches: case/merge, ifelse, switch and skip propagation."""

import sys

from headwater import Flow, Parameter, task
from headwater.tasks.control_flow import case, ifelse, merge, switch

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


@task
def is_big(x):
    return x > 5


@task
def big_action():
    return "big"


@task
def small_action():
    return "small"


@task
def shout(v):
    return v.upper()


@task
def report(v):
    return f"result: {v}"


@task
def pick(x):
    return "a" if x % 2 else "b"


@task
def branch_a():
    return "A"


@task
def branch_b():
    return "B"


with Flow("case-merge") as flow:
    x = Parameter("x")
    cond = is_big(x)
    with case(cond, True):
        val1 = big_action()
        loud = shout(val1)
    with case(cond, False):
        val2 = small_action()
    val = merge(val1, val2)
    out = report(val)


@task
def inc(x):
    return x + 1


@task
def is_small(x):
    return x < 10


with Flow("mapped-and-nested-case") as flow_nested:
    n = Parameter("n", default=5)
    with case(is_big(n), False):
        incremented = inc.map([1, 2, 3])
        with case(is_small(n), True):
            nested = inc(n)

with Flow("ifelse") as flow_ifelse:
    y = Parameter("y")
    t_branch = big_action()
    f_branch = small_action()
    ifelse(is_big(y), t_branch, f_branch)

with Flow("switch") as flow_switch:
    z = Parameter("z")
    a = branch_a()
    b = branch_b()
    switch(pick(z), {"a": a, "b": b})
    merged = merge(a, b)


state = flow.run(parameters={"x": 10})
check("flow succeeded", state.is_successful(), True)
check("true branch", state.result[out].result, "result: big")
check("task inside true branch", state.result[loud].result, "BIG")
check("false branch skipped", state.result[val2].is_skipped(), True)
check("skipped result", state.result[val2].result, None)

state = flow.run(parameters={"x": 1})
check("false branch", state.result[out].result, "result: small")
check("true branch skipped", state.result[val1].is_skipped(), True)
check("downstream of skipped branch skipped", state.result[loud].is_skipped(), True)
check("skipped counts as success", state.is_successful(), True)

state = flow_nested.run()
check("map inside case", state.result[incremented].result, [2, 3, 4])
check("nested case", state.result[nested].result, 6)
state = flow_nested.run(parameters={"n": 50})
check("mapped task in a skipped case", state.result[incremented].is_skipped(), True)
check("nested case under a skipped case", state.result[nested].is_skipped(), True)

state = flow_ifelse.run(parameters={"y": 7})
check("ifelse true ran", state.result[t_branch].result, "big")
check("ifelse false skipped", state.result[f_branch].is_skipped(), True)
state = flow_ifelse.run(parameters={"y": 2})
check("ifelse false ran", state.result[f_branch].result, "small")
check("ifelse true skipped", state.result[t_branch].is_skipped(), True)

state = flow_switch.run(parameters={"z": 3})
check("switch picked a", (state.result[a].result, state.result[b].is_skipped()), ("A", True))
check("merge after switch", state.result[merged].result, "A")
state = flow_switch.run(parameters={"z": 4})
check("switch picked b", (state.result[b].result, state.result[a].is_skipped()), ("B", True))
check("merge after switch b", state.result[merged].result, "B")

sys.exit(1 if FAILURES else 0)
