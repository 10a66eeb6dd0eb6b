"""Retry a client call through a server outage (restart, brief network loss).

The flow-run process must not lose a state or a task run because the server restarted
while the flow was running, so its writes are retried with backoff for a while
(``HEADWATER__FLOW_RUN__SERVER_RETRY_SECONDS``, default 120 s). Errors that are not about
reachability (404, 409, 422 ...) are raised at once.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["is_transient", "with_retries"]

T = TypeVar("T")

logger = logging.getLogger("headwater.engine.backend")


def is_transient(exc: BaseException) -> bool:
    """True when ``exc`` means the server could not be reached (worth retrying)."""
    if isinstance(exc, ConnectionError | TimeoutError | OSError):
        return True
    try:
        from headwater.exceptions import ServerUnavailable
    except ImportError:  # pragma: no cover - partial installs
        pass
    else:
        if isinstance(exc, ServerUnavailable):
            return True
    import httpx

    return isinstance(exc, httpx.TransportError)


def _budget() -> float:
    raw = os.environ.get("HEADWATER__FLOW_RUN__SERVER_RETRY_SECONDS", "")
    try:
        return float(raw) if raw else 120.0
    except ValueError:
        return 120.0


def with_retries(call: Callable[[], T], what: str) -> T:
    """Run ``call``; on transient errors retry with backoff (0.2 s doubling to 5 s).

    Args:
        call: The client call.
        what: What the call does, for the log line.

    Returns:
        What ``call`` returned.
    """
    deadline = time.monotonic() + _budget()
    delay = 0.2
    while True:
        try:
            return call()
        except Exception as exc:
            if not is_transient(exc) or time.monotonic() + delay > deadline:
                raise
            logger.debug("Server unreachable while trying to %s (%s); retrying", what, exc)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
