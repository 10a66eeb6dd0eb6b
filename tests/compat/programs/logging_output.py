"""Logging: get_logger, the context logger, Task.logger and log_stdout."""

import logging
import sys

import headwater
from headwater import Flow, Task, task
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
def with_context_logger():
    logger = headwater.context.get("logger")
    logger.info("processing %d rows", 3)


@task(log_stdout=True)
def printer():
    print("printed line")


class Custom(Task):
    def run(self):
        self.logger.warning("custom warn")


with Flow("logging") as flow:
    with_context_logger()
    printer()
    Custom()()


def messages():
    return [r.getMessage() for r in RECORDS]


if __name__ == "__main__":
    check("root logger name", get_logger().name, "headwater")
    check("child logger name", get_logger("mymodule").name, "headwater.mymodule")

    state = flow.run()
    check("flow succeeded", state.is_successful(), True)
    check("context logger message", "processing 3 rows" in messages(), True)
    record = next(r for r in RECORDS if r.getMessage() == "processing 3 rows")
    check("context logger is the task's logger", record.name, "headwater.with_context_logger")
    check("log_stdout captured print", "printed line" in messages(), True)
    warn = next((r for r in RECORDS if r.getMessage() == "custom warn"), None)
    check("Task.logger warning", warn is not None and warn.levelname, "WARNING")

    sys.exit(1 if FAILURES else 0)
