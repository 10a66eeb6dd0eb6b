"""A flow registered under the same name in two projects (ambiguity tests)."""

from headwater import Flow, task


@task
def hello() -> str:
    return "hello"


with Flow("fof-twin") as twin:
    hello()

FLOWS = [twin]
