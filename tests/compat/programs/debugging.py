"""Unit-testing idioms: raise_on_exception, task.run() and flow.run() in tests."""

import sys

from headwater.utilities.debug import raise_on_exception

from headwater import Flow, task

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


@task
def divide(x, y):
    return x / y


with Flow("debugging") as flow:
    result = divide(1, 0)


if __name__ == "__main__":
    check("task.run() in a unit test", divide.run(6, 3), 2.0)
    state = flow.run()
    check("without the helper the flow fails", state.is_failed(), True)
    try:
        with raise_on_exception():
            flow.run()
        check("raise_on_exception re-raises", "no error", "ZeroDivisionError")
    except ZeroDivisionError:
        check("raise_on_exception re-raises", "ZeroDivisionError", "ZeroDivisionError")

    sys.exit(1 if FAILURES else 0)
