"""`run --path FILE`: run a flow from a file locally, without a server."""

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


HEADWATER = os.path.join(os.path.dirname(sys.executable), "headwater")

FLOW = """
from headwater import Flow, Parameter, task


@task(log_stdout=True)
def greet(name):
    print(f"hello {name} from a local run")


with Flow("compat-local-cli") as flow:
    greet(Parameter("name", default="world"))
"""


path = os.path.join(tempfile.mkdtemp(), "local_flow.py")
with open(path, "w") as handle:
    handle.write(FLOW)
done = subprocess.run(
    [HEADWATER, "run", "--path", path, "--param", "name=compat"],
    capture_output=True,
    text=True,
    timeout=120,
)
print(done.stdout + done.stderr)
check("run --path exits 0", done.returncode, 0)
check(
    "the flow ran with the parameter",
    "hello compat from a local run" in done.stdout + done.stderr,
    True,
)

sys.exit(1 if FAILURES else 0)
