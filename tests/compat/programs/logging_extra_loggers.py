"""Library loggers formatted like the run's own logs, through logging.extra_loggers set in
the environment as a Python list literal (as Prefect 1's logging guide showed)."""

import os

os.environ["HEADWATER__LOGGING__EXTRA_LOGGERS"] = "['mylib', 'other.lib']"

import logging
import sys

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


@task
def call_library():
    logging.getLogger("mylib").info("from mylib")
    logging.getLogger("other.lib.sub").warning("from a child of other.lib")


with Flow("extra-loggers") as flow:
    call_library()


check(
    "extra_loggers parsed as a list",
    headwater.config.logging.extra_loggers,
    ["mylib", "other.lib"],
)
check("flow succeeded", flow.run().is_successful(), True)

sys.exit(1 if FAILURES else 0)
