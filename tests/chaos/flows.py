"""Flows of the fault-injection suite.

Every task appends ``start <pid>`` and ``done <pid>`` lines to a file named after its flow
run and slug in the ``marks`` directory, and logs one ``chaos-log`` line, so the suite can
count how often each task really ran to its end, by which process, and whether its log
line reached the server.
"""

import os
import time
from datetime import timedelta
from pathlib import Path

import headwater
from headwater import Flow, Parameter, task
from headwater.tasks.headwater import StartFlowRun, create_flow_run


def _mark(marks: str, name: str, what: str) -> None:
    run_id = headwater.context.get("flow_run_id") or "local"
    with (Path(marks) / f"{run_id}.{name}").open("a") as handle:
        handle.write(f"{what} {os.getpid()}\n")


def _nap(seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.02)


@task
def step(index: int, seconds: float, marks: str, after: object = None) -> int:
    name = f"step-{index}"
    _mark(marks, name, "start")
    headwater.context.get("logger").info(
        "chaos-log %s %s", headwater.context.get("flow_run_id"), name
    )
    _nap(seconds)
    _mark(marks, name, "done")
    return index


with Flow("chaos-chain") as chain:
    seconds = Parameter("seconds", default=0.2)
    marks = Parameter("marks")
    first = step(1, seconds, marks)
    second = step(2, seconds, marks, after=first)
    step(3, seconds, marks, after=second)


@task(max_retries=2, retry_delay=timedelta(seconds=0))
def create_then_fail(marks: str, seconds: float) -> str:
    child = create_flow_run.run(
        flow_name="chaos-chain",
        project_name="chaos",
        parameters={"marks": marks, "seconds": seconds},
    )
    attempt = headwater.context.get("task_run_count") or 1
    _mark(marks, "create-then-fail", f"attempt-{attempt}")
    if attempt == 1:
        raise ValueError("failing the first attempt so the task is retried")
    return child


with Flow("chaos-parent-retry") as parent_retry:
    create_then_fail(Parameter("marks"), Parameter("seconds", default=0.1))


start_child = StartFlowRun(flow_name="chaos-chain", project_name="chaos", wait=True)

with Flow("chaos-parent") as parent:
    marks = Parameter("marks")
    seconds = Parameter("seconds", default=2.0)
    start_child(parameters={"marks": marks, "seconds": seconds})


start_children = StartFlowRun(flow_name="chaos-chain", project_name="chaos", wait=False)


@task
def child_parameters(marks: str, seconds: float) -> list[dict[str, object]]:
    return [{"marks": marks, "seconds": seconds} for _ in range(3)]


@task
def hold(children: list[str], seconds: float) -> None:
    _nap(seconds)


with Flow("chaos-fan-out") as fan_out:
    marks = Parameter("marks")
    seconds = Parameter("seconds", default=30.0)
    children = start_children.map(parameters=child_parameters(marks, seconds))
    hold(children, seconds)

FLOWS = [chain, parent_retry, parent, fan_out]
