"""``headwater kv``: the server's key-value store (Prefect 1's ``prefect kv``).

- ``headwater kv set KEY VALUE [--json]``: VALUE is stored as text, or parsed as JSON.
- ``headwater kv get KEY``: prints the value (JSON for anything but text).
- ``headwater kv delete KEY``; ``headwater kv list [--prefix P] [--json]``.

A missing key is one ``Error:`` line and exit code 1.
"""

from __future__ import annotations

import json
from typing import Any

import click

from headwater.backend import kv_store
from headwater.cli._client import client_options, echo_json

__all__ = ["kv"]


@click.group()
def kv() -> None:
    """Set, read, delete and list keys of the server's key-value store."""


@kv.command(name="set")
@click.argument("key")
@click.argument("value")
@click.option("--json", "as_json", is_flag=True, help="Parse VALUE as JSON (numbers, lists...).")
@client_options
def set_command(key: str, value: str, as_json: bool, client: Any) -> None:
    """Set KEY to VALUE, replacing any value it had."""
    stored: Any = value
    if as_json:
        try:
            stored = json.loads(value)
        except ValueError as exc:
            raise click.ClickException(f"VALUE is not valid JSON: {exc}") from None
    kv_store.set_key_value(key, stored, client=client)
    click.echo(f"Key {key!r} set")


@kv.command(name="get")
@click.argument("key")
@client_options
def get_command(key: str, client: Any) -> None:
    """Print the value of KEY."""
    value = kv_store.get_key_value(key, client=client)
    click.echo(value if isinstance(value, str) else json.dumps(value, sort_keys=True))


@kv.command(name="delete")
@click.argument("key")
@client_options
def delete_command(key: str, client: Any) -> None:
    """Delete KEY and its value."""
    kv_store.delete_key(key, client=client)
    click.echo(f"Key {key!r} deleted")


@kv.command(name="list")
@click.option("--prefix", default=None, help="Only keys starting with this text.")
@click.option("--json", "as_json", is_flag=True, help="Print keys with values as JSON.")
@client_options
def list_command(prefix: str | None, as_json: bool, client: Any) -> None:
    """List the keys of the store."""
    if as_json:
        echo_json({e["key"]: e["value"] for e in client.get_key_values(prefix=prefix)})
        return
    for key in client.list_keys(prefix=prefix):
        click.echo(key)
