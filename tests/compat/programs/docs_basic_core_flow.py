# Ported from Prefect 1: docs/core/getting_started/basic-core-flow.md
# (PrefectHQ/prefect at 1.4.1); only `prefect` renamed to `headwater`.
import headwater
from headwater import Flow, task


@task
def hello_task():
    logger = headwater.context.get("logger")
    logger.info("Hello world!")


with Flow("hello-flow") as flow:
    hello_task()

flow.run()

# --- checks (not in the source) ---
from _checks import check, finish  # noqa: E402

check("the flow ran to success", flow.run().is_successful(), True)
finish()
