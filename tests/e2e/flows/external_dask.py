"""A mapped task on a Dask cluster the flow-run process only connects to.

The worker knows nothing of the server: task-run states, results and log records reach it
through the worker set-up the flow-run process sends along.
"""

import os

import headwater
from headwater import Flow, task
from headwater.executors import DaskExecutor

ADDRESS = os.environ.get("E2E_DASK_ADDRESS", "tcp://127.0.0.1:1")


@task
def hello(x: int) -> int:
    headwater.context.get("logger").info("hello from a dask worker: %d", x)
    return 2 * x


with Flow("e2e-external-dask", executor=DaskExecutor(address=ADDRESS)) as flow:
    hello.map([1, 2])
