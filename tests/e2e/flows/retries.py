"""A task that fails on its first attempt and succeeds on the retry."""

import datetime

import headwater
from headwater import Flow, task


@task(max_retries=2, retry_delay=datetime.timedelta(seconds=0))
def flaky() -> str:
    if headwater.context.get("task_run_count", 1) < 2:
        raise RuntimeError("first attempt fails")
    return str(headwater.context.get("task_run_id"))


with Flow("e2e-retries") as flow:
    flaky()
