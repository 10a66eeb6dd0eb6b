# Ported from Prefect 1: docs/core/idioms/flow-to-flow.md, "Running a parametrized flow"
# (PrefectHQ/prefect at 1.4.1); only `prefect` renamed to `headwater`. The docs assume a
# flow named "example" registered in the project "examples": this script registers it
# first, at module level, as a user would. Needs a server and an agent.
from headwater import Flow, Parameter, task
from headwater.tasks.headwater import create_flow_run


# (the child the docs assume: not in the source)
@task(log_stdout=True)
def use_the_data(value):
    print(f"example got {value}")
    return value


with Flow("example") as example:
    use_the_data(Parameter("param-key"))

example_id = example.register(project_name="examples")


@task
def extract_some_data():
    return "some-random-piece-of-data"


with Flow("parent-flow") as flow:
    data = extract_some_data()
    # assumes you have registered a flow named "example" in a project named "examples"
    flow_run = create_flow_run(
        flow_name="example", project_name="examples", parameters={"param-key": data}
    )

flow.run()

# --- checks (not in the source) ---
from _checks import check, finish, logged, wait_finished  # noqa: E402

from headwater import Client  # noqa: E402

state = flow.run()
check("the parent ran", state.is_successful(), True)
child_id = state.result[flow_run].result
child = wait_finished(child_id)
check("the child ran on the agent", child.state.is_successful(), True)
check("with the parent's data", child.parameters, {"param-key": "some-random-piece-of-data"})
check("the child's output", logged(child, "example got some-random-piece-of-data"), True)
check(
    "the child's task result",
    child.get_task_run(task_slug="use_the_data-1").get_result(),
    "some-random-piece-of-data",
)
# the two local parent runs made two children, and loading the child never re-ran the script
check("exactly two runs of the child", len(Client().query_flow_runs(flow_id=example_id)), 2)
finish()
