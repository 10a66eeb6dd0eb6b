"""A mapped task over many inputs, then a reduce: per-task tracking at scale."""

from headwater import Flow, Parameter, task


@task
def numbers(n: int) -> list[int]:
    return list(range(n))


@task
def inc(x: int) -> int:
    return x + 1


@task
def total(values: list[int]) -> int:
    return sum(values)


with Flow("e2e-wide-map") as flow:
    total(inc.map(numbers(Parameter("n", default=300))))
