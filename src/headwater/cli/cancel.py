"""``headwater cancel FLOW_RUN_ID``: cancel a flow run (and its children by default)."""

from __future__ import annotations

from typing import Any

import click

from headwater.cli._client import client_options, echo_json

__all__ = ["cancel"]


@click.command()
@click.argument("flow_run_id")
@click.option(
    "--no-cascade", is_flag=True, help="Leave the run's unfinished child flow runs running."
)
@click.option("--json", "as_json", is_flag=True, help="Print the server's answer as JSON.")
@client_options
def cancel(flow_run_id: str, no_cascade: bool, as_json: bool, client: Any) -> None:
    """Cancel the flow run FLOW_RUN_ID."""
    answer = client.cancel_flow_run(flow_run_id, cascade=not no_cascade)
    if as_json:
        echo_json(answer)
        return
    state = answer.get("state")
    changed = [str(i) for i in answer.get("cancelled") or []]
    if flow_run_id not in changed:
        if state == "Cancelling":
            click.echo(f"Flow run {flow_run_id} is already being cancelled")
        else:
            click.echo(f"Flow run {flow_run_id} had already finished ({state}); nothing to cancel")
        return
    children = [i for i in changed if i != flow_run_id]
    line = f"Flow run {flow_run_id} is {state}"
    if children:
        line += f"; {len(children)} child flow run(s) cancelled too"
    click.echo(line)
