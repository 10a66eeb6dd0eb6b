"""Shared pieces of the user commands: server options, one-line errors, output helpers.

Contract:
    :func:`client_options` adds ``--api-url`` and ``--api-key`` (falling back to
    ``HEADWATER_API_URL``/``HEADWATER_API_KEY``, which the ``headwater`` group's own
    ``--api-url``/``--api-key`` set for the command, and then the configuration) and
    passes a ready ``client`` argument to the command. :func:`friendly_errors` turns every Headwater,
    value and OS error into one ``Error: ...`` line on stderr and exit code 1, never a
    traceback. Nothing heavy is imported at module level.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, TypeVar

import click

from headwater.exceptions import HeadwaterException

__all__ = ["client_options", "echo_json", "friendly_errors", "make_client"]

F = TypeVar("F", bound=Callable[..., Any])

# The command line fails fast: a person is waiting, and a typo in --api-url should not
# cost several seconds of backoff.
_CLI_RETRIES = 3


def make_client(api_url: str | None, api_key: str | None) -> Any:
    """A :class:`~headwater.client.Client` for the command line."""
    # deferred: the client loads httpx (~100 ms); `headwater <noun> --help` does not need it.
    from headwater.client import Client

    return Client(api_url=api_url, api_key=api_key, retries=_CLI_RETRIES)


def friendly_errors(fn: F) -> F:
    """Report expected failures as one line on stderr with exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except HeadwaterException as exc:
            detail = getattr(exc, "detail", None) or str(exc)
            raise click.ClickException(
                str(detail).splitlines()[0] if detail else repr(exc)
            ) from None
        except (ValueError, TypeError, OSError) as exc:
            raise click.ClickException(
                str(exc).splitlines()[0] if str(exc) else repr(exc)
            ) from None
        except KeyboardInterrupt:
            raise click.Abort() from None

    return wrapper  # type: ignore[return-value]


def client_options(fn: F) -> F:
    """Add ``--api-url``/``--api-key`` and call the command with ``client=``."""

    @click.option("--api-url", default=None, help="Server API URL (default: HEADWATER_API_URL).")
    @click.option("--api-key", default=None, help="API key (default: HEADWATER_API_KEY).")
    @functools.wraps(fn)
    def wrapper(*args: Any, api_url: str | None, api_key: str | None, **kwargs: Any) -> Any:
        client = make_client(api_url, api_key)
        try:
            return fn(*args, client=client, **kwargs)
        finally:
            client.close()

    return friendly_errors(wrapper)  # type: ignore[arg-type,return-value]


def echo_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout."""
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
