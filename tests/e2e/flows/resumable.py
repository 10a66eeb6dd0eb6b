"""A parent flow for resumption tests: a counted first task, a child run, a last task.

``mode`` decides what the last task does on its first execution: ``fail-once`` raises,
``hang-once`` loops until its process is killed; later executions succeed. Every task
appends to a file in ``log_dir`` each time it really runs, so a test can count them.
"""

import os
import time
from pathlib import Path

from headwater import Flow, Parameter, task
from headwater.tasks.headwater import create_flow_run


def _count(log_dir: str, name: str) -> int:
    path = Path(log_dir) / f"{name}.count"
    with path.open("a") as handle:
        handle.write("x")
    return len(path.read_text())


@task
def prepare(log_dir: str) -> int:
    _count(log_dir, "prepare")
    return 21


@task
def finish(value: int, child_id: str, mode: str, log_dir: str) -> int:
    attempt = _count(log_dir, "finish")
    (Path(log_dir) / "finish.pid").write_text(str(os.getpid()))
    if attempt == 1 and mode == "fail-once":
        raise ValueError("failing on the first attempt, as asked")
    if attempt == 1 and mode == "hang-once":
        while True:
            time.sleep(0.05)
    return value * 2


@task
def child_task() -> str:
    return "child done"


with Flow("e2e-resumable-child") as child:
    child_task()

with Flow("e2e-resumable") as flow:
    log_dir = Parameter("log_dir")
    mode = Parameter("mode", default="")
    value = prepare(log_dir)
    child_id = create_flow_run(flow_name="e2e-resumable-child", project_name="e2e")
    finish(value, child_id, mode, log_dir)

FLOWS = [child, flow]
