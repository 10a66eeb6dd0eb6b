"""A flow that writes log lines for a while (one of them hostile HTML), or just sleeps."""

import logging
import time

from headwater import Flow, Parameter, task

logger = logging.getLogger("headwater.ui.chatty")


@task
def chatter(lines: int, pause: float) -> int:
    for i in range(lines):
        logger.info("chatty line %d of %d", i, lines)
        if i == 1:
            logger.warning("<script>alert('from a log line')</script>")
        time.sleep(pause)
    return lines


with Flow("ui-chatty") as flow:
    chatter(Parameter("lines", default=5), Parameter("pause", default=0.1))
