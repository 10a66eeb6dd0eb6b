"""``headwater restart FLOW_RUN_ID``: restart a failed flow run from its failed tasks on."""

from __future__ import annotations

from typing import Any

import click

from headwater.cli._client import client_options, echo_json

__all__ = ["restart"]


@click.command()
@click.argument("flow_run_id")
@click.option("--json", "as_json", is_flag=True, help="Print the server's answer as JSON.")
@client_options
def restart(flow_run_id: str, as_json: bool, client: Any) -> None:
    """Restart the failed or cancelled flow run FLOW_RUN_ID.

    Its failed and unfinished task runs run again; finished ones keep their results.
    """
    answer = client.restart_flow_run(flow_run_id)
    if as_json:
        echo_json(answer)
        return
    kept = len(answer.get("kept") or [])
    reset = len(answer.get("reset") or [])
    click.echo(
        f"Flow run {flow_run_id} is scheduled again: {kept} finished task run(s) keep their "
        f"results, {reset} run again"
    )
