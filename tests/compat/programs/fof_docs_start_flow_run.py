# Ported from Prefect 1: docs/core/idioms/flow-to-flow.md, "Running a parametrized flow"
# with StartFlowRun (PrefectHQ/prefect, commit 9d362b2e31, Prefect 0.15); only `prefect`
# renamed to `headwater`. The docs assume a flow "example" registered in the project
# "examples": this script registers it first, at module level. Needs a server and an agent.
from headwater import Flow, Parameter, task
from headwater.tasks.headwater import StartFlowRun


# (the child the docs assume: not in the source)
@task
def double(value):
    return value * 2


with Flow("example") as example:
    double(Parameter("param-key"))

example_id = example.register(project_name="examples")


@task
def extract_some_data():
    return {"param-key": "some-random-piece-of-data"}


# assumes you have registered a flow named "example" in a project named "examples"
flow_run = StartFlowRun(flow_name="example", project_name="examples")

with Flow("parent-flow") as flow:
    flow_run(parameters=extract_some_data)

state = flow.run()

# --- checks (not in the source) ---
from _checks import check, finish, wait_finished  # noqa: E402

from headwater import Client  # noqa: E402

check("the parent ran", state.is_successful(), True)
(child_id,) = [s.result for t, s in state.result.items() if isinstance(t, StartFlowRun)]
child = wait_finished(child_id)
check("the child ran on the agent", child.state.is_successful(), True)
check("its flow is the version registered here", child.flow_id, example_id)
check(
    "the child's result",
    child.get_task_run(task_slug="double-1").get_result(),
    "some-random-piece-of-data" * 2,
)
versions = Client().query_flows(name="example", project_name="examples")
check("the child run did not register the script again", versions[0]["id"], example_id)
finish()
