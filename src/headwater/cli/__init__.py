"""The ``headwater`` command line.

Each noun lives in its own module and is imported only when its command runs, so
``headwater --help`` and the commands that do not touch the server stay fast.

Contract:
    ``headwater --api-url URL --api-key KEY <command>`` sets the server address and key
    for every subcommand: they are exported as ``HEADWATER_API_URL``/``HEADWATER_API_KEY``
    while the command runs (and restored afterwards), which is where every command, the
    agent and the processes it starts already look. A subcommand's own ``--api-url``/
    ``--api-key`` still wins. Usage errors (a missing required option, an unknown one)
    are click's: the usage line, then one ``Error: ...`` line, exit code 2.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

import click

__all__ = ["cli", "main"]

# command name -> (module, attribute, short help)
_COMMANDS: dict[str, tuple[str, str, str]] = {
    "server": ("headwater.cli.server", "server", "Run and manage the Headwater server."),
    "agent": ("headwater.cli.agent", "agent", "Start agents that run flow runs."),
    "create": ("headwater.cli.create", "create", "Create objects (projects)."),
    "flow": (
        "headwater.cli.flow",
        "flow",
        "Switch a flow's schedule on or off, show it, backfill.",
    ),
    "register": ("headwater.cli.register", "register", "Register flows from files or modules."),
    "run": ("headwater.cli.run", "run", "Create a flow run, optionally watching it."),
    "get": ("headwater.cli.get", "get", "List projects, flows, flow runs and task runs."),
    "logs": ("headwater.cli.logs", "logs", "Show a flow run's logs."),
    "cancel": ("headwater.cli.cancel", "cancel", "Cancel a flow run."),
    "kv": ("headwater.cli.kv", "kv", "Set, read and list the server's key-value store."),
    "hooks": ("headwater.cli.hooks", "hooks", "Webhooks and Slack on flow-run state changes."),
    "artifacts": ("headwater.cli.artifacts", "artifacts", "List a flow run's artifacts."),
    "concurrency-limit": (
        "headwater.cli.concurrency_limit",
        "concurrency_limit",
        "Limit concurrent flow runs by label and task runs by tag.",
    ),
    "restart": (
        "headwater.cli.restart",
        "restart",
        "Restart a failed flow run from its failed tasks on.",
    ),
    "demo": (
        "headwater.cli.demo",
        "demo",
        "Start server + agent and run the example flow-of-flows.",
    ),
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = _COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module_name, attr, _ = entry
        module = importlib.import_module(module_name)
        command: click.Command = getattr(module, attr)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, _COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _export_for_command(ctx: click.Context, variable: str, value: str | None) -> None:
    """Set ``variable`` for the rest of this command line, restoring it when it ends."""
    if not value:
        return
    previous = os.environ.get(variable)
    os.environ[variable] = value

    def restore() -> None:
        if previous is None:
            os.environ.pop(variable, None)
        else:
            os.environ[variable] = previous

    ctx.call_on_close(restore)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="headwater", prog_name="headwater")
@click.option(
    "--api-url",
    default=None,
    help="Server API URL for every command (default: HEADWATER_API_URL).",
)
@click.option(
    "--api-key", default=None, help="API key for every command (default: HEADWATER_API_KEY)."
)
@click.pass_context
def cli(ctx: click.Context, api_url: str | None, api_key: str | None) -> None:
    """Headwater: flows of tasks, a one-process server, agents, and flows of flows."""
    # The environment is the one place every subcommand (the agent included) and the
    # processes it starts read the server's address from, so a group option set there
    # reaches all of them without each command re-declaring it.
    _export_for_command(ctx, "HEADWATER_API_URL", api_url)
    _export_for_command(ctx, "HEADWATER_API_KEY", api_key)


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point."""
    return cli.main(args=argv, prog_name="headwater")
