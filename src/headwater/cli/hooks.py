"""``headwater hooks``: webhooks and Slack webhooks on flow-run state changes.

- ``headwater hooks create NAME --kind webhook|slack --url-env HEADWATER_HOOK_X
  [--token-env HEADWATER_HOOK_Y] [--flow NAME] [--project NAME] [--state Failed ...]``
- ``headwater hooks list [--json]``, ``headwater hooks delete ID_OR_NAME``,
  ``headwater hooks enable|disable ID_OR_NAME``,
  ``headwater hooks deliveries ID_OR_NAME [--json]``.

URLs and tokens stay in the server's environment: a hook only names the variables.
"""

from __future__ import annotations

from typing import Any

import click

from headwater.cli._client import client_options, echo_json

__all__ = ["hooks"]


@click.group()
def hooks() -> None:
    """Call webhooks or Slack when flow runs change state."""


@hooks.command()
@click.argument("name")
@click.option("--kind", type=click.Choice(["webhook", "slack"]), required=True)
@click.option("--url-env", required=True, help="Server variable with the URL (HEADWATER_HOOK_*).")
@click.option("--token-env", default=None, help="Server variable with a bearer token.")
@click.option("--flow", "flow_name", default=None, help="Only runs of this flow.")
@click.option("--project", "project_name", default=None, help="Only flows of this project.")
@click.option("--state", "states", multiple=True, help="Only these states (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the hook as JSON.")
@client_options
def create(
    name: str,
    kind: str,
    url_env: str,
    token_env: str | None,
    flow_name: str | None,
    project_name: str | None,
    states: tuple[str, ...],
    as_json: bool,
    client: Any,
) -> None:
    """Create the hook NAME."""
    hook = client.create_hook(
        name,
        kind,
        url_env,
        token_env=token_env,
        flow_name=flow_name,
        project_name=project_name,
        states=list(states),
    )
    if as_json:
        echo_json(hook)
        return
    click.echo(f"Hook {hook['name']!r} created: {hook['id']}")


@hooks.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print the hooks as JSON.")
@client_options
def list_command(as_json: bool, client: Any) -> None:
    """List the hooks."""
    found = client.get_hooks()
    if as_json:
        echo_json(found)
        return
    if not found:
        click.echo("No hooks.")
        return
    for hook in found:
        scope = hook["flow_name"] or "every flow"
        if hook["project_name"]:
            scope += f" in {hook['project_name']}"
        states = ", ".join(hook["states"]) or "every state"
        flags = ("" if hook["active"] else " (disabled)") + (
            "" if hook["configured"] else " (variables not set on the server)"
        )
        click.echo(f"{hook['id']}  {hook['name']}  {hook['kind']}  {scope}  {states}{flags}")


@hooks.command()
@click.argument("hook")
@client_options
def delete(hook: str, client: Any) -> None:
    """Delete the hook HOOK (id or name)."""
    if not client.delete_hook(hook):
        raise click.ClickException(f"Hook {hook} not found.")
    click.echo(f"Hook {hook} deleted")


@hooks.command()
@click.argument("hook")
@client_options
def enable(hook: str, client: Any) -> None:
    """Switch the hook HOOK on."""
    client.set_hook_active(hook, True)
    click.echo(f"Hook {hook} enabled")


@hooks.command()
@click.argument("hook")
@client_options
def disable(hook: str, client: Any) -> None:
    """Switch the hook HOOK off."""
    client.set_hook_active(hook, False)
    click.echo(f"Hook {hook} disabled")


@hooks.command()
@click.argument("hook")
@click.option("--json", "as_json", is_flag=True, help="Print the deliveries as JSON.")
@client_options
def deliveries(hook: str, as_json: bool, client: Any) -> None:
    """Show the latest deliveries of the hook HOOK."""
    found = client.get_hook_deliveries(hook)
    if as_json:
        echo_json(found)
        return
    for item in found:
        code = item["response_status"] if item["response_status"] is not None else "-"
        click.echo(
            f"{item['created']}  {item['flow_run_id']}  v{item['state_version']} "
            f"{item['state_type']}  {item['status']} after {item['attempts']} attempt(s), "
            f"HTTP {code}" + (f"  {item['error']}" if item["error"] else "")
        )
