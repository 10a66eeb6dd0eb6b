"""ShellTask: run shell commands as tasks (last line or all lines, env, failures)."""

import sys

from headwater import Flow
from headwater.tasks.shell import ShellTask

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


shell = ShellTask()
shell_all = ShellTask(return_all=True, env={"GREETING": "hi"})

with Flow("shell") as flow:
    last = shell(command="echo first && echo second")
    every = shell_all(command='echo "$GREETING" && echo there')
    failing = shell(command="echo oops && exit 3")


state = flow.run()
check("flow failed because of the failing command", state.is_failed(), True)
check("last line by default", state.result[last].result, "second")
check("return_all and env", state.result[every].result, ["hi", "there"])
check("non-zero exit fails the task", state.result[failing].is_failed(), True)
check(
    "... with the exit code in the message",
    "exit code 3" in (state.result[failing].message or ""),
    True,
)

sys.exit(1 if FAILURES else 0)
