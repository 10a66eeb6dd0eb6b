"""Ten mapped task runs tagged "e2e-db", six worker threads: the tag's limit decides."""

import time

from headwater import Flow, task
from headwater.executors import LocalDaskExecutor


@task(tags=["e2e-db"])
def query(x: int) -> int:
    time.sleep(0.4)
    return x * 10


@task
def total(values: list[int]) -> int:
    return sum(values)


with Flow(
    "e2e-tag-limited", executor=LocalDaskExecutor(scheduler="threads", num_workers=6)
) as flow:
    total(query.map(list(range(10))))
