# Ported from Prefect 1: docs/orchestration/getting-started/registering-and-running-a-flow.md
# (PrefectHQ/prefect at 1.4.1); only `prefect` renamed to `headwater`. Needs a server and an
# agent (HEADWATER_API_URL) and the project "tutorial" (`headwater create project tutorial`).
import headwater
from headwater import Flow, task


@task
def say_hello():
    logger = headwater.context.get("logger")
    logger.info("Hello, Cloud!")


with Flow("hello-flow") as flow:
    say_hello()

# Register the flow under the "tutorial" project
flow.register(project_name="tutorial")

# --- checks (not in the source): the docs' "Quick Run", executed by the agent ---
from _checks import check, finish, logged, newest_flow, run_on_agent  # noqa: E402

registered = newest_flow("hello-flow", "tutorial")
check("stored as a pickle", registered.storage["flows"]["hello-flow"]["kind"], "pickle")
view = run_on_agent(registered.flow_id)
check("the run succeeded on the agent", view.state.is_successful(), True)
check("the task's log line reached the server", logged(view, "Hello, Cloud!"), True)
finish()
