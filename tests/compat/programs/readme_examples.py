"""Prefect 1's README examples, renamed: parameters passed to flow.run as keywords."""

import sys

from headwater import Flow, Parameter, task


@task(log_stdout=True)
def say_hello(name):
    print("Hello, {}!".format(name))  # noqa: UP032 (the README's own spelling)


with Flow("My First Flow") as flow:
    name = Parameter("name")
    say_hello(name)


first = flow.run(name="world")  # "Hello, world!"
second = flow.run(name="Marvin")  # "Hello, Marvin!"
ok = first.is_successful() and second.is_successful()
print(("ok   " if ok else "FAIL ") + "README flow runs succeeded")
sys.exit(0 if ok else 1)
