"""Child flows for the flow-of-flows example.

``square`` squares one number; ``shout`` upper-cases a word and fails on an empty one.
Each result-producing task gets an explicit slug where it is bound (``task_args``) so a parent can read it with
``get_task_run_result(flow_run_id, task_slug=...)``.

Register them with ``python examples/child_flows.py`` (needs a running server and the
project ``examples``: ``headwater create project examples``).
"""

from __future__ import annotations

from headwater import Flow, Parameter, task


@task
def square(x: int) -> int:
    """Return ``x`` squared."""
    return x * x


@task
def shout(word: str) -> str:
    """Return ``word`` in capitals; an empty word fails the run."""
    if not word:
        raise ValueError("nothing to shout")
    return word.upper()


with Flow("square") as square_flow:
    square(Parameter("x", default=2), task_args={"slug": "square-result"})

with Flow("shout") as shout_flow:
    shout(Parameter("word", default="hello"), task_args={"slug": "shout-result"})

FLOWS = [square_flow, shout_flow]

if __name__ == "__main__":
    for flow in FLOWS:
        flow.register(project_name="examples")
