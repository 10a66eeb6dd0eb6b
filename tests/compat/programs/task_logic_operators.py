"""Boolean task operators (not_, or_, &, is_not_equal) and | as a state dependency."""

import sys

from headwater import Flow, task

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


ORDER = []


@task
def yes():
    return True


@task
def no():
    return False


@task
def step(name):
    ORDER.append(name)
    return name


with Flow("logic") as flow:
    y, n = yes(), no()
    negated = y.not_()
    either = n.or_(y)
    both = y & n
    different = y.is_not_equal(n)
    first = step("first")
    second = step("second")
    first | second


state = flow.run()
check("flow succeeded", state.is_successful(), True)
check("not_", state.result[negated].result, False)
check("or_", state.result[either].result, True)
check("&", state.result[both].result, False)
check("is_not_equal", state.result[different].result, True)
check("| makes a state dependency", flow.upstream_tasks(second), {first})
check(
    "... without passing data",
    [e.key for e in flow.edges_to(second) if e.upstream_task is first],
    [None],
)
check("order", ORDER, ["first", "second"])

sys.exit(1 if FAILURES else 0)
