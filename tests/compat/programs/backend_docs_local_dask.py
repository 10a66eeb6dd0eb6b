# Ported from Prefect 1: docs/orchestration/getting-started/flow-configs.md (second example,
# "Configure a Flow's executor") (PrefectHQ/prefect at 1.4.1); only `prefect` renamed to
# `headwater`. Needs a server and an agent (HEADWATER_API_URL) and the project "tutorial".
import os
import time

import headwater
from headwater import Flow, Parameter, task
from headwater.executors import LocalDaskExecutor
from headwater.run_configs import LocalRun


@task
def say_hello(name):
    # Add a sleep to simulate some long-running task
    time.sleep(10)
    # Load the greeting to use from an environment variable
    greeting = os.environ.get("GREETING")
    logger = headwater.context.get("logger")
    logger.info(f"{greeting}, {name}!")


with Flow("hello-flow") as flow:
    people = Parameter("people", default=["Arthur", "Ford", "Marvin"])
    say_hello.map(people)

# Configure the `GREETING` environment variable for this flow
flow.run_config = LocalRun(env={"GREETING": "Hello"})

# Use a `LocalDaskExecutor` to run this flow
# This will run tasks in a thread pool, allowing for parallel execution
flow.executor = LocalDaskExecutor()

# Register the flow under the "tutorial" project
flow.register(project_name="tutorial")

# --- checks (not in the source) ---
from _checks import check, finish, log_messages, newest_flow, run_on_agent  # noqa: E402

view = run_on_agent(newest_flow("hello-flow", "tutorial").flow_id)
check("the run succeeded on the agent", view.state.is_successful(), True)
messages = log_messages(view, "Hello, Marvin!")
check(
    "every mapped greeting logged",
    sorted(m for m in messages if m.startswith("Hello, ")),
    ["Hello, Arthur!", "Hello, Ford!", "Hello, Marvin!"],
)
mapped = view.get_task_run(task_slug="say_hello-1")
check("three mapped task runs", sorted(t.map_index for t in mapped.iter_mapped()), [0, 1, 2])
finish()
