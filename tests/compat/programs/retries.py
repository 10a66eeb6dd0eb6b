"""Retries with max_retries/retry_delay and task_run_count."""

import sys
from datetime import timedelta

import headwater
from headwater import Flow, task

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


RUN_COUNTS = []
ALWAYS = []


@task(max_retries=3, retry_delay=timedelta(seconds=0))
def flaky():
    RUN_COUNTS.append(headwater.context.get("task_run_count"))
    if len(RUN_COUNTS) < 3:
        raise ValueError("boom")
    return "finally"


@task(max_retries=2, retry_delay=timedelta(milliseconds=100))
def always_fails():
    ALWAYS.append(1)
    raise RuntimeError("still broken")


MAPPED_ATTEMPTS = {}


@task(max_retries=1, retry_delay=timedelta(seconds=0))
def fragile(x):
    MAPPED_ATTEMPTS[x] = MAPPED_ATTEMPTS.get(x, 0) + 1
    if x == 2 and MAPPED_ATTEMPTS[x] == 1:
        raise ValueError("first attempt of x=2 fails")
    return x * 100


@task
def downstream(v):
    return v + "!"


with Flow("retries") as flow:
    d = downstream(flaky())

with Flow("mapped-retries") as flow_mapped:
    fragile_values = fragile.map([1, 2, 3])

with Flow("retries-exhausted") as flow_fail:
    broken = always_fails()


state = flow.run()
check("flow succeeded after retries", state.is_successful(), True)
check("task_run_count per attempt", RUN_COUNTS, [1, 2, 3])
check("downstream got the value", state.result[d].result, "finally!")

state = flow_mapped.run()
check("mapped children retry on their own", state.result[fragile_values].result, [100, 200, 300])
check("only the failing child ran twice", MAPPED_ATTEMPTS, {1: 1, 2: 2, 3: 1})

state = flow_fail.run()
check("flow failed", state.is_failed(), True)
check("attempts", len(ALWAYS), 3)
final = state.result[broken]
check("final state is Failed", type(final).__name__, "Failed")
check("failed result is the exception", isinstance(final.result, RuntimeError), True)
check("message mentions the error", "still broken" in (final.message or ""), True)

try:
    task(max_retries=2)(lambda: 1)
    check("max_retries without retry_delay", "no error", "ValueError")
except ValueError:
    check("max_retries without retry_delay", "ValueError", "ValueError")

sys.exit(1 if FAILURES else 0)
