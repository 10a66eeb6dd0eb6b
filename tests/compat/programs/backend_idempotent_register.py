"""Idempotent registration keyed by the flow's serialized hash.

Needs a server (HEADWATER_API_URL).
"""

import sys

from headwater import Client, Flow, task

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


PROJECT = "compat-idempotent"


@task
def hello():
    return "hello"


with Flow("compat-hashed") as flow:
    hello()


if __name__ == "__main__":
    Client().create_project(project_name=PROJECT)
    keyed = flow.register(project_name=PROJECT, idempotency_key=flow.serialized_hash())
    again = flow.register(project_name=PROJECT, idempotency_key=flow.serialized_hash())
    check("same hash, same version", keyed, again)
    check("hash is stable", flow.serialized_hash(), flow.serialized_hash())

    sys.exit(1 if FAILURES else 0)
