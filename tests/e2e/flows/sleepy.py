"""A flow whose one task sleeps, writing a marker file (with its pid) when it starts."""

import os
import time
from pathlib import Path

from headwater import Flow, Parameter, task


@task
def nap(seconds: float, marker: str) -> float:
    if marker:
        Path(marker).write_text(str(os.getpid()))
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)
    return seconds


with Flow("e2e-sleepy") as flow:
    nap(Parameter("seconds", default=30.0), Parameter("marker", default=""))
