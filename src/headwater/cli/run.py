"""``headwater run``: run a flow, on a server (a flow run) or locally from a file.

Contract:
    With ``--name``/``--id`` (and optionally ``--project``) the command creates a flow
    run of a registered flow on the server and, with ``--watch``, follows it and exits
    non-zero unless it succeeds. With ``--path FILE`` or ``--module NAME`` (Prefect 1's
    ``prefect run --path``) it runs a flow from that file or module in this process
    with ``flow.run()``, without any server: the file is executed with its ``__main__``
    block skipped, ``--name`` picks one flow when the source holds several, the final
    state is printed and the exit code is 1 unless the run succeeded. Short options
    follow Prefect 1: ``-p`` is ``--path``, ``-m`` ``--module``, ``-n`` ``--name``,
    ``-i`` ``--id``; ``--project`` has no short form. Every failure is one
    ``Error: ...`` line on stderr.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import click

from headwater.cli._client import friendly_errors, make_client
from headwater.cli._watching import SUCCESSFUL, follow
from headwater.storage._base import flows_in_namespace
from headwater.storage._loading import run_script
from headwater.utilities.logging import configure_logging

__all__ = ["run"]


def _parse_params(
    pairs: tuple[str, ...], params_json: str | None, param_file: str | None = None
) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if param_file:
        try:
            loaded_file = json.loads(Path(param_file).read_text())
        except OSError as exc:
            raise click.ClickException(
                f"--param-file {param_file} cannot be read: {exc.strerror or exc}"
            ) from None
        except ValueError as exc:
            raise click.ClickException(
                f"--param-file {param_file} is not valid JSON: {exc}"
            ) from None
        if not isinstance(loaded_file, dict):
            raise click.ClickException(f"--param-file {param_file} must hold a JSON object")
        params.update(loaded_file)
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


def _parse_context(context_json: str | None) -> dict[str, Any]:
    if not context_json:
        return {}
    try:
        loaded = json.loads(context_json)
    except ValueError as exc:
        raise click.ClickException(f"--context is not valid JSON: {exc}") from None
    if not isinstance(loaded, dict):
        raise click.ClickException("--context must be a JSON object")
    return loaded


def _load_local_flow(path: str | None, module: str | None, flow_name: str | None) -> Any:
    """The flow to run locally, from a file or a module, picked by name when needed."""
    if path is not None:
        if not Path(path).expanduser().is_file():
            raise click.ClickException(f"Path {path} does not exist or is not a file")
        namespace = run_script(str(Path(path).expanduser()))
        where = str(path)
    else:
        assert module is not None
        try:
            namespace = vars(importlib.import_module(module))
        except ImportError as exc:
            raise click.ClickException(f"Cannot import module {module!r}: {exc}") from None
        where = f"module {module!r}"
    found = {name: flow for name, (_, flow) in flows_in_namespace(namespace).items()}
    if not found:
        raise click.ClickException(f"No flows found in {where}")
    if flow_name is not None:
        if flow_name not in found:
            names = ", ".join(repr(n) for n in sorted(found))
            raise click.ClickException(f"No flow named {flow_name!r} in {where} (found: {names})")
        return found[flow_name]
    if len(found) > 1:
        names = ", ".join(repr(n) for n in sorted(found))
        raise click.ClickException(f"{where} holds several flows ({names}); pick one with --name")
    return next(iter(found.values()))


def _run_locally(
    path: str | None,
    module: str | None,
    flow_name: str | None,
    parameters: dict[str, Any],
    context: dict[str, Any],
    run_name: str | None,
    quiet: bool,
    log_level: str | None = None,
) -> None:
    if log_level:
        configure_logging().setLevel(log_level.upper())
    if not quiet:
        click.echo("Retrieving local flow...", nl=False)
    flow = _load_local_flow(path, module, flow_name)
    if not quiet:
        click.echo(" Done")
        click.echo(f"Running flow {flow.name!r} locally...")
    if run_name:
        context.setdefault("flow_run_name", run_name)
    # one run now, even for a flow with a schedule (flow.run() alone would follow it)
    state = flow.run(parameters=parameters or None, context=context or None, run_on_schedule=False)
    if state.is_successful():
        if not quiet:
            click.echo(f"Flow run succeeded: {state!r}")
        return
    click.echo(f"Flow run failed: {state!r}", err=True)
    raise click.exceptions.Exit(1)


@click.command()
@click.option(
    "--path",
    "-p",
    type=click.Path(),
    default=None,
    help="Run a flow from this .py file locally, without a server.",
)
@click.option("--module", "-m", default=None, help="Run a flow from this module locally.")
@click.option("--name", "-n", "flow_name", default=None, help="The flow's name.")
@click.option("--id", "-i", "flow_id", default=None, help="A flow version id (instead of --name).")
@click.option("--project", default=None, help="The flow's project (if the name is shared).")
@click.option("--param", "params", multiple=True, help="KEY=VALUE (JSON or text); repeatable.")
@click.option("--params", "params_json", default=None, help="Parameters as a JSON object.")
@click.option("--param-file", type=click.Path(), default=None, help="A JSON file of parameters.")
@click.option("--context", "context_json", default=None, help="Run context as a JSON object.")
@click.option("--label", "-l", "labels", multiple=True, help="A label for the run (repeatable).")
@click.option("--run-name", "-r", default=None, help="A name for the flow run.")
@click.option("--idempotency-key", default=None, help="Repeat a key to get the same run back.")
@click.option("--watch", "-w", is_flag=True, help="Stream states and logs until the run ends.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the flow run id.")
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], case_sensitive=False),
    default=None,
    help="Log level of a --path/--module run (default: the configuration's).",
)
@click.option("--api-url", default=None, help="Server API URL (default: HEADWATER_API_URL).")
@click.option("--api-key", default=None, help="API key (default: HEADWATER_API_KEY).")
@friendly_errors
def run(
    path: str | None,
    module: str | None,
    flow_name: str | None,
    flow_id: str | None,
    project: str | None,
    params: tuple[str, ...],
    params_json: str | None,
    param_file: str | None,
    context_json: str | None,
    labels: tuple[str, ...],
    run_name: str | None,
    idempotency_key: str | None,
    watch: bool,
    quiet: bool,
    log_level: str | None,
    api_url: str | None,
    api_key: str | None,
) -> None:
    """Run a flow: locally from --path/--module, or as a flow run of a registered flow.

    With --name/--id a flow run is created on the server; with --watch the command
    exits non-zero unless it succeeds. With --path or --module the flow runs here,
    without a server, and the command exits non-zero unless it succeeds.
    """
    parameters = _parse_params(params, params_json, param_file)
    context = _parse_context(context_json)
    if path is not None or module is not None:
        if path is not None and module is not None:
            raise click.ClickException("Give either --path or --module, not both")
        backend_only = {
            "--id": flow_id,
            "--project": project,
            "--label": labels,
            "--idempotency-key": idempotency_key,
        }
        given = [option for option, value in backend_only.items() if value]
        if given:
            raise click.ClickException(
                f"{', '.join(given)} name a registered flow run on a server; --path and "
                "--module run the flow locally"
            )
        _run_locally(path, module, flow_name, parameters, context, run_name, quiet, log_level)
        return
    if log_level:
        raise click.ClickException(
            "--log-level applies to --path/--module runs; an agent's run logs at the "
            "level configured where it runs"
        )
    if not flow_name and not flow_id:
        raise click.ClickException(
            "Give the flow to run with --name (or --id), or a file with --path"
        )
    client = make_client(api_url, api_key)
    try:
        _run_on_server(
            client,
            flow_name=flow_name,
            flow_id=flow_id,
            project=project,
            parameters=parameters,
            context=context,
            labels=labels,
            run_name=run_name,
            idempotency_key=idempotency_key,
            watch=watch,
            quiet=quiet,
        )
    finally:
        client.close()


def _run_on_server(
    client: Any,
    *,
    flow_name: str | None,
    flow_id: str | None,
    project: str | None,
    parameters: dict[str, Any],
    context: dict[str, Any],
    labels: tuple[str, ...],
    run_name: str | None,
    idempotency_key: str | None,
    watch: bool,
    quiet: bool,
) -> None:
    flow_run_id = client.create_flow_run(
        flow_id=flow_id,
        flow_name=None if flow_id else flow_name,
        project_name=project,
        parameters=parameters or None,
        context=context or None,
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
