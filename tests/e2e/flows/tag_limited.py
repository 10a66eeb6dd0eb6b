"""Ten mapped task runs tagged "e2e-db", six worker threads: the tag's limit decides."""

import time

from headwater import Flow, Parameter, task, unmapped
from headwater.executors import LocalDaskExecutor


@task(tags=["e2e-db"])
def query(x: int, seconds: float) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)
    return x * 10


@task
def total(values: list[int]) -> int:
    return sum(values)


with Flow(
    "e2e-tag-limited", executor=LocalDaskExecutor(scheduler="threads", num_workers=6)
) as flow:
    seconds = Parameter("seconds", default=0.4)
    total(query.map(list(range(10)), seconds=unmapped(seconds)))
