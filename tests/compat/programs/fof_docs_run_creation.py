# Ported from Prefect 1: docs/orchestration/flow-runs/creation.md ("Flow run tasks") and
# docs/orchestration/flow-runs/inspection.md, with the "hello-world" flow of
# src/prefect/hello_world.py (PrefectHQ/prefect at 1.4.1); only `prefect` renamed to
# `headwater`. The hello-world flow is registered at module level in the project "default"
# (the source registers it with `prefect register --project default -m prefect.hello_world`).
# Needs a server and an agent.
from headwater import Flow, Parameter, task
from headwater.tasks.headwater import create_flow_run, wait_for_flow_run


@task(log_stdout=True)
def say_hello(to: str) -> None:
    print(f"Hello {to}")


@task()
def capitalize(word: str) -> str:
    return word.capitalize()


with Flow("hello-world") as hello_flow:
    name = Parameter("name", default="world")
    say_hello(capitalize(name))

hello_flow.register(project_name="default")

with Flow("parent-flow") as flow:
    # Create the child flow run, look up the flow by name
    child_run_id = create_flow_run(flow_name="hello-world")

    # Wait for the flow run to complete before considering this flow run done
    # This is optional, this flow could exit and leave the other one running
    wait_for_flow_run(child_run_id)

state = flow.run()

# --- checks (not in the source): inspecting the child as inspection.md does ---
from _checks import check, finish, logged  # noqa: E402

from headwater.backend import FlowRunView  # noqa: E402

check("the parent ran", state.is_successful(), True)
flow_run = FlowRunView.from_flow_run_id(state.result[child_run_id].result)
check("flow_run.state.is_finished()", flow_run.state.is_finished(), True)
check("flow_run.state.is_running()", flow_run.state.is_running(), False)
check("the child succeeded", flow_run.state.is_successful(), True)
check("get_flow_metadata().name", flow_run.get_flow_metadata().name, "hello-world")
check("get_flow_metadata().project_name", flow_run.get_flow_metadata().project_name, "default")
task_run = flow_run.get_task_run(task_slug="say_hello-1")
check("get_task_run(task_slug='say_hello-1')", task_run.state.is_successful(), True)
check("get_task_run_ids()", len(flow_run.get_task_run_ids()), 3)
check("the child's output in its logs", logged(flow_run, "Hello World"), True)
finish()
