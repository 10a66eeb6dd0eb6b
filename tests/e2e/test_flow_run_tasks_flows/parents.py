"""Parent flows for the flow-of-flows end-to-end tests; each is driven by parameters."""

from datetime import timedelta
from typing import Any

import headwater
from headwater import Flow, Parameter, task, unmapped
from headwater.tasks.headwater import (
    CancelFlowRun,
    RenameFlowRun,
    StartFlowRun,
    create_flow_run,
    get_task_run_result,
    wait_for_flow_run,
)


@task
def identity(value: Any) -> Any:
    return value


# Tests read results by slug; a slug given to the decorator gets "-copy" appended when the
# task is bound (Prefect 1's rule), so slugs are given where the task is bound.
def out(value: Any) -> Any:
    return identity(value, task_args={"slug": "out"})


def out2(value: Any) -> Any:
    return identity(value, task_args={"slug": "out2"})


@task
def delay(seconds: float | None) -> timedelta | None:
    return None if seconds is None else timedelta(seconds=seconds)


@task
def child_params(x: int) -> dict[str, int]:
    return {"x": x}


@task
def nap_for(seconds: float) -> dict[str, float]:
    return {"seconds": seconds}


@task
def total(values: list[int]) -> int:
    return sum(values)


@task
def state_of(view: Any) -> str:
    return type(view.state).__name__


@task(max_retries=2, retry_delay=timedelta(seconds=0))
def create_then_fail(flow_name: str, project_name: str) -> str:
    child_id = create_flow_run.run(flow_name=flow_name, project_name=project_name)
    if headwater.context.get("task_run_count", 1) < 2:
        raise RuntimeError(f"failing after creating {child_id}")
    return child_id


with Flow("fof-create") as create_parent:
    child_id = create_flow_run(
        flow_name=Parameter("flow_name", default="fof-child"),
        project_name=Parameter("project_name", default="fof"),
        parameters=Parameter("params", default=None, required=False),
        labels=Parameter("labels", default=None, required=False),
        run_name=Parameter("run_name", default=None, required=False),
        scheduled_start_time=delay(Parameter("delay_seconds", default=None, required=False)),
    )
    out(child_id)

with Flow("fof-create-by-id") as create_by_id:
    out(create_flow_run(flow_id=Parameter("flow_id")))

with Flow("fof-map") as map_parent:
    ids = create_flow_run.map(
        flow_name=unmapped("fof-child"),
        project_name=unmapped("fof"),
        parameters=child_params.map(Parameter("xs", default=[1, 2, 3])),
    )
    squares = get_task_run_result.map(ids, task_slug=unmapped("square-result"))
    out(ids)
    out2(total(squares))

with Flow("fof-retry") as retry_parent:
    out(create_then_fail("fof-child", "fof", task_args={"slug": "create-then-fail"}))

with Flow("fof-wait") as wait_parent:
    waited_id = create_flow_run(
        flow_name=Parameter("flow_name", default="fof-child"),
        project_name="fof",
        parameters=Parameter("params", default=None, required=False),
    )
    view = wait_for_flow_run(
        waited_id,
        stream_logs=Parameter("stream_logs", default=True),
        raise_final_state=Parameter("raise_final_state", default=False),
    )
    state_of(view, task_args={"slug": "state-of"})
    out(waited_id)

with Flow("fof-result") as result_parent:
    result_child = create_flow_run(
        flow_name=Parameter("flow_name", default="fof-child"),
        project_name="fof",
        parameters=Parameter("params", default=None, required=False),
    )
    out(
        get_task_run_result(
            result_child,
            task_slug=Parameter("slug", default="square-result"),
            map_index=Parameter("map_index", default=-1),
            timeout=Parameter("timeout", default=None, required=False),
        )
    )
    out2(result_child)

with Flow("fof-start") as start_parent:
    out(
        StartFlowRun(project_name="fof", parameters={"x": 3})(
            flow_name=Parameter("flow_name", default="fof-child"),
            project_name=Parameter("project_name", default="fof"),
        )
    )

with Flow("fof-start-wait") as start_wait_parent:
    out(
        StartFlowRun(wait=True, poll_interval=timedelta(seconds=3))(
            flow_name=Parameter("flow_name", default="fof-child"),
            parameters=Parameter("params", default=None, required=False),
        )
    )

with Flow("fof-start-wait-timeout") as start_timeout_parent:
    out(
        StartFlowRun(flow_name="fof-sleepy", project_name="fof", wait=True, wait_timeout=1.5)(
            parameters={"seconds": 30}
        )
    )

with Flow("fof-start-map") as start_map_parent:
    out(
        StartFlowRun(flow_name="fof-child", project_name="fof").map(
            parameters=child_params.map(Parameter("xs", default=[1, 2, 3]))
        )
    )

with Flow("fof-rename") as rename_parent:
    out(RenameFlowRun(flow_run_name="renamed-by-itself")())
    out2(
        RenameFlowRun()(
            flow_run_id=Parameter("other_id", default=None, required=False), flow_run_name="x"
        )
    )

with Flow("fof-cancel") as cancel_parent:
    later = create_flow_run(
        flow_name="fof-child", project_name="fof", scheduled_start_time=timedelta(hours=1)
    )
    out(CancelFlowRun()(flow_run_id=later))
    out2(later)


@task
def linger() -> None:
    # Keeps the run busy so that the cancellation, not the end of the flow, decides how
    # the run ends.
    import time

    time.sleep(30)


with Flow("fof-cancel-self") as cancel_self_parent:
    asked = CancelFlowRun()()
    out(asked)
    linger(upstream_tasks=[asked])

with Flow("fof-parent-of-sleepy") as sleepy_parent:
    sleepy_id = create_flow_run(
        flow_name="fof-sleepy",
        project_name="fof",
        parameters=nap_for(Parameter("seconds", default=60)),
    )
    wait_for_flow_run(sleepy_id, stream_states=False)

with Flow("fof-grandparent") as grandparent:
    middle = create_flow_run(flow_name="fof-map", project_name="fof", parameters={"xs": [1, 2]})
    wait_for_flow_run(middle, stream_states=False, raise_final_state=True)
    out(middle)

FLOWS = [
    grandparent,
    create_parent,
    create_by_id,
    map_parent,
    retry_parent,
    wait_parent,
    result_parent,
    start_parent,
    start_wait_parent,
    start_timeout_parent,
    start_map_parent,
    rename_parent,
    cancel_parent,
    cancel_self_parent,
    sleepy_parent,
]
