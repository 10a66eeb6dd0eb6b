"""Flow.save() and Flow.load(): a flow pickled to a file and run again from it."""

import os
import sys
import tempfile

from headwater import Flow, Parameter, task

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


@task
def scale(x, factor):
    return x * factor


with Flow("saved") as flow:
    factor = Parameter("factor", default=2)
    result = scale(21, factor)


path = flow.save(os.path.join(tempfile.mkdtemp(), "saved.flow"))
check("save returns the path", os.path.exists(path), True)
loaded = Flow.load(path)
check("loaded name", loaded.name, "saved")
check("loaded tasks", sorted(t.name for t in loaded.tasks), ["factor", "scale"])
state = loaded.run()
check("loaded flow runs", [s.result for t, s in state.result.items() if t.name == "scale"], [42])

sys.exit(1 if FAILURES else 0)
