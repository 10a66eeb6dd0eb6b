# Ported from Prefect 1: src/prefect/hello_world.py and the runs its docstring shows
# (PrefectHQ/prefect at 1.4.1); only `prefect` renamed to `headwater`.
"""
A very basic 'hello-world' flow for getting started quickly
"""

from headwater import Flow, Parameter, task


@task(log_stdout=True)
def say_hello(to: str) -> None:
    print(f"Hello {to}")


@task()
def capitalize(word: str) -> str:
    return word.capitalize()


with Flow("hello-world") as hello_flow:
    name = Parameter("name", default="world")
    say_hello(capitalize(name))

# Run this flow locally
hello_flow.run()

# Run this flow with a different parameter than the default
hello_flow.run(name="marvin")

# --- checks (not in the source) ---
from _checks import check, finish  # noqa: E402

check("default parameter", hello_flow.run().is_successful(), True)
finish()
