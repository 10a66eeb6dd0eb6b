"""``headwater register``: register every flow found in files, directories or modules.

Contract:
    Each ``--path`` file (or every ``.py`` file under a ``--path`` directory, recursively,
    skipping hidden and ``__pycache__`` folders) is executed with its ``__main__`` block
    skipped, and each ``--module`` is imported; every Flow object found is registered in
    ``--project``. A flow without storage gets ``Local`` storage pointing at its script
    (or ``Module`` storage for ``--module``). An unchanged flow is not registered again:
    the idempotency key is a hash of its serialized form and labels, so the server returns
    the existing version (reported as "unchanged"; ``--force`` always makes a new one).
    One line per flow; any failure is reported and the command exits 1 at the end.
    ``--name`` (repeatable) keeps only the flows with those names. Short options follow
    Prefect 1: ``-p`` is ``--path``, ``-f`` ``--force``, ``-m`` ``--module``, ``-l``
    ``--label``, ``-n`` ``--name``; ``--project`` has no short form.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from pathlib import Path
from typing import Any

import click

from headwater.cli._client import client_options
from headwater.exceptions import HeadwaterException, ObjectNotFound
from headwater.storage import Local, Module
from headwater.storage._base import flows_in_namespace
from headwater.storage._loading import run_script

__all__ = ["register"]


def _expand(paths: tuple[str, ...]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            for found in sorted(path.rglob("*.py")):
                parts = found.relative_to(path).parts
                if any(p.startswith(".") or p == "__pycache__" for p in parts):
                    continue
                files.append(found.resolve())
        elif path.is_file():
            files.append(path.resolve())
        else:
            raise click.ClickException(f"Path {raw} does not exist")
    return files


def _flows_from_file(path: Path) -> list[Any]:
    namespace = run_script(str(path))
    flows = [flow for _, flow in flows_in_namespace(namespace).values()]
    for flow in flows:
        storage = flow.storage
        if storage is None:
            flow.storage = Local(path=str(path), stored_as_script=True)
        elif isinstance(storage, Local) and storage.path is None and not storage.flows:
            # A bare Local() cannot find a flow loaded from a file that is not a module;
            # the file registered is where the flow lives.
            storage.path, storage.stored_as_script = str(path), True
    return flows


def _flows_from_module(name: str) -> list[Any]:
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        raise click.ClickException(f"Cannot import module {name!r}: {exc}") from None
    flows = [flow for _, flow in flows_in_namespace(vars(module)).values()]
    for flow in flows:
        if flow.storage is None:
            flow.storage = Module(name)
    return flows


def _fingerprint(flow: Any, labels: list[str], schedule_active: bool = True) -> str:
    content: dict[str, Any] = {"flow": flow.serialize(), "labels": sorted(labels)}
    if not schedule_active:
        # Only a switched-off schedule changes the key, so that keys of earlier
        # registrations stay valid and re-registering unchanged stays "unchanged".
        content["schedule_active"] = False
    body = json.dumps(content, sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


@click.command()
# Prefect 1's short forms: -p is --path and -f is --force; --project has none.
@click.option("--project", required=True, help="The project to register into.")
@click.option(
    "--path",
    "-p",
    "paths",
    multiple=True,
    type=click.Path(),
    help="A .py file or a directory of them (repeatable).",
)
@click.option("--module", "-m", "modules", multiple=True, help="An importable module (repeatable).")
@click.option("--label", "-l", "labels", multiple=True, help="A label for the flows (repeatable).")
@click.option(
    "--name",
    "-n",
    "names",
    multiple=True,
    help="Register only the flows with this name (repeatable).",
)
@click.option("--force", "-f", is_flag=True, help="Register a new version even when unchanged.")
@click.option(
    "--no-schedule",
    is_flag=True,
    help="Register with the flows' schedules switched off on the server.",
)
@client_options
def register(
    project: str,
    paths: tuple[str, ...],
    modules: tuple[str, ...],
    labels: tuple[str, ...],
    names: tuple[str, ...],
    force: bool,
    no_schedule: bool,
    client: Any,
) -> None:
    """Register every flow found in the given files, directories and modules."""
    if not paths and not modules:
        raise click.ClickException("Nothing to register: give --path and/or --module")
    try:
        client.get_project(project)
    except ObjectNotFound:
        raise click.ClickException(
            f"Project {project!r} not found; create it with `headwater create project {project}`"
        ) from None
    sources: list[tuple[str, Any]] = [(str(p), p) for p in _expand(paths)]
    sources += [(f"module {m}", m) for m in modules]
    failures = 0
    total = 0
    for label, source in sources:
        try:
            if isinstance(source, Path):
                flows = _flows_from_file(source)
            else:
                flows = _flows_from_module(source)
        except (HeadwaterException, click.ClickException) as exc:
            message = exc.format_message() if isinstance(exc, click.ClickException) else exc
            click.echo(f"Error: {message}", err=True)
            failures += 1
            continue
        for flow in flows:
            if names and flow.name not in names:
                continue
            total += 1
            try:
                wanted = sorted(set(labels))
                key = None if force else _fingerprint(flow, wanted, not no_schedule)
                before = {f["id"] for f in client.query_flows(name=flow.name, project_name=project)}
                flow_id = client.register(
                    flow,
                    project_name=project,
                    labels=wanted or None,
                    idempotency_key=key,
                    set_schedule_active=not no_schedule,
                )
                version = client.get_flow(flow_id).get("version")
            except (HeadwaterException, ValueError, TypeError, OSError) as exc:
                click.echo(f"Error: flow {flow.name!r} from {label}: {exc}", err=True)
                failures += 1
                continue
            status = "unchanged" if flow_id in before else "registered"
            click.echo(f"Flow {flow.name!r}: {status}, version {version}, id {flow_id}")
    if total == 0 and failures == 0:
        if names:
            wanted_names = ", ".join(repr(n) for n in names)
            raise click.ClickException(
                f"No flows named {wanted_names} in the given paths or modules"
            )
        raise click.ClickException("No flows found in the given paths or modules")
    if failures:
        raise click.exceptions.Exit(1)
