"""A parent flow that starts one child run per number and waits for them."""

from headwater import Flow, Parameter, task
from headwater.tasks.headwater import StartFlowRun


@task
def child_parameters(n: int) -> list[dict[str, int]]:
    return [{"x": i} for i in range(n)]


start_child = StartFlowRun(flow_name="ui-child", project_name="ui", wait=True)

with Flow("ui-parent") as flow:
    start_child.map(parameters=child_parameters(Parameter("n", default=3)))
