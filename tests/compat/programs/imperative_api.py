"""The imperative API: add_task, set_dependencies, add_edge with keys, set_upstream, chain."""

import sys

from headwater import Flow, Parameter, Task

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


class Extract(Task):
    def run(self):
        return [1, 2, 3]


class Multiply(Task):
    def run(self, data, factor):
        return [x * factor for x in data]


class Load(Task):
    def run(self, data):
        return sum(data)


class Double(Task):
    def run(self, x):
        return 2 * x


class Notify(Task):
    def run(self):
        return "notified"


class Step(Task):
    def run(self):
        return self.name


flow = Flow("imperative")
extract = Extract()
multiply = Multiply()
load = Load()
notify = Notify()
double = Double()
factor = Parameter("factor", default=2)

flow.add_task(extract)
flow.set_dependencies(task=multiply, keyword_tasks={"data": extract, "factor": factor})
flow.add_edge(multiply, load, key="data")
flow.add_edge(load, notify)
flow.set_dependencies(task=double, keyword_tasks={"x": extract}, mapped=True)
side = Step(name="side")
side.set_upstream(notify, flow=flow)
one, two, three = Step(name="one"), Step(name="two"), Step(name="three")
flow.chain(one, two, three)


state = flow.run()
check("flow succeeded", state.is_successful(), True)
check("multiply", state.result[multiply].result, [2, 4, 6])
check("load", state.result[load].result, 12)
check("mapped via set_dependencies", state.result[double].result, [2, 4, 6])
check("set_upstream ran", state.result[side].result, "side")
check("upstream of load", flow.upstream_tasks(load), {multiply})
check("downstream of extract", flow.downstream_tasks(extract), {multiply, double})
check("keys into multiply", {e.key for e in flow.edges_to(multiply)}, {"data", "factor"})
check("plain edge has no key", [e.key for e in flow.edges_to(notify)], [None])
check("mapped edge", [e.mapped for e in flow.edges_to(double)], [True])
check(
    "chain edges",
    {(e.upstream_task.name, e.downstream_task.name) for e in flow.edges_from(one)},
    {("one", "two")},
)
order = [t.name for t in flow.sorted_tasks() if t.name in {"one", "two", "three"}]
check("chain order", order, ["one", "two", "three"])
check("number of edges", len(flow.edges), 8)
check("get_tasks by name", flow.get_tasks(name="Multiply"), [multiply])
check("run with a parameter", flow.run(parameters={"factor": 10}).result[load].result, 60)

try:
    flow.add_edge(extract, load, key="data")
    check("duplicate key rejected", "no error", "ValueError")
except ValueError:
    check("duplicate key rejected", True, True)

try:
    flow.add_task("not a task")
    check("non-task rejected", "no error", "TypeError")
except TypeError:
    check("non-task rejected", True, True)

cyclic = Flow("cyclic")
x, y = Step(name="x"), Step(name="y")
cyclic.add_edge(x, y)
cyclic.add_edge(y, x)
try:
    cyclic.validate()
    check("cycle detected", "no error", "ValueError")
except ValueError:
    check("cycle detected", True, True)

sys.exit(1 if FAILURES else 0)
