"""Registration mistakes and the exceptions Prefect 1 programs caught for them.

Needs a server (HEADWATER_API_URL).
"""

import sys

from headwater import Client, Flow, task
from headwater.exceptions import ClientError

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


PROJECT = "compat-register-errors"


@task
def noop():
    return None


with Flow("compat-errors") as flow:
    noop()


client = Client()
client.create_project(project_name=PROJECT)
try:
    client.create_project(project_name=PROJECT)
    check("duplicate project raises ClientError", "no error", "ClientError")
except ClientError:
    check("duplicate project raises ClientError", "ClientError", "ClientError")

try:
    flow.register(project_name="compat-no-such-project")
    check("unknown project raises ValueError", "no error", "ValueError")
except ValueError as exc:
    check("unknown project raises ValueError", "ValueError", "ValueError")
    check("... naming the project", "compat-no-such-project" in str(exc), True)
except Exception as exc:
    check("unknown project raises ValueError", type(exc).__name__, "ValueError")

try:
    flow.register()
    check("missing project_name raises TypeError", "no error", "TypeError")
except TypeError:
    check("missing project_name raises TypeError", "TypeError", "TypeError")
except Exception as exc:
    check("missing project_name raises TypeError", type(exc).__name__, "TypeError")

check(
    "registering into the project works",
    isinstance(flow.register(project_name=PROJECT), str),
    True,
)

sys.exit(1 if FAILURES else 0)
