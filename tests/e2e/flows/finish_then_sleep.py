"""A quick task, then a sleeping one that writes a marker file (with its pid) first."""

import os
import time
from pathlib import Path

from headwater import Flow, Parameter, task


@task
def quick() -> int:
    return 1


@task
def nap(value: int, marker: str) -> int:
    Path(marker).write_text(str(os.getpid()))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.05)
    return value


with Flow("e2e-finish-then-sleep") as flow:
    nap(quick(), Parameter("marker", default=""))
