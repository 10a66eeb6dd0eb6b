"""A small flow with a parameter, a mapped task, logs and a reduce step."""

import logging

import headwater
from headwater import Flow, Parameter, task

logger = logging.getLogger("headwater.e2e")


@task
def numbers(n: int) -> list[int]:
    logger.info("making %d numbers", n)
    return list(range(n))


@task
def double(x: int) -> int:
    return 2 * x


@task
def total(values: list[int]) -> int:
    logger.info("total of %s", values)
    return sum(values)


@task
def run_context() -> dict:
    ctx = headwater.context
    return {
        key: ctx.get(key)
        for key in (
            "running_with_backend",
            "flow_run_id",
            "flow_run_name",
            "task_run_id",
            "task_slug",
            "map_index",
            "task_run_count",
            "from_run_context",
        )
    }


with Flow("e2e-basic") as flow:
    n = Parameter("n", default=3)
    doubled = double.map(numbers(n))
    result = total(doubled)
    info = run_context()
