"""A parent that creates ``n`` trivial children with create_flow_run.map and waits for all."""

from headwater import Flow, Parameter, task, unmapped
from headwater.tasks.headwater import create_flow_run, wait_for_flow_run


@task
def child_parameters(n: int) -> list[dict[str, object]]:
    return [{} for _ in range(n)]


with Flow("bench-fan-out-parent") as flow:
    ids = create_flow_run.map(
        flow_name=unmapped("bench-child"),
        project_name=unmapped("bench"),
        parameters=child_parameters(Parameter("n", default=100)),
    )
    wait_for_flow_run.map(ids, stream_states=unmapped(False))
