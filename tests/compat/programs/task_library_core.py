"""Task Library pieces shipped in Prefect 1's core package: StringFormatter and the SQLite
tasks used by its tutorials."""

import os
import sys
import tempfile
from datetime import datetime, timezone

from headwater import Flow
from headwater.tasks.database.sqlite import SQLiteQuery, SQLiteScript
from headwater.tasks.templates import StringFormatter

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


DB = os.path.join(tempfile.mkdtemp(), "compat.db")

create = SQLiteScript(
    db=DB,
    script="CREATE TABLE pets (name TEXT, legs INT); INSERT INTO pets VALUES ('cat', 4), ('bird', 2);",
)
count_legs = SQLiteQuery(db=DB, query="SELECT SUM(legs) FROM pets")
greeting = StringFormatter(template="Hello {name}, today is {today}")

with Flow("task-library") as flow:
    created = create()
    legs = count_legs(upstream_tasks=[created])
    message = greeting(name="team")


state = flow.run()
check("flow succeeded", state.is_successful(), True)
check("SQLiteQuery returns rows", state.result[legs].result, [(6,)])
today = datetime.now(timezone.utc).strftime("%Y-%m-%d")  # noqa: UP017
check(
    "StringFormatter uses kwargs and context",
    state.result[message].result,
    f"Hello team, today is {today}",
)

sys.exit(1 if FAILURES else 0)
