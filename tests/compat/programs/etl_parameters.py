"""ETL with @task functions and Parameters, run locally with flow.run(parameters=...)."""

import sys
from datetime import datetime

from headwater import DateTimeParameter, Flow, Parameter, task

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


@task
def extract(n):
    return list(range(1, n + 1))


@task
def transform(data, factor):
    return [x * factor for x in data]


@task
def load(data):
    return sum(data)


with Flow("etl") as flow:
    n = Parameter("n", default=3)
    factor = Parameter("factor", required=True)
    data = extract(n)
    scaled = transform(data, factor)
    total = load(scaled)


@task
def describe_day(as_of):
    return (isinstance(as_of, datetime), as_of.year, as_of.month, as_of.day)


with Flow("dated") as dated:
    as_of = DateTimeParameter("as_of")
    day = describe_day(as_of)


state = flow.run(parameters={"factor": 10})
check("flow succeeded", state.is_successful(), True)
check("flow state message", state.message, "All reference tasks succeeded.")
check("extract result", state.result[data].result, [1, 2, 3])
check("total", state.result[total].result, 60)
check("parameter default value", state.result[n].result, 3)
check("every task has a state", set(state.result), set(flow.tasks))

state = flow.run(parameters={"n": 4, "factor": 1})
check("second run total", state.result[total].result, 10)

check("flow.parameters()", {p.name for p in flow.parameters()}, {"n", "factor"})
check("n required", n.required, False)
check("factor required", factor.required, True)
check("n default", n.default, 3)

try:
    flow.run(parameters={"factor": 1, "bogus": 2})
    check("unexpected parameter raises", "no error", "ValueError")
except ValueError as exc:
    check("unexpected parameter named", "bogus" in str(exc), True)

try:
    flow.run()
    check("missing required parameter raises", "no error", "ValueError")
except ValueError as exc:
    check("missing parameter named", "factor" in str(exc), True)

state = dated.run(parameters={"as_of": "2030-02-03T04:05:06+00:00"})
check("DateTimeParameter parses ISO text", state.result[day].result, (True, 2030, 2, 3))

try:
    with Flow("missing-argument"):
        transform([1, 2])
    check("missing task argument raises", "no error", "TypeError")
except TypeError:
    check("missing task argument raises", "TypeError", "TypeError")

try:
    with Flow("duplicate-parameter"):
        Parameter("x")
        Parameter("x")
    check("duplicate parameter raises", "no error", "ValueError")
except ValueError:
    check("duplicate parameter raises", "ValueError", "ValueError")

# Tasks run outside a flow through .run()
check("task.run outside a flow", extract.run(2), [1, 2])
try:
    extract(3)
    check("calling a task outside a flow raises", "no error", "ValueError")
except ValueError:
    check("calling a task outside a flow raises", True, True)

sys.exit(1 if FAILURES else 0)
