"""A child flow: squares its parameter, logging as it goes."""

import logging

from headwater import Flow, Parameter, task

logger = logging.getLogger("headwater.ui.child")


@task
def square(x: int) -> int:
    logger.info("squaring %s", x)
    return x * x


with Flow("ui-child") as flow:
    square(Parameter("x", default=2))
