"""``headwater artifacts FLOW_RUN_ID``: list a flow run's artifacts."""

from __future__ import annotations

from typing import Any

import click

from headwater.cli._client import client_options, echo_json

__all__ = ["artifacts"]


@click.command()
@click.argument("flow_run_id")
@click.option("--task-run", "task_run_id", default=None, help="Only this task run's artifacts.")
@click.option("--json", "as_json", is_flag=True, help="Print the artifacts as JSON.")
@client_options
def artifacts(flow_run_id: str, task_run_id: str | None, as_json: bool, client: Any) -> None:
    """List the artifacts of the flow run FLOW_RUN_ID."""
    client.get_flow_run(flow_run_id)
    if task_run_id is not None:
        found = [
            a for a in client.get_task_run_artifacts(task_run_id) if a["flow_run_id"] == flow_run_id
        ]
    else:
        found = client.get_flow_run_artifacts(flow_run_id)
    if as_json:
        echo_json(found)
        return
    if not found:
        click.echo(f"Flow run {flow_run_id} has no artifacts.")
        return
    for item in found:
        data = item["data"]
        text = data.get("link") if item["kind"] == "link" else data.get("markdown", "")
        first = str(text).splitlines()[0] if text else ""
        click.echo(f"{item['id']}  {item['kind']:<8}  task run {item['task_run_id']}  {first}")
