"""Set-up of executor worker processes (process pools, Dask workers) for backend runs.

Contract:
    The flow-run process puts ``executor_worker_setup`` into the run context (see
    contracts.md 5.1): a ``functools.partial`` of :func:`set_up_worker` carrying the
    server's address, key and log settings. Every worker *process* runs it once before its
    first call, so task runs there

    - write task-run states and ``ServerResult`` values to the same server
      (``HEADWATER_API_URL``/``HEADWATER_API_KEY`` are set and the configuration
      reloaded), and
    - ship their ``headwater`` log records to the run's logs through one
      :class:`ServerLogHandler` per process that takes the flow run from each record's
      context.

    A worker therefore needs no configuration of its own, which matters for external
    Dask workers. Handlers inherited from a parent process (their shipping thread does not
    survive a fork) are replaced. :func:`flush_worker_logs` sends what is queued; the
    backend task runner calls it when a task run ends, because pool processes exit
    without running ``atexit`` hooks and would otherwise lose the last records.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable

from headwater.client import Client
from headwater.engine.backend._logs import ServerLogHandler
from headwater.utilities.configuration import config, reload_configuration
from headwater.utilities.context import context
from headwater.utilities.logging import add_log_handler, remove_log_handler

__all__ = ["flush_worker_logs", "set_up_worker", "worker_setup_for"]

_handler: ServerLogHandler | None = None
_handler_pid: int | None = None
_lock = threading.Lock()


def worker_setup_for(
    api_url: str, api_key: str | None, ship_logs: bool, flush_interval: float
) -> Callable[[], None]:
    """The picklable set-up callable the flow-run process puts into the run context.

    Args:
        api_url: The server the flow-run process reports to.
        api_key: Its API key, if any.
        ship_logs: Whether worker log records go to the server.
        flush_interval: Most seconds a worker log record waits before it is sent.

    Returns:
        A ``functools.partial`` of :func:`set_up_worker`.
    """
    return functools.partial(set_up_worker, api_url, api_key, ship_logs, flush_interval)


def set_up_worker(
    api_url: str, api_key: str | None, ship_logs: bool = True, flush_interval: float = 0.5
) -> None:
    """Point this worker process at the server and ship its log records there (idempotent).

    Args:
        api_url: The server's API URL.
        api_key: The API key, if any.
        ship_logs: Whether to install the log handler.
        flush_interval: Most seconds a record waits before it is sent.
    """
    global _handler, _handler_pid
    changed = os.environ.get("HEADWATER_API_URL") != api_url
    os.environ["HEADWATER_API_URL"] = api_url
    if api_key is not None and os.environ.get("HEADWATER_API_KEY") != api_key:
        os.environ["HEADWATER_API_KEY"] = api_key
        changed = True
    if changed:
        reload_configuration()
    if not ship_logs or not config.get("logging", {}).get("log_to_backend", True):
        return
    with _lock:
        if _handler is not None and _handler_pid == os.getpid():
            return
        if _drop_inherited_handlers(remove_log_handler):
            # A worker inside the flow-run process itself (an in-process Dask cluster)
            # already ships through the process's own handler.
            return
        client = Client(api_url, api_key)
        _handler = ServerLogHandler(
            client.write_run_logs, None, _task_run_id, flush_interval=flush_interval
        )
        _handler_pid = os.getpid()
        add_log_handler(_handler)


def flush_worker_logs() -> None:
    """Send the records this worker process has queued (no-op outside a set-up worker)."""
    handler = _handler
    if handler is not None and _handler_pid == os.getpid():
        handler.flush()


def _task_run_id() -> str | None:
    value = context.get("task_run_id")
    return str(value) if value else None


def _drop_inherited_handlers(remove: Callable[[ServerLogHandler], None]) -> bool:
    """Detach server log handlers whose shipping thread is gone (inherited by a fork).

    Returns:
        Whether a working server log handler is attached in this process.
    """
    working = False
    for handler in list(logging.getLogger("headwater").handlers):
        if isinstance(handler, ServerLogHandler):
            if handler.is_shipping():
                working = True
            else:
                remove(handler)
    return working
