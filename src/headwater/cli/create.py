"""``headwater create project NAME``: create a project."""

from __future__ import annotations

from typing import Any

import click

from headwater.cli._client import client_options
from headwater.exceptions import ConflictError

__all__ = ["create"]


@click.group()
def create() -> None:
    """Create objects (projects)."""


@create.command()
@click.argument("name")
@click.option("--description", "-d", default=None, help="A description of the project.")
@click.option(
    "--skip-if-exists", is_flag=True, help="Succeed quietly when the project already exists."
)
@client_options
def project(name: str, description: str | None, skip_if_exists: bool, client: Any) -> None:
    """Create the project NAME (an error if it exists, unless --skip-if-exists)."""
    try:
        project_id = client.create_project(name, project_description=description)
    except ConflictError:
        if not skip_if_exists:
            raise click.ClickException(f"Project {name!r} already exists") from None
        click.echo(f"Project {name!r} already exists; skipped")
        return
    click.echo(f"Created project {name!r} ({project_id})")
