"""Eager edge validation: add_edge(validate=True) refuses an edge that closes a cycle."""

import sys

from headwater import Flow, Task

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


class Step(Task):
    def run(self):
        return self.name


flow = Flow("validated")
a, b, c = Step(name="a"), Step(name="b"), Step(name="c")
flow.add_edge(a, b, validate=True)
flow.add_edge(b, c, validate=True)
try:
    flow.add_edge(c, a, validate=True)
    check("cycle refused by add_edge", "no error", "ValueError")
except ValueError:
    check("cycle refused by add_edge", "ValueError", "ValueError")
check("flow still runs", flow.run().result[c].result, "c")

sys.exit(1 if FAILURES else 0)
