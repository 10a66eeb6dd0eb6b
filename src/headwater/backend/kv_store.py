"""``headwater.backend.kv_store``: the server's key-value store (Prefect 1's KV store).

Contract:
    * Values are JSON values (str, int, float, bool, None, lists and dicts of them); the
      server limits each to ``HEADWATER_SERVER_KV_MAX_VALUE_BYTES`` bytes of JSON (10 KB by
      default, Prefect 1's limit). A value that is not JSON raises ``TypeError``; one over
      the limit raises ``ValueError``.
    * Reading or deleting a missing key raises ``ValueError``, as in Prefect 1.
    * Works anywhere a :class:`~headwater.client.Client` reaches the server (inside flow
      runs, scripts, the CLI); ``client=`` picks the client, otherwise the default one.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from headwater.backend._common import default_client
from headwater.exceptions import ClientError, ObjectNotFound

if TYPE_CHECKING:
    from headwater.client import Client

__all__ = ["delete_key", "get_key_value", "list_keys", "set_key_value"]


def _client(client: Client | None) -> Client:
    return default_client(client)


def _check_key(key: Any) -> str:
    if not isinstance(key, str):
        raise TypeError(f"key must be a string, got {type(key).__name__}")
    if not key:
        raise ValueError("key must not be empty")
    return key


def _check_value(value: Any) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except ValueError:
        raise ValueError("value must be JSON: NaN and infinities are not allowed") from None
    except TypeError as exc:
        raise TypeError(f"value must be JSON-serializable: {exc}") from None
    if isinstance(value, float) and not math.isfinite(value):  # pragma: no cover
        raise ValueError("value must be a finite number")


def set_key_value(key: str, value: Any, *, client: Client | None = None) -> str:
    """Set ``key`` to ``value``, replacing any value it had.

    Args:
        key: the key (1 to 255 characters).
        value: a JSON-compatible value.
        client: the client to use (default: one built from the environment).

    Returns:
        The id of the key-value pair.

    Raises:
        TypeError: ``value`` is not JSON-serializable.
        ValueError: the key is not acceptable or the value is over the server's limit.
    """
    key = _check_key(key)
    _check_value(value)
    try:
        return _client(client).set_key_value(key, value)
    except ClientError as exc:
        if exc.status_code in (413, 422):
            raise ValueError(exc.detail) from None
        raise


def get_key_value(key: str, *, client: Client | None = None) -> Any:
    """The value stored under ``key``.

    Raises:
        ValueError: no value is stored under ``key``.
    """
    key = _check_key(key)
    try:
        return _client(client).get_key_value(key)
    except ObjectNotFound:
        raise ValueError(f"No value found for key {key!r}.") from None


def delete_key(key: str, *, client: Client | None = None) -> bool:
    """Delete ``key`` and its value.

    Returns:
        ``True``.

    Raises:
        ValueError: ``key`` does not exist.
    """
    key = _check_key(key)
    if not _client(client).delete_key(key):
        raise ValueError(f"No value found for key {key!r}; nothing was deleted.")
    return True


def list_keys(*, client: Client | None = None) -> list[str]:
    """Every key of the store, sorted."""
    return _client(client).list_keys()
