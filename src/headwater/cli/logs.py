"""``headwater logs FLOW_RUN_ID``: print a flow run's logs, optionally following them."""

from __future__ import annotations

from typing import Any

import click

from headwater.cli._client import client_options, echo_json
from headwater.cli._watching import follow as follow_run
from headwater.cli._watching import format_log

__all__ = ["logs"]

_PAGE = 1000


@click.command()
@click.argument("flow_run_id")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new logs until the run ends.")
@click.option("--task-run-id", default=None, help="Only this task run's logs.")
@click.option("--json", "as_json", is_flag=True, help="Print the log records as JSON.")
@client_options
def logs(
    flow_run_id: str, follow: bool, task_run_id: str | None, as_json: bool, client: Any
) -> None:
    """Print the logs of the flow run FLOW_RUN_ID."""
    client.get_flow_run(flow_run_id)  # an unknown id is one clear error line
    if follow and not as_json and task_run_id is None:
        follow_run(client, flow_run_id, states=False, logs=True)
        return
    records: list[dict[str, Any]] = []
    after_id: int | None = None
    while True:
        page = client.get_logs(flow_run_id, task_run_id=task_run_id, limit=_PAGE, after_id=after_id)
        records.extend(page)
        if len(page) < _PAGE:
            break
        after_id = int(page[-1]["id"])
    if as_json:
        echo_json(records)
        return
    for record in records:
        click.echo(format_log(record))
