"""Secrets: local secrets from configuration, HeadwaterSecret, EnvVarSecret and Secret.get()."""

import os

os.environ["HEADWATER__CONTEXT__SECRETS__DB_PASSWORD"] = "hunter2"
os.environ["API_TOKEN"] = "token-123"

import sys

import headwater
from headwater import Flow, task
from headwater.client import Secret
from headwater.tasks.secrets import EnvVarSecret, HeadwaterSecret

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


@task
def connect(password, token):
    return f"{password}/{token}"


with Flow("secrets") as flow:
    password = HeadwaterSecret("DB_PASSWORD")
    token = EnvVarSecret("API_TOKEN")
    connection = connect(password, token)


check("secret in context, case kept", headwater.context.secrets["DB_PASSWORD"], "hunter2")
check("Secret.get()", Secret("DB_PASSWORD").get(), "hunter2")
state = flow.run()
check("flow succeeded", state.is_successful(), True)
check("secret tasks", state.result[connection].result, "hunter2/token-123")
with headwater.context(secrets={"OTHER": "from-context"}):
    check("Secret from a context block", Secret("OTHER").get(), "from-context")
try:
    Secret("NOT_THERE").get()
    check("missing secret raises", "no error", "ValueError")
except ValueError:
    check("missing secret raises", "ValueError", "ValueError")

sys.exit(1 if FAILURES else 0)
