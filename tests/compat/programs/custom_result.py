"""A custom Result subclass (read/write/exists) used for checkpoints and targets."""

import os

os.environ["HEADWATER__FLOWS__CHECKPOINTING"] = "true"

import sys

from headwater import Flow, task
from headwater.engine.result import Result
from headwater.engine.state import Cached

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


STORE = {}
CALLS = []


class MemoryResult(Result):
    def read(self, location):
        new = self.copy()
        new.location = location
        new.value = STORE[location]
        return new

    def write(self, value_, **kwargs):
        new = self.format(**kwargs)
        new.value = value_
        STORE[new.location] = value_
        return new

    def exists(self, location, **kwargs):
        return location.format(**kwargs) in STORE


@task(result=MemoryResult(location="{task_name}-{x}.mem"))
def square(x):
    CALLS.append(x)
    return x * x


@task(result=MemoryResult(), target="{task_name}.mem", checkpoint=True)
def once():
    CALLS.append("once")
    return "computed once"


with Flow("custom-result") as flow:
    sq = square(4)
    o = once()


state = flow.run()
check("flow succeeded", state.is_successful(), True)
check("written through the custom result", STORE.get("square-4.mem"), 16)
check("state keeps the location", state.result[sq]._result.location, "square-4.mem")
check("target written", STORE.get("once.mem"), "computed once")
state = flow.run()
check(
    "target hit through exists/read",
    (isinstance(state.result[o], Cached), state.result[o].result),
    (True, "computed once"),
)
check("target task ran once", CALLS.count("once"), 1)

sys.exit(1 if FAILURES else 0)
