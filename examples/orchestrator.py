"""An orchestrator flow: fan out to child flow runs, wait for them, combine their results.

For every number it starts a run of the ``square`` flow (``create_flow_run`` mapped over
the inputs: one child per number, exactly once even if the task is retried), waits for
each child while re-logging its states and logs (``wait_for_flow_run``), reads each
child's ``square-result`` through the server (``get_task_run_result``) and adds them up.

Register it with ``python examples/orchestrator.py`` after the child flows, or let
``headwater demo`` do everything.
"""

from __future__ import annotations

from typing import Any

from headwater import Flow, Parameter, task, unmapped
from headwater.tasks.headwater import create_flow_run, get_task_run_result, wait_for_flow_run


@task
def child_parameters(number: int) -> dict[str, Any]:
    """Turn one input into the parameters of one ``square`` run."""
    return {"x": number}


@task
def add_up(squares: list[int]) -> int:
    """Combine the children's results."""
    return sum(squares)


with Flow("orchestrator") as orchestrator_flow:
    numbers = Parameter("numbers", default=[1, 2, 3, 4])
    child_ids = create_flow_run.map(
        flow_name=unmapped("square"),
        project_name=unmapped("examples"),
        parameters=child_parameters.map(numbers),
    )
    finished = wait_for_flow_run.map(
        child_ids, stream_logs=unmapped(True), raise_final_state=unmapped(True)
    )
    squares = get_task_run_result.map(
        child_ids, task_slug=unmapped("square-result"), upstream_tasks=[finished]
    )
    total = add_up(squares, task_args={"slug": "total"})

FLOWS = [orchestrator_flow]

if __name__ == "__main__":
    orchestrator_flow.register(project_name="examples")
