"""One trivial task mapped over ``n`` inputs (default 1,000): per-task tracking cost."""

from headwater import Flow, Parameter, task


@task
def numbers(n: int) -> list[int]:
    return list(range(n))


@task
def inc(x: int) -> int:
    return x + 1


with Flow("bench-map-many") as flow:
    inc.map(numbers(Parameter("n", default=1000)))
