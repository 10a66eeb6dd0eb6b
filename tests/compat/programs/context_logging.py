"""headwater.context inside tasks (dates, names, parameters, map_index, custom keys) and logging:
get_logger, the context logger, Task.logger and log_stdout."""

import logging
import sys
from datetime import UTC, datetime, timedelta

import headwater
from headwater import Flow, Parameter, Task, task
from headwater.utilities.logging import get_logger

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


@task
def inspect(who):
    ctx = headwater.context
    logger = ctx.get("logger")
    logger.info("inspecting for %s", who)
    return {
        "today": ctx.today,
        "yesterday": ctx.yesterday,
        "tomorrow": ctx.tomorrow,
        "today_nodash": ctx.today_nodash,
        "date_is_datetime": isinstance(ctx.date, datetime),
        "flow_name": ctx.flow_name,
        "task_name": ctx.task_name,
        "task_full_name": ctx.task_full_name,
        "parameters": dict(ctx.parameters),
        "map_index": ctx.get("map_index"),
        "task_run_count": ctx.task_run_count,
        "flow_run_name": ctx.get("flow_run_name"),
        "custom": ctx.get("custom"),
        "logger": isinstance(logger, logging.Logger),
        "scheduled_start_time": isinstance(ctx.scheduled_start_time, datetime),
    }


@task
def mapped_names(x):
    return headwater.context.map_index, headwater.context.task_full_name


with Flow("context-demo") as flow:
    who = Parameter("who", default="nobody")
    info = inspect(who)
    names = mapped_names.map(["a", "b"])


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


with Flow("logging") as logging_flow:
    with_context_logger()
    printer()
    Custom()()


def messages():
    return [r.getMessage() for r in RECORDS]


now = datetime.now(UTC)
with headwater.context(custom=5):
    state = flow.run(parameters={"who": "ops"}, context={"flow_run_name": "nightly-load"})
check("flow succeeded", state.is_successful(), True)
got = state.result[info].result
check("today", got["today"], now.strftime("%Y-%m-%d"))
check("yesterday", got["yesterday"], (now - timedelta(days=1)).strftime("%Y-%m-%d"))
check("tomorrow", got["tomorrow"], (now + timedelta(days=1)).strftime("%Y-%m-%d"))
check("today_nodash", got["today_nodash"], now.strftime("%Y%m%d"))
check("date", got["date_is_datetime"], True)
check("flow_name", got["flow_name"], "context-demo")
check("task_name", got["task_name"], "inspect")
check("task_full_name", got["task_full_name"], "inspect")
check("parameters", got["parameters"], {"who": "ops"})
check("map_index unmapped", got["map_index"], None)
check("task_run_count", got["task_run_count"], 1)
check("flow_run_name from context", got["flow_run_name"], "nightly-load")
check("custom key", got["custom"], 5)
check("logger", got["logger"], True)
check("scheduled_start_time", got["scheduled_start_time"], True)
check("mapped names", state.result[names].result, [(0, "mapped_names[0]"), (1, "mapped_names[1]")])
check("context restored after the block", headwater.context.get("custom"), None)
state = flow.run(context={"today": "2000-01-01"})
check("context overrides a date for a backfill", state.result[info].result["today"], "2000-01-01")

check("root logger name", get_logger().name, "headwater")
check("child logger name", get_logger("mymodule").name, "headwater.mymodule")

state = logging_flow.run()
check("logging flow succeeded", state.is_successful(), True)
check("context logger message", "processing 3 rows" in messages(), True)
record = next(r for r in RECORDS if r.getMessage() == "processing 3 rows")
check("context logger named after the task", record.name, "headwater.with_context_logger")
check("log_stdout captured print", "printed line" in messages(), True)
warn = next((r for r in RECORDS if r.getMessage() == "custom warn"), None)
check("Task.logger warning", warn is not None and warn.levelname, "WARNING")

sys.exit(1 if FAILURES else 0)
