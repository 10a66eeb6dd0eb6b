"""Prefect 1's short command-line options: register -p PATH -f, run -n NAME -w.

Needs a server and an agent (HEADWATER_API_URL).
"""

import os
import subprocess
import sys
import tempfile

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


PROJECT = "compat-cli-short"
HEADWATER = os.path.join(os.path.dirname(sys.executable), "headwater")

FLOWS = """
from headwater import Flow, task


@task
def ping():
    return "pong"


with Flow("compat-cli-short") as flow:
    ping()
"""


def headwater(*args):
    done = subprocess.run([HEADWATER, *args], capture_output=True, text=True, timeout=120)
    print(done.stdout + done.stderr)
    return done.returncode


with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "short_flows.py")
    with open(path, "w") as handle:
        handle.write(FLOWS)
    check("create project", headwater("create", "project", PROJECT, "--skip-if-exists"), 0)
    check(
        "register --project P -p PATH",
        headwater("register", "--project", PROJECT, "-p", path),
        0,
    )
    check(
        "register -f forces a version",
        headwater("register", "--project", PROJECT, "-p", path, "-f"),
        0,
    )
    check(
        "run -n NAME --project P -w",
        headwater("run", "-n", "compat-cli-short", "--project", PROJECT, "-w"),
        0,
    )

sys.exit(1 if FAILURES else 0)
