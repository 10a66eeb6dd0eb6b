"""Signals: FAIL, SKIP, SUCCESS, RETRY and LOOP with task_loop_result."""

import sys

import headwater
from headwater import Flow, task
from headwater.engine import signals
from headwater.engine.signals import LOOP
from headwater.triggers import all_finished

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


@task
def fail_it():
    raise signals.FAIL("custom failure")


@task
def skip_it():
    raise signals.SKIP("nothing to do")


@task
def after_skip(x):
    return "ran"


@task(trigger=all_finished, skip_on_upstream_skip=False)
def runs_anyway(x):
    return "cleanup ran"


@task
def succeed_early():
    raise signals.SUCCESS("done early", result=42)


ATTEMPTS = []


@task
def retry_once():
    ATTEMPTS.append(headwater.context.get("task_run_count"))
    if len(ATTEMPTS) == 1:
        raise signals.RETRY("try again")
    return "second time"


LOOP_COUNTS = []


@task
def fibonacci(n):
    LOOP_COUNTS.append(headwater.context.get("task_loop_count"))
    payload = headwater.context.get("task_loop_result", {"a": 0, "b": 1, "i": 0})
    if payload["i"] >= n:
        return payload["a"]
    raise LOOP(
        message=f"iteration {payload['i']}",
        result={"a": payload["b"], "b": payload["a"] + payload["b"], "i": payload["i"] + 1},
    )


@task
def count_to(n):
    reached = headwater.context.get("task_loop_result", 0)
    if reached >= n:
        return reached
    raise LOOP(result=reached + 1)


with Flow("signals") as flow:
    failed = fail_it()
    skipped = skip_it()
    after = after_skip(skipped)
    anyway = runs_anyway(skipped)
    early = succeed_early()
    retried = retry_once()
    fib = fibonacci(10)
    counted = count_to.map([1, 3])


state = flow.run()
check("flow failed because of FAIL", state.is_failed(), True)
check("FAIL gives Failed", type(state.result[failed]).__name__, "Failed")
check("FAIL message", state.result[failed].message, "custom failure")
check("SKIP gives Skipped", state.result[skipped].is_skipped(), True)
check("SKIP message", state.result[skipped].message, "nothing to do")
check("downstream of SKIP is skipped", state.result[after].is_skipped(), True)
check("skip_on_upstream_skip=False runs", state.result[anyway].result, "cleanup ran")
check("SUCCESS signal state", state.result[early].is_successful(), True)
check("SUCCESS signal result", state.result[early].result, 42)
check("RETRY reruns", state.result[retried].result, "second time")
check("RETRY attempts", len(ATTEMPTS), 2)
check("LOOP final state", type(state.result[fib]).__name__, "Success")
check("LOOP result", state.result[fib].result, 55)
check("LOOP in mapped children", state.result[counted].result, [1, 3])
check("iterations", len(LOOP_COUNTS), 11)
check("task_loop_count", LOOP_COUNTS[1:], list(range(2, 12)))

sys.exit(1 if FAILURES else 0)
