"""resource_manager: set a resource up before the tasks that use it, clean it up after,
even when one of them fails."""

import sys

from headwater import Flow, resource_manager, task

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


CLEANED = []


@resource_manager
class Connection:
    def __init__(self, dsn):
        self.dsn = dsn

    def setup(self):
        return f"connection to {self.dsn}"

    def cleanup(self, connection):
        CLEANED.append(connection)


@task
def query(connection, sql):
    return f"{sql} via {connection}"


@task
def broken_query(connection):
    raise RuntimeError("query failed")


with Flow("resource-manager") as flow:
    with Connection("db://main") as conn:
        rows = query(conn, "select 1")

with Flow("resource-manager-failure") as failing:
    with Connection("db://other") as conn2:
        broken = broken_query(conn2)


state = flow.run()
check("flow succeeded", state.is_successful(), True)
check("task used the resource", state.result[rows].result, "select 1 via connection to db://main")
check("cleanup ran", CLEANED, ["connection to db://main"])

state = failing.run()
check("failing task failed", state.result[broken].is_failed(), True)
check("cleanup ran after a failure", CLEANED[-1], "connection to db://other")

sys.exit(1 if FAILURES else 0)
