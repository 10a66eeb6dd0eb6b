"""Small helpers shared by the backend views.

Every view talks to the server through one :class:`headwater.client.Client`. The client is
imported lazily so that importing :mod:`headwater.backend` stays cheap; callers may pass
their own client (tests, the flow-run process) or let the views build a default one from
the environment (``HEADWATER_API_URL`` and friends).
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any

from headwater.engine import state as state_mod

if TYPE_CHECKING:
    from headwater.client import Client
    from headwater.engine.state import State

__all__ = ["default_client", "deserialize_state", "parse_time", "state_repr"]

_local = threading.local()


def default_client(client: Client | None = None) -> Client:
    """Return ``client`` or a per-thread default :class:`~headwater.client.Client`.

    One default client is kept per thread because an httpx client must not be shared by
    threads that stream from it concurrently; it is made again when the configured
    server changes (one process talking to several servers in turn).
    """
    if client is not None:
        return client
    existing: Client | None = getattr(_local, "client", None)
    if existing is not None:
        # deferred: headwater.client._config loads the client package (httpx); a client
        # exists here, so it is loaded already.
        from headwater.client._config import resolve_api_key, resolve_api_url

        if existing.api_url != resolve_api_url() or existing.api_key != resolve_api_key():
            existing = None
    if existing is None:
        # deferred: the client loads httpx (~100 ms), paid only when a server is used.
        from headwater.client import Client

        existing = Client()
        _local.client = existing
    return existing


def deserialize_state(data: dict[str, Any] | None, *, default: type[State] | None = None) -> State:
    """Turn a state in its JSON form into a :class:`~headwater.engine.state.State`.

    Args:
        data: the JSON form (see the internal contracts), or ``None`` when the server has
            no state yet.
        default: the state class to build when ``data`` is ``None`` (``Pending`` if unset).

    Returns:
        The deserialized state.
    """
    if not data:
        cls = default or state_mod.Pending
        return cls(message="State not yet available from the server.")
    return state_mod.State.deserialize(data)


def parse_time(value: Any) -> datetime | None:
    """Parse an ISO-8601 timestamp from the server (``None`` passes through)."""
    if value is None or isinstance(value, datetime):
        return value
    text = str(value)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    return datetime.fromisoformat(text)


def state_repr(state: State) -> str:
    """Render a state as ``<Type: "message">`` (or ``<Type>``) for messages."""
    name = type(state).__name__
    message = getattr(state, "message", None)
    return f'<{name}: "{message}">' if message else f"<{name}>"
