"""A chain of 300 trivial tasks, each taking the previous one's result."""

from headwater import Flow, task

LENGTH = 300


@task
def step(x: int) -> int:
    return x + 1


with Flow("bench-chain") as flow:
    value = step(0)
    for _ in range(LENGTH - 1):
        value = step(value)
