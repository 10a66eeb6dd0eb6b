"""Where the client finds the server: explicit arguments, environment, configuration.

Contract:
    :func:`resolve_api_url` and :func:`resolve_api_key` pick, in order, the explicit
    argument, the ``HEADWATER_API_URL``/``HEADWATER_API_KEY`` environment variables (read
    at call time, so a process that changes its environment after import is honoured),
    then ``headwater.config.server.api_url``/``api_key``, then the built-in default.
    Empty strings count as "not set". The URL is returned without a trailing slash.
"""

from __future__ import annotations

import os
from typing import Any

from headwater.utilities.configuration import config

__all__ = ["DEFAULT_API_URL", "resolve_api_key", "resolve_api_url"]

#: The address of a server started with ``headwater server start`` and no options.
DEFAULT_API_URL = "http://127.0.0.1:4200/api"


def _configured(key: str) -> Any:
    server = config.get("server") if hasattr(config, "get") else None
    if not server or not hasattr(server, "get"):
        return None
    return server.get(key)


def resolve_api_url(api_url: str | None = None) -> str:
    """The server's API address.

    Args:
        api_url: an explicit address; wins when given.

    Returns:
        The address without a trailing slash, e.g. ``http://127.0.0.1:4200/api``.
    """
    for candidate in (api_url, os.environ.get("HEADWATER_API_URL"), _configured("api_url")):
        if candidate:
            return str(candidate).rstrip("/")
    return DEFAULT_API_URL


def resolve_api_key(api_key: str | None = None) -> str | None:
    """The API key to send as ``Authorization: Bearer <key>``, or None for no key.

    Args:
        api_key: an explicit key; wins when given.
    """
    for candidate in (api_key, os.environ.get("HEADWATER_API_KEY"), _configured("api_key")):
        if candidate:
            return str(candidate)
    return None
