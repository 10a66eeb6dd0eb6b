"""Task subclasses with run(), init-time defaults and defaults_from_attrs."""

import sys

from headwater import Flow, Parameter, Task
from headwater.tasks.core.function import FunctionTask
from headwater.utilities.tasks import defaults_from_attrs

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


class AddTask(Task):
    def __init__(self, default=0, **kwargs):
        self.default = default
        super().__init__(**kwargs)

    @defaults_from_attrs("default")
    def run(self, x, default=None):
        return x + default


class Greet(Task):
    def __init__(self, greeting="Hello", **kwargs):
        self.greeting = greeting
        super().__init__(**kwargs)

    def run(self, name):
        self.logger.info("greeting %s", name)
        return f"{self.greeting}, {name}!"


def shout(word):
    return word.upper()


add_ten = AddTask(default=10, name="add ten")
shout_task = FunctionTask(shout, name="Shout")
greet = Greet(greeting="Hi")

with Flow("subclasses") as flow:
    x = Parameter("x", default=1)
    a = add_ten(x)
    b = add_ten(x, default=100)
    g = greet(name="world")
    g2 = Greet()(name="there")
    loud = shout_task(g)


state = flow.run()
check("flow succeeded", state.is_successful(), True)
check("init-time default used", state.result[a].result, 11)
check("run-time argument wins", state.result[b].result, 101)
check("subclass attribute", state.result[g].result, "Hi, world!")
check("default init", state.result[g2].result, "Hello, there!")
check("two calls make two tasks", a is not b, True)
check("bound copies keep the name", (a.name, b.name), ("add ten", "add ten"))
check("class name is the default name", Greet().name, "Greet")
check("direct run()", AddTask(default=5).run(1), 6)
check("direct run() override", AddTask(default=5).run(1, default=2), 3)
check("FunctionTask", (state.result[loud].result, loud.name), ("HI, WORLD!", "Shout"))
check("tasks in flow", len(flow.tasks), 6)

try:

    class Collect(Task):
        def run(self, *values):
            return values

    Collect()
    check("*args in run() rejected", "no error", "ValueError")
except ValueError:
    check("*args in run() rejected", True, True)

sys.exit(1 if FAILURES else 0)
