"""A flow whose task kills its own process after writing to stderr."""

import os
import sys

from headwater import Flow, task


@task
def crash() -> None:
    print("about to vanish: simulated fatal error", file=sys.stderr, flush=True)
    os._exit(3)


with Flow("e2e-crash") as flow:
    crash()
