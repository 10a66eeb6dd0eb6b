"""nout unpacking, task operators, task.copy, task_args and collections."""

import sys

from headwater import Flow, Task, task

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


@task(nout=2)
def split():
    return 1, 2


@task(nout=2)
def pair():
    return 3, "x"


@task
def numbers():
    return [10, 20, 30]


@task
def config():
    return {"key": "value"}


@task
def add(x, y):
    return x + y


@task
def total(values):
    return sum(values)


@task
def describe(d):
    return sorted(d.items())


@task
def single():
    return 5


class Double(Task):
    def run(self, x):
        return 2 * x


double = Double(name="double")
double_again = double.copy(name="double again")

with Flow("operators") as flow:
    a, b = split()
    c, d = pair()
    s = a + b
    item = numbers()[1]
    key = config()["key"]
    product = a * 10
    difference = c - a
    quotient = numbers()[2] / 3
    reverse = 100 + a
    greater = c > a
    equal = a.is_equal(1)
    named = add(a, b, task_args={"name": "custom add"})
    listed = total([a, b, c])
    dicted = describe({"first": a, "second": "constant"})
    dd = double(a)
    dd2 = double_again(b)


state = flow.run()
check("flow succeeded", state.is_successful(), True)
check("nout unpacking", (state.result[a].result, state.result[b].result), (1, 2))
check("second nout unpacking", (state.result[c].result, state.result[d].result), (3, "x"))
check("addition", state.result[s].result, 3)
check("getitem on a list", state.result[item].result, 20)
check("getitem on a dict", state.result[key].result, "value")
check("multiplication", state.result[product].result, 10)
check("subtraction", state.result[difference].result, 2)
check("division", state.result[quotient].result, 10.0)
check("reverse addition", state.result[reverse].result, 101)
check("comparison", state.result[greater].result, True)
check("is_equal", state.result[equal].result, True)
check("task_args name", named.name, "custom add")
check("task_args result", state.result[named].result, 3)
check("list of tasks", state.result[listed].result, 6)
check("dict of tasks", state.result[dicted].result, [("first", 1), ("second", "constant")])
check(
    "copy is another task",
    (double_again is not double, double_again.name),
    (True, "double again"),
)
check("copy keeps behaviour", (state.result[dd].result, state.result[dd2].result), (2, 4))
check("get_tasks finds the named copy", len(flow.get_tasks(name="double again")), 1)

try:
    with Flow("bad-unpack"):
        x, y = single()
    check("unpacking without nout", "no error", "TypeError")
except TypeError:
    check("unpacking without nout", "TypeError", "TypeError")

sys.exit(1 if FAILURES else 0)
