"""The smallest useful flow: one task returning a constant (latency benchmarks)."""

from headwater import Flow, task


@task
def one() -> int:
    return 1


with Flow("e2e-trivial") as flow:
    one()
