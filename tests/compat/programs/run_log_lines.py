"""The runners' own log lines, which people grep for in run output."""

import logging
import sys

from headwater import Flow, task
from headwater.utilities.logging import get_logger

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


RECORDS = []


class Capture(logging.Handler):
    def emit(self, record):
        RECORDS.append(record)


get_logger().addHandler(Capture())


@task
def extract():
    return 1


@task
def broken(x):
    raise ValueError("nope")


with Flow("log-lines") as flow:
    extract()

with Flow("log-lines-failing") as failing:
    broken(extract())


def messages():
    return [r.getMessage() for r in RECORDS]


state = flow.run()
check("flow succeeded", state.is_successful(), True)
check("flow start line", "Beginning Flow run for 'log-lines'" in messages(), True)
check("task start line", "Task 'extract': Starting task run..." in messages(), True)
check(
    "task end line",
    "Task 'extract': Finished task run for task with final state: 'Success'" in messages(),
    True,
)
check("flow end line", "Flow run SUCCESS: all reference tasks succeeded" in messages(), True)
RECORDS.clear()
state = failing.run()
check("failing flow", state.message, "Some reference tasks failed.")
check("failed flow line", "Flow run FAILED: some reference tasks failed." in messages(), True)
check(
    "failed task line",
    "Task 'broken': Finished task run for task with final state: 'Failed'" in messages(),
    True,
)

sys.exit(1 if FAILURES else 0)
