"""``headwater run``: create a flow run of a registered flow, optionally watching it."""

from __future__ import annotations

import json
from typing import Any

import click

from headwater.cli._client import client_options

__all__ = ["run"]


def _parse_params(pairs: tuple[str, ...], params_json: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if params_json:
        try:
            loaded = json.loads(params_json)
        except ValueError as exc:
            raise click.ClickException(f"--params is not valid JSON: {exc}") from None
        if not isinstance(loaded, dict):
            raise click.ClickException("--params must be a JSON object")
        params.update(loaded)
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise click.ClickException(f"--param expects KEY=VALUE, got {pair!r}")
        try:
            params[key] = json.loads(raw)
        except ValueError:
            params[key] = raw  # plain text stays a string
    return params


@click.command()
@click.option("--name", "-n", "flow_name", default=None, help="The flow's name.")
@click.option("--id", "-i", "flow_id", default=None, help="A flow version id (instead of --name).")
@click.option("--project", "-p", default=None, help="The flow's project (if the name is shared).")
@click.option("--param", "params", multiple=True, help="KEY=VALUE (JSON or text); repeatable.")
@click.option("--params", "params_json", default=None, help="Parameters as a JSON object.")
@click.option("--label", "-l", "labels", multiple=True, help="A label for the run (repeatable).")
@click.option("--run-name", "-r", default=None, help="A name for the flow run.")
@click.option("--idempotency-key", default=None, help="Repeat a key to get the same run back.")
@click.option("--watch", "-w", is_flag=True, help="Stream states and logs until the run ends.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the flow run id.")
@client_options
def run(
    flow_name: str | None,
    flow_id: str | None,
    project: str | None,
    params: tuple[str, ...],
    params_json: str | None,
    labels: tuple[str, ...],
    run_name: str | None,
    idempotency_key: str | None,
    watch: bool,
    quiet: bool,
    client: Any,
) -> None:
    """Create a flow run; with --watch, exit non-zero unless it succeeds."""
    from headwater.cli._watching import SUCCESSFUL, follow

    if not flow_name and not flow_id:
        raise click.ClickException("Give the flow to run with --name (or --id)")
    parameters = _parse_params(params, params_json)
    flow_run_id = client.create_flow_run(
        flow_id=flow_id,
        flow_name=None if flow_id else flow_name,
        project_name=project,
        parameters=parameters or None,
        labels=list(labels) if labels else None,
        run_name=run_name,
        idempotency_key=idempotency_key,
    )
    if quiet:
        click.echo(flow_run_id)
    else:
        record = client.get_flow_run(flow_run_id)
        click.echo(
            f"Created flow run {record.get('name')!r} ({flow_run_id}) of flow "
            f"{record.get('flow_name')!r} in project {record.get('project_name')!r}"
        )
    if not watch:
        return
    final = follow(client, flow_run_id)
    if final not in SUCCESSFUL:
        raise click.ClickException(f"Flow run {flow_run_id} ended {final}")
    if not quiet:
        click.echo(f"Flow run {flow_run_id} ended {final}")
