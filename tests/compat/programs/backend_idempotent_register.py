"""Idempotent registration keyed by the flow's serialized hash: running the registration
script again does not create a new version.

Needs a server (HEADWATER_API_URL).
"""

import subprocess
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


PROJECT = "compat-idempotent"


@task
def hello():
    return "hello"


with Flow("compat-hashed") as flow:
    hello()


def register():
    try:
        Client().create_project(project_name=PROJECT)
    except ClientError:
        pass  # created by the first run of this script
    print(flow.register(project_name=PROJECT, idempotency_key=flow.serialized_hash()))


if sys.argv[1:] == ["register"]:
    register()
    sys.exit(0)
check("hash is stable", flow.serialized_hash(), flow.serialized_hash())
runs = [
    subprocess.run([sys.executable, __file__, "register"], capture_output=True, text=True)
    for _ in range(2)
]
for run in runs:
    print(run.stdout, run.stderr)
ids = [run.stdout.strip().splitlines()[-1] if run.stdout.strip() else None for run in runs]
check("registration script succeeded twice", [run.returncode for run in runs], [0, 0])
check("same hash, same version", ids[0] == ids[1] and ids[0] is not None, True)

sys.exit(1 if FAILURES else 0)
