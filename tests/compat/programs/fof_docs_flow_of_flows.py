# Ported from Prefect 1: docs/core/idioms/flow-to-flow.md, "Scheduling a Flow-of-Flows"
# with StartFlowRun (PrefectHQ/prefect, commit 9d362b2e31, Prefect 0.15); `prefect` renamed
# to `headwater`, and `pendulum.now(tz="US/Eastern")` (which the docs use without importing
# pendulum) spelled with datetime and zoneinfo. The docs assume flows "A" to "D" registered
# in the project "examples": this script registers them first, at module level, and then
# the parent, whose run the agent executes. Needs a server and an agent.
import datetime
from zoneinfo import ZoneInfo

from headwater import Flow, task
from headwater.schedules import CronSchedule
from headwater.tasks.headwater import StartFlowRun


# (the four flows the docs assume: not in the source)
@task
def step(name):
    return name


for name in "ABCD":
    with Flow(name) as child:
        step(name)
    child.register(project_name="examples")


weekday_schedule = CronSchedule(
    "30 9 * * 1-5", start_date=datetime.datetime.now(tz=ZoneInfo("US/Eastern"))
)


# assumes you have registered the following flows in a project named "examples"
flow_a = StartFlowRun(flow_name="A", project_name="examples", wait=True)
flow_b = StartFlowRun(flow_name="B", project_name="examples", wait=True)
flow_c = StartFlowRun(flow_name="C", project_name="examples", wait=True)
flow_d = StartFlowRun(flow_name="D", project_name="examples", wait=True)

with Flow("parent-flow", schedule=weekday_schedule) as flow:
    b = flow_b(upstream_tasks=[flow_a])
    c = flow_c(upstream_tasks=[flow_a])
    d = flow_d(upstream_tasks=[b, c])

# (registering the parent, as the docs' schedule implies: not in the source)
parent_id = flow.register(project_name="examples")

# --- checks (not in the source): a run of the parent now, executed by the agent ---
from _checks import check, children_of, finish, run_on_agent  # noqa: E402

view = run_on_agent(parent_id, timeout=240)
check("the flow of flows succeeded", view.state.is_successful(), True)
children = children_of(view.flow_run_id)
check("one child run per flow", sorted(r["flow_name"] for r in children), ["A", "B", "C", "D"])
check("every child succeeded", {r["state_type"] for r in children}, {"Success"})
started = {r["flow_name"]: datetime.datetime.fromisoformat(r["start_time"]) for r in children}
ended = {r["flow_name"]: datetime.datetime.fromisoformat(r["end_time"]) for r in children}
check("B and C start after A ends", min(started["B"], started["C"]) >= ended["A"], True)
check("D starts after B and C end", started["D"] >= max(ended["B"], ended["C"]), True)
finish()
