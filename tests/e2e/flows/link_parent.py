"""A parent flow starting e2e-trivial twice: StartFlowRun and create_flow_run, with links."""

from headwater import Flow
from headwater.tasks.headwater import StartFlowRun, create_flow_run

start = StartFlowRun(flow_name="e2e-trivial", project_name="e2e", wait=True)

with Flow("e2e-link-parent") as flow:
    start()
    create_flow_run(flow_name="e2e-trivial", project_name="e2e", create_link_artifact=True)
    create_flow_run(flow_name="e2e-trivial", project_name="e2e", task_args={"name": "no-link"})
