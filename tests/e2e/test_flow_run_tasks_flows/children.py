"""Child flows started by the flow-of-flows end-to-end tests."""

import logging
import time

from headwater import Flow, Parameter, task

logger = logging.getLogger("headwater.e2e.child")


@task
def square(x: int) -> int:
    logger.info("squaring %s", x)
    logger.warning("second line for %s", x)
    return x * x


@task
def each(x: int) -> int:
    return x * 10


@task
def boom() -> None:
    raise RuntimeError("child exploded")


@task
def nap(seconds: float) -> str:
    logger.info("napping %s", seconds)
    time.sleep(seconds)
    logger.warning("woke after %s", seconds)
    return "rested"


@task(checkpoint=False)
def unsaved() -> int:
    return 7


with Flow("fof-child") as child:
    square(Parameter("x", default=2), task_args={"slug": "square-result"})

with Flow("fof-mapped") as mapped:
    each.map(Parameter("xs", default=[1, 2, 3]), task_args={"slug": "each"})

with Flow("fof-fail") as fail:
    boom(task_args={"slug": "boom"})

with Flow("fof-sleepy") as sleepy:
    nap(Parameter("seconds", default=60), task_args={"slug": "nap"})

with Flow("fof-unsaved") as no_result:
    unsaved(task_args={"slug": "unsaved"})

FLOWS = [child, mapped, fail, sleepy, no_result]
