"""``headwater flow schedule on|off|show NAME`` and ``headwater flow backfill NAME``.

Contract:
    NAME is a registered flow's name (``--project`` chooses when the name exists in
    several projects). ``schedule on`` switches the flow group's schedule on (the server
    creates its runs ahead at once; a required parameter without a value is one
    ``Error:`` line and exit code 1), ``schedule off`` switches it off and removes the
    future runs that were never submitted, ``schedule show`` prints the schedule in
    effect, its switch, late-run policy and next times. ``schedule late-runs`` sets the
    late-run policy. ``backfill`` creates the scheduled runs of a past interval.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from headwater.cli._client import client_options, echo_json

__all__ = ["flow"]


def _newest(client: Any, name: str, project: str | None) -> dict[str, Any]:
    flows = client.query_flows(name=name, project_name=project, archived=False)
    if not flows:
        where = f" in project {project!r}" if project else ""
        raise click.ClickException(f"No registered flow named {name!r}{where}")
    projects = sorted({str(f.get("project_name")) for f in flows})
    if len(projects) > 1:
        raise click.ClickException(
            f"Flow {name!r} exists in several projects ({', '.join(projects)}); "
            "choose one with --project"
        )
    newest: dict[str, Any] = flows[0]
    return newest


def _show(name: str, info: dict[str, Any]) -> None:
    state = "on" if info.get("is_schedule_active") else "off"
    source = info.get("source")
    if source is None:
        click.echo(f"Flow {name!r}: no schedule (switch {state})")
        return
    whose = "its flow group's own" if source == "flow_group" else "the flow version's"
    late = info.get("late_runs") or "all"
    if late == "skip":
        late += f" (older than {info.get('late_runs_max_age'):g} s)"
    click.echo(f"Flow {name!r}: schedule {state} ({whose}); late runs: {late}")
    times = info.get("next_times") or []
    if times:
        click.echo("Next times (UTC): " + ", ".join(str(t).replace("T", " ")[:19] for t in times))


_project = click.option("--project", default=None, help="The flow's project.")
_json = click.option("--json", "as_json", is_flag=True, help="Print the server's answer as JSON.")


@click.group()
def flow() -> None:
    """Manage registered flows: their server-side schedule and backfills."""


@flow.group()
def schedule() -> None:
    """Switch a flow's schedule on or off, show it, or set its late-run policy."""


@schedule.command("on")
@click.argument("name")
@_project
@_json
@client_options
def schedule_on(name: str, project: str | None, as_json: bool, client: Any) -> None:
    """Switch the schedule of flow NAME on."""
    info = client.set_schedule_active(_newest(client, name, project)["id"])
    echo_json(info) if as_json else _show(name, info)


@schedule.command("off")
@click.argument("name")
@_project
@_json
@client_options
def schedule_off(name: str, project: str | None, as_json: bool, client: Any) -> None:
    """Switch the schedule of flow NAME off (its future scheduled runs are removed)."""
    info = client.set_schedule_inactive(_newest(client, name, project)["id"])
    echo_json(info) if as_json else _show(name, info)


@schedule.command("show")
@click.argument("name")
@_project
@_json
@client_options
def schedule_show(name: str, project: str | None, as_json: bool, client: Any) -> None:
    """Show the schedule of flow NAME."""
    info = client.get_flow_group_schedule(_newest(client, name, project)["flow_group_id"])
    echo_json(info) if as_json else _show(name, info)


@schedule.command("late-runs")
@click.argument("name")
@click.argument("policy", type=click.Choice(["all", "latest", "skip"]))
@click.option(
    "--max-age",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="For 'skip': seconds after which a late run is skipped.",
)
@_project
@_json
@client_options
def schedule_late_runs(
    name: str, policy: str, max_age: float | None, project: str | None, as_json: bool, client: Any
) -> None:
    """Set what happens to runs of flow NAME that became late: run all, only the latest,
    or skip those older than --max-age seconds."""
    if policy == "skip" and max_age is None:
        raise click.ClickException("'skip' needs --max-age SECONDS")
    fields: dict[str, Any] = {"late_runs": policy}
    if max_age is not None:
        fields["late_runs_max_age"] = max_age
    group = _newest(client, name, project)["flow_group_id"]
    info = client.update_flow_group_schedule(group, **fields)
    echo_json(info) if as_json else _show(name, info)


def _when(value: str, option: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO date-time (e.g. 2030-01-31T06:00)", param_hint=option
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@flow.command()
@click.argument("name")
@click.option("--start", required=True, help="First time, ISO format (UTC unless it says).")
@click.option("--end", required=True, help="Last time, ISO format (UTC unless it says).")
@_project
@_json
@client_options
def backfill(
    name: str, start: str, end: str, project: str | None, as_json: bool, client: Any
) -> None:
    """Create the scheduled runs of flow NAME between --start and --end (both included)."""
    begin, finish = _when(start, "--start"), _when(end, "--end")
    group = _newest(client, name, project)["flow_group_id"]
    answer = client.backfill_flow_group(group, begin, finish)
    if as_json:
        echo_json(answer)
        return
    created = answer.get("created") or []
    click.echo(
        f"Flow {name!r}: {len(created)} run(s) created, "
        f"{answer.get('existing', 0)} time(s) already had a run"
    )
