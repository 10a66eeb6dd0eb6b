"""The command-line workflow: create a project, register a file, run and watch.

Needs a server and an agent (HEADWATER_API_URL).
"""

import os
import subprocess
import sys
import tempfile

from headwater.backend import FlowView

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


PROJECT = "compat-cli"
HEADWATER = os.path.join(os.path.dirname(sys.executable), "headwater")

FLOWS = """
from headwater import Flow, Parameter, task


@task(log_stdout=True)
def shout(word):
    print(word.upper())
    return word.upper()


@task
def explode():
    raise ValueError("cli failure")


with Flow("compat-cli-shout") as shout_flow:
    shout(Parameter("word", default="hi"))

with Flow("compat-cli-explode") as explode_flow:
    explode()
"""


def headwater(*args):
    done = subprocess.run([HEADWATER, *args], capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout + done.stderr


with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "cli_flows.py")
    with open(path, "w") as handle:
        handle.write(FLOWS)

    check("create project", headwater("create", "project", PROJECT)[0], 0)
    check(
        "create project --skip-if-exists",
        headwater("create", "project", PROJECT, "--skip-if-exists")[0],
        0,
    )
    code, out = headwater("register", "--project", PROJECT, "--path", path)
    check("register --path FILE", code, 0)
    registered = FlowView.from_flow_name("compat-cli-shout", project_name=PROJECT).flow_id
    print(out)
    code, out = headwater("register", "--project", PROJECT, "--path", path)
    check("register again", code, 0)
    check(
        "unchanged flow keeps its version",
        FlowView.from_flow_name("compat-cli-shout", project_name=PROJECT).flow_id,
        registered,
    )

    code, out = headwater(
        "run",
        "--name",
        "compat-cli-shout",
        "--project",
        PROJECT,
        "--param",
        "word=hello",
        "--watch",
    )
    print(out)
    check("run --watch succeeds", code, 0)
    check("watched logs include the task's output", "HELLO" in out, True)
    code, out = headwater("run", "--name", "compat-cli-explode", "--project", PROJECT, "--watch")
    print(out)
    check("run --watch of a failing flow exits non-zero", code != 0, True)

sys.exit(1 if FAILURES else 0)
