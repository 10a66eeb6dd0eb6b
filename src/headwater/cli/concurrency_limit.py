"""``headwater concurrency-limit flow-runs|task-tags set|get|ls|delete``.

Flow-run limits are per label (Prefect Cloud's flow concurrency limits), task limits per
task tag (Prefect 1's task tag limits). ``set`` creates or updates, ``get`` prints one
limit, ``ls`` lists them with how many runs hold a slot now, ``delete`` removes one by its
label or tag. Unknown labels or tags given to ``get``/``delete`` exit 1 with one line.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from headwater.cli._client import client_options, echo_json

__all__ = ["concurrency_limit"]


def _table(title: str, key: str, rows: list[dict[str, Any]]) -> None:
    # deferred: rich is heavy and only the table output needs it.
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, title_justify="left")
    for column in (key.upper(), "LIMIT", "RUNNING", "ID"):
        table.add_column(column, overflow="fold", no_wrap=column == "ID")
    for row in rows:
        # Labels and tags are user text: shown as plain text, never as markup.
        table.add_row(
            Text(str(row[key])), str(row["limit"]), str(row["running"]), Text(str(row["id"]))
        )
    width = None if sys.stdout.isatty() else 400
    Console(soft_wrap=True, width=width).print(table)


class _Kind:
    def __init__(self, key: str, noun: str, runs: str, prefix: str) -> None:
        self.key, self.noun, self.runs, self.prefix = key, noun, runs, prefix

    def set(self, client: Any, name: str, limit: int) -> str:
        result: str = getattr(client, f"update_{self.prefix}")(name, limit)
        return result

    def list(self, client: Any, name: str | None = None) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = getattr(client, f"get_{self.prefix}s")(name)
        return result

    def delete(self, client: Any, limit_id: str) -> None:
        getattr(client, f"delete_{self.prefix}")(limit_id)

    def one(self, client: Any, name: str) -> dict[str, Any]:
        found = self.list(client, name)
        if not found:
            raise click.ClickException(f"No concurrency limit on {self.key} {name!r}.")
        return found[0]


_FLOW = _Kind("label", "flow-run", "flow runs", "flow_concurrency_limit")
_TASK = _Kind("tag", "task", "task runs", "task_tag_limit")


def _group(kind: _Kind, name: str, help_text: str) -> click.Group:
    key = kind.key.upper()

    @click.group(name=name, help=help_text)
    def group() -> None:
        pass

    # A negative LIMIT must reach the range check, not be read as an option.
    @group.command(
        name="set",
        help=f"Allow at most LIMIT {kind.runs} with {key} at once.",
        context_settings={"ignore_unknown_options": True},
    )
    @click.argument("name", metavar=key)
    @click.argument("limit", type=click.IntRange(min=0, max=2**31 - 1))
    @client_options
    def set_(name: str, limit: int, client: Any) -> None:
        kind.set(client, name, limit)
        click.echo(f"Concurrency limit of {kind.key} {name!r} set to {limit}")

    @group.command(name="get", help=f"Print the concurrency limit of {key}.")
    @click.argument("name", metavar=key)
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @client_options
    def get_(name: str, as_json: bool, client: Any) -> None:
        found = kind.one(client, name)
        if as_json:
            echo_json(found)
        else:
            click.echo(f"{found['limit']} ({found['running']} {kind.runs} holding a slot)")

    @group.command(name="ls", help=f"List the {kind.noun} concurrency limits.")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
    @client_options
    def ls_(as_json: bool, client: Any) -> None:
        rows = kind.list(client)
        if as_json:
            echo_json(rows)
        elif not rows:
            click.echo(f"No {kind.noun} concurrency limits.")
        else:
            _table(f"{kind.noun.capitalize()} concurrency limits", kind.key, rows)

    @group.command(name="delete", help=f"Remove the concurrency limit of {key}.")
    @click.argument("name", metavar=key)
    @client_options
    def delete_(name: str, client: Any) -> None:
        found = kind.one(client, name)
        kind.delete(client, str(found["id"]))
        click.echo(f"Concurrency limit of {kind.key} {name!r} deleted")

    return group


@click.group(name="concurrency-limit")
def concurrency_limit() -> None:
    """Limit how many flow runs (by label) or task runs (by tag) run at once."""


concurrency_limit.add_command(
    _group(
        _FLOW,
        "flow-runs",
        "Flow-run limits per label: runs over a limit stay Scheduled until a slot frees.",
    )
)
concurrency_limit.add_command(
    _group(
        _TASK,
        "task-tags",
        "Task-run limits per task tag: task runs over a limit wait Queued until a slot frees.",
    )
)
