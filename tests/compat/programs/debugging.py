"""Unit-testing idioms: raise_on_exception, set_temporary_config, task.run() and flow.run()."""

import os
import sys
import tempfile

from headwater import Flow, task
from headwater.engine.results import LocalResult
from headwater.utilities.configuration import set_temporary_config
from headwater.utilities.debug import raise_on_exception

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


@task
def divide(x, y):
    return x / y


RESULT_DIR = tempfile.mkdtemp()


@task(result=LocalResult(dir=RESULT_DIR, location="answer.pkl"))
def answer():
    return 42


with Flow("checkpointed") as checkpointed:
    answer()

with Flow("debugging") as flow:
    result = divide(1, 0)


check("task.run() in a unit test", divide.run(6, 3), 2.0)
state = flow.run()
check("without the helper the flow fails", state.is_failed(), True)
try:
    with raise_on_exception():
        flow.run()
    check("raise_on_exception re-raises", "no error", "ZeroDivisionError")
except ZeroDivisionError:
    check("raise_on_exception re-raises", "ZeroDivisionError", "ZeroDivisionError")

checkpointed.run()
check("no checkpoint by default", os.path.exists(os.path.join(RESULT_DIR, "answer.pkl")), False)
with set_temporary_config({"flows.checkpointing": True}):
    checkpointed.run()
check(
    "set_temporary_config turns checkpointing on",
    os.path.exists(os.path.join(RESULT_DIR, "answer.pkl")),
    True,
)

sys.exit(1 if FAILURES else 0)
