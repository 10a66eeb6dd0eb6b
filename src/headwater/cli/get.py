"""``headwater get projects|flows|flow-runs|task-runs``: list objects as tables or JSON."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from headwater.cli._client import client_options, echo_json

__all__ = ["get"]

F = TypeVar("F", bound=Callable[..., Any])


def _short_time(value: Any) -> str:
    return str(value or "").replace("T", " ")[:19]


def _table(title: str, columns: Sequence[str], rows: list[list[Any]]) -> None:
    # deferred: rich costs tens of milliseconds, paid only when printing.
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in columns:
        # Ids are copied and pasted: never fold them across lines.
        is_id = column in ("ID", "PARENT")
        table.add_column(column, overflow="fold", no_wrap=is_id, min_width=36 if is_id else None)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    # Piped output is not cut to 80 columns: scripts grep it, people page it.
    width = None if sys.stdout.isatty() else 400
    Console(soft_wrap=True, width=width).print(table)


def _output(as_json: bool, records: list[dict[str, Any]], render: Callable[[], None]) -> None:
    if as_json:
        echo_json(records)
    elif not records:
        click.echo("Nothing found.")
    else:
        render()


def _common(fn: F) -> F:
    fn = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(fn)
    fn = click.option(
        "--limit", type=click.IntRange(min=1, max=10_000), default=None, help="At most N rows."
    )(fn)
    return fn


@click.group()
def get() -> None:
    """List projects, flows, flow runs and task runs."""


@get.command()
@click.option("--name", default=None, help="Only the project with this name.")
@_common
@client_options
def projects(name: str | None, limit: int | None, as_json: bool, client: Any) -> None:
    """List projects."""
    records = [client.get_project(name)] if name else client.get_projects()
    records = records[:limit] if limit else records
    _output(
        as_json,
        records,
        lambda: _table(
            "Projects",
            ["NAME", "ID", "DESCRIPTION", "CREATED"],
            [
                [r["name"], r["id"], r.get("description"), _short_time(r.get("created"))]
                for r in records
            ],
        ),
    )


@get.command()
@click.option("--project", default=None, help="Only flows of this project.")
@click.option("--name", default=None, help="Only flows with this name.")
@click.option("--all-versions", is_flag=True, help="Every version, not only the newest.")
@click.option("--archived", is_flag=True, help="Include archived versions.")
@_common
@client_options
def flows(
    project: str | None,
    name: str | None,
    all_versions: bool,
    archived: bool,
    limit: int | None,
    as_json: bool,
    client: Any,
) -> None:
    """List registered flows (newest version of each unless --all-versions)."""
    records = client.query_flows(
        name=name, project_name=project, archived=None if archived else False
    )
    if not all_versions:
        seen: set[str] = set()
        newest = []
        for record in records:
            group = str(record.get("flow_group_id"))
            if group not in seen:
                seen.add(group)
                newest.append(record)
        records = newest
    records = records[:limit] if limit else records
    _output(
        as_json,
        records,
        lambda: _table(
            "Flows",
            ["NAME", "VERSION", "PROJECT", "ID", "LABELS", "CREATED"],
            [
                [
                    r["name"],
                    r.get("version"),
                    r.get("project_name"),
                    r["id"],
                    ", ".join(r.get("labels") or []),
                    _short_time(r.get("created")),
                ]
                for r in records
            ],
        ),
    )


@get.command("flow-runs")
@click.option("--project", default=None, help="Only runs of flows in this project.")
@click.option("--name", default=None, help="Only runs of the flow with this name.")
@click.option("--parent", default=None, help="Only children of this flow run id.")
@click.option("--state", "states", multiple=True, help="Only runs in this state (repeatable).")
@click.option("--upcoming", is_flag=True, help="Only runs scheduled for later, soonest first.")
@_common
@client_options
def flow_runs(
    project: str | None,
    name: str | None,
    parent: str | None,
    states: tuple[str, ...],
    upcoming: bool,
    limit: int | None,
    as_json: bool,
    client: Any,
) -> None:
    """List flow runs, newest first (with --upcoming: the scheduled ones, soonest first)."""
    filters: dict[str, Any] = {"upcoming": True} if upcoming else {}
    records = client.query_flow_runs(
        project_name=project,
        flow_name=name,
        parent_flow_run_id=parent,
        state=list(states) or None,
        limit=limit or 50,
        **filters,
    )
    _output(
        as_json,
        records,
        lambda: _table(
            "Upcoming flow runs" if upcoming else "Flow runs",
            ["NAME", "FLOW", "STATE", "ID", "PARENT", "SCHEDULED", "LABELS"],
            [
                [
                    r.get("name"),
                    r.get("flow_name"),
                    r.get("state_type"),
                    r["id"],
                    r.get("parent_flow_run_id"),
                    _short_time(r.get("scheduled_start_time")),
                    ", ".join(r.get("labels") or []),
                ]
                for r in records
            ],
        ),
    )


@get.command("task-runs")
@click.option("--flow-run-id", required=True, help="The flow run whose task runs to list.")
@click.option("--name", default=None, help="Only task runs of the task with this slug.")
@click.option("--state", "states", multiple=True, help="Only task runs in this state.")
@_common
@client_options
def task_runs(
    flow_run_id: str,
    name: str | None,
    states: tuple[str, ...],
    limit: int | None,
    as_json: bool,
    client: Any,
) -> None:
    """List a flow run's task runs."""
    client.get_flow_run(flow_run_id)  # an unknown id is one clear error line
    records = client.query_task_runs(
        flow_run_id=flow_run_id, task_slug=name, state=list(states) or None, limit=limit
    )
    _output(
        as_json,
        records,
        lambda: _table(
            "Task runs",
            ["TASK", "SLUG", "MAP INDEX", "STATE", "ID", "MESSAGE"],
            [
                [
                    r.get("task_name"),
                    r.get("task_slug"),
                    r.get("map_index"),
                    r.get("state_type"),
                    r["id"],
                    r.get("state_message"),
                ]
                for r in records
            ],
        ),
    )
