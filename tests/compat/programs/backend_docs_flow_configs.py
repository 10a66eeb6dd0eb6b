# Ported from Prefect 1: docs/orchestration/getting-started/flow-configs.md (first example)
# (PrefectHQ/prefect at 1.4.1); only `prefect` renamed to `headwater`. Needs a server and an
# agent (HEADWATER_API_URL) and the project "tutorial".
import os

import headwater
from headwater import Flow, Parameter, task
from headwater.run_configs import LocalRun


@task
def say_hello(name):
    # Load the greeting to use from an environment variable
    greeting = os.environ.get("GREETING")
    logger = headwater.context.get("logger")
    logger.info(f"{greeting}, {name}!")


with Flow("hello-flow") as flow:
    people = Parameter("people", default=["Arthur", "Ford", "Marvin"])
    say_hello.map(people)

# Configure the `GREETING` environment variable for this flow
flow.run_config = LocalRun(env={"GREETING": "Hello"})

# Register the flow under the "tutorial" project
flow.register(project_name="tutorial")

# --- checks (not in the source) ---
from _checks import check, finish, log_messages, logged, newest_flow, run_on_agent  # noqa: E402

registered = newest_flow("hello-flow", "tutorial")
check("run config kept", registered.run_config["env"], {"GREETING": "Hello"})
view = run_on_agent(registered.flow_id)
check("the run succeeded on the agent", view.state.is_successful(), True)
messages = log_messages(view, "Hello, Marvin!")
for person in ["Arthur", "Ford", "Marvin"]:
    check(f"greeting for {person} from the run config's env", f"Hello, {person}!" in messages, True)
view = run_on_agent(registered.flow_id, parameters={"people": ["Trillian"]})
check("a run with other parameters", logged(view, "Hello, Trillian!"), True)
finish()
