"""Task timeouts (seconds and timedelta) end in TimedOut without waiting for the task."""

import sys
import time
from datetime import timedelta

from headwater import Flow, task
from headwater.engine.state import TimedOut
from headwater.executors import LocalDaskExecutor

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


@task(timeout=1)
def slow():
    time.sleep(10)
    return "late"


@task(timeout=timedelta(seconds=1))
def slow_td():
    time.sleep(10)
    return "late"


RETRIED = []


@task(timeout=1, max_retries=1, retry_delay=timedelta(seconds=0))
def slow_retried():
    RETRIED.append(1)
    time.sleep(10)


@task(timeout=5)
def quick():
    return "fast"


@task
def after(x):
    return x


with Flow("timeouts") as flow:
    s = slow()
    s2 = slow_td()
    q = quick()
    sr = slow_retried()
    a = after(s)


start = time.monotonic()
state = flow.run()
elapsed = time.monotonic() - start
check("flow failed", state.is_failed(), True)
check("int timeout gives TimedOut", isinstance(state.result[s], TimedOut), True)
check("timedelta timeout gives TimedOut", isinstance(state.result[s2], TimedOut), True)
check("TimedOut is failed", state.result[s].is_failed(), True)
check("TimedOut is retried", (isinstance(state.result[sr], TimedOut), len(RETRIED)), (True, 2))
check("quick task unaffected", state.result[q].result, "fast")
check("downstream trigger-failed", type(state.result[a]).__name__, "TriggerFailed")
check("did not wait for the sleeps", elapsed < 15, True)

state = flow.run(executor=LocalDaskExecutor(num_workers=4))
check(
    "TimedOut on threads",
    (isinstance(state.result[s], TimedOut), isinstance(state.result[s2], TimedOut)),
    (True, True),
)

sys.exit(1 if FAILURES else 0)
