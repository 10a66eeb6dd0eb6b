"""State classes, pre-seeded task_states for flow.run(), and in-process output caching."""

import sys
from datetime import timedelta

from headwater import Flow, Parameter, task
from headwater.engine.cache_validators import all_inputs
from headwater.engine.state import (
    Cached,
    Failed,
    Mapped,
    Pending,
    Retrying,
    Running,
    Scheduled,
    Skipped,
    Success,
    TimedOut,
    TriggerFailed,
)

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


CALLS = []


@task
def extract():
    CALLS.append("extract")
    return [1, 2]


@task
def load(data):
    return sum(data)


FETCHES = []
COMPUTED = []


@task(cache_for=timedelta(hours=1))
def fetch():
    FETCHES.append(1)
    return "payload"


@task(cache_for=timedelta(hours=1), cache_validator=all_inputs)
def compute(x):
    COMPUTED.append(x)
    return x * 2


with Flow("seeded") as flow:
    data = extract()
    loaded = load(data)

with Flow("caching") as caching_flow:
    f = fetch()
    c = compute(Parameter("x", default=1))


s = Success(message="all good", result=3)
check("result and message", (s.result, s.message), (3, "all good"))
check(
    "success predicates",
    (s.is_successful(), s.is_finished(), s.is_failed()),
    (True, True, False),
)
check("repr", repr(s), '<Success: "all good">')
check("failed", (Failed().is_failed(), Failed().is_finished()), (True, True))
check("skipped is successful", (Skipped().is_skipped(), Skipped().is_successful()), (True, True))
check("trigger failed is failed", TriggerFailed().is_failed(), True)
check("timed out is failed", isinstance(TimedOut(), Failed), True)
check("cached is success", isinstance(Cached(), Success), True)
check("mapped is success", (Mapped().is_mapped(), Mapped().is_successful()), (True, True))
check(
    "retrying is scheduled and pending",
    (Retrying().is_retrying(), Retrying().is_scheduled(), Retrying().is_pending()),
    (True, True, True),
)
check("scheduled has a start_time", Scheduled().start_time is not None, True)
check("pending not finished", Pending().is_finished(), False)
check("running", (Running().is_running(), Running().is_finished()), (True, False))

state = flow.run(task_states={data: Success(result=[5, 6])})
check("seeded run succeeded", state.is_successful(), True)
check("seeded upstream not rerun", CALLS, [])
check("downstream used seeded result", state.result[loaded].result, 11)

state = flow.run()
check("normal run", (state.result[loaded].result, CALLS), (3, ["extract"]))

first = caching_flow.run(parameters={"x": 1})
check("first run computes", (first.result[f].result, first.result[c].result), ("payload", 2))
second = caching_flow.run(parameters={"x": 1})
check("second run is Cached", isinstance(second.result[f], Cached), True)
check("cached value", second.result[f].result, "payload")
check("fetch ran once", len(FETCHES), 1)
check("same inputs cached", isinstance(second.result[c], Cached), True)
third = caching_flow.run(parameters={"x": 5})
check("new inputs recompute", (third.result[c].result, COMPUTED), (10, [1, 5]))

sys.exit(1 if FAILURES else 0)
