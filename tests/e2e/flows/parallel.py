"""A mapped task run by a process pool: task runs, results and logs are recorded from workers."""

import os

import headwater
from headwater import Flow, task
from headwater.executors import LocalDaskExecutor


@task
def items() -> list[int]:
    return [1, 2, 3, 4]


@task
def square(x: int) -> tuple[int, int]:
    headwater.context.get("logger").info("squaring %d in a worker process", x)
    return x * x, os.getpid()


with Flow("e2e-parallel", executor=LocalDaskExecutor(scheduler="processes", num_workers=2)) as flow:
    square.map(items())
