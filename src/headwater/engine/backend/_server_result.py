"""Results kept in the Headwater server's result store.

Contract:
    :class:`ServerResult` uploads the serialized value for a task run with
    ``Client().upload_result(task_run_id, data)`` and downloads it with
    ``Client().download_result(task_run_id)``. Its location is
    ``"task-runs/<task_run_id>/result"`` (the API path of the stored bytes), so any
    machine that reaches the server can read a result from its reference alone. It sits
    above the client with the backend runners; ``headwater.engine.results.ServerResult``
    loads it on first access, and a state whose result reference names ``ServerResult``
    loads it by name, so the local engine never imports the client.

    One client per process serves every ServerResult (making one costs tens of
    milliseconds): it is shared by threads, made again in a forked child (a connection
    pool must not cross a fork), and made again when the configured API URL or key
    changes (a worker process set up for a flow run's server).

    In a flow-run process with a task-state writer (``set_result_sink``), small results
    travel with the next batch of task states instead of a request each; reading or
    checking a result first flushes that batch, so a read never misses a write.
"""

from __future__ import annotations

import os
import re
import threading
from typing import Any

from headwater.client import Client
from headwater.client._config import resolve_api_key, resolve_api_url
from headwater.engine._result_base import Result, _serializer_of
from headwater.engine.backend._retry import with_retries
from headwater.exceptions import ObjectNotFound
from headwater.utilities.context import context

__all__ = ["ServerResult", "set_result_sink"]

_LOCATION = re.compile(r"^(?:.*/)?task-runs/(?P<id>[^/]+)/result/?$")


_client_lock = threading.Lock()
_cached: tuple[tuple[int, str, str | None], Any] | None = None


def _shared_client() -> Any:
    """The process's client for the configured server (thread-safe, fork-safe)."""
    global _cached
    key = (os.getpid(), resolve_api_url(), resolve_api_key())
    with _client_lock:
        if _cached is None or _cached[0] != key:
            _cached = (key, Client(key[1], key[2]))
        return _cached[1]


_sink: Any = None


def set_result_sink(sink: Any) -> None:
    """Route uploads through ``sink`` (``add_result(id, data) -> bool`` and ``flush()``).

    ``None`` restores direct uploads. The backend's task-state writer is the sink of a
    flow-run process.
    """
    global _sink
    _sink = sink


def _flush_sink() -> None:
    sink = _sink
    if sink is not None:
        sink.flush()


def server_location(task_run_id: str) -> str:
    """The location of the result stored for a task run."""
    return f"task-runs/{task_run_id}/result"


def task_run_id_from_location(location: str) -> str:
    """Return the task-run id named by a ServerResult location (or a bare id).

    Raises:
        ValueError: when the location is empty.
    """
    match = _LOCATION.match(location)
    if match:
        return match.group("id")
    if not location or "/" in location:
        raise ValueError(f"not a ServerResult location: {location!r}")
    return location


class ServerResult(Result):
    """A result stored by the server, keyed by task run.

    Args:
        value: the value, if known.
        location: ``"task-runs/<id>/result"``, if known.
        serializer: defaults to the pickle serializer.
    """

    def _client(self) -> Any:
        return _shared_client()

    def write(self, value_: Any, **kwargs: Any) -> ServerResult:
        """Upload ``value_`` for the task run in ``kwargs`` or the run context.

        Args:
            value_: the value to store.
            **kwargs: ``task_run_id`` (defaults to ``headwater.context.task_run_id``).

        Raises:
            ValueError: when no task run id is known.
        """
        task_run_id = kwargs.get("task_run_id")
        if not task_run_id:
            task_run_id = context.get("task_run_id")
        if not task_run_id:
            raise ValueError(
                "ServerResult.write needs a task_run_id (from the run context or a keyword)"
            )
        data = self.serializer.serialize(value_)
        sink = _sink
        if sink is None or not sink.add_result(str(task_run_id), data):
            # Retried through a server outage like every other write of a backend run: a
            # restarting server must not fail a task whose work is done.
            client = self._client()
            with_retries(lambda: client.upload_result(str(task_run_id), data), "upload a result")
        new = self.copy()
        new.location = server_location(str(task_run_id))
        new.value = value_
        return new

    def read(self, location: str) -> ServerResult:
        """Download and deserialize the result stored at ``location``.

        Raises:
            FileNotFoundError: when the server holds no result there.
        """
        task_run_id = task_run_id_from_location(location)
        _flush_sink()
        client = self._client()
        try:
            data = with_retries(lambda: client.download_result(task_run_id), "download a result")
        except ObjectNotFound:
            raise FileNotFoundError(f"no ServerResult stored at {location!r}") from None
        new = self.copy()
        new.location = location
        new.value = new.serializer.deserialize(data)
        return new

    def exists(self, location: str, **kwargs: Any) -> bool:
        """Whether the server holds a result at ``location``."""
        _flush_sink()
        try:
            self._client().download_result(task_run_id_from_location(location))
        except ObjectNotFound:
            return False
        return True

    @classmethod
    def _from_ref(cls, ref: dict[str, Any]) -> Result:
        return cls(location=ref.get("location"), serializer=_serializer_of(ref))
