"""Retry a client call through a server outage (restart, brief network loss).

The flow-run process must not lose a state or a task run because the server restarted
while the flow was running, so its writes are retried with backoff for a while
(``HEADWATER__FLOW_RUN__SERVER_RETRY_SECONDS``, default 120 s). Errors that are not about
reachability (404, 409, 422 ...) are raised at once. The policy (what is transient, the
backoff) is :mod:`headwater.client.retries`; this module holds the flow-run process's
numbers.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import TypeVar

from headwater.client.retries import backoff, call_with_retries, is_transient

__all__ = ["is_transient", "with_retries"]

T = TypeVar("T")

logger = logging.getLogger("headwater.engine.backend")

_FIRST_DELAY = 0.2
_MAX_DELAY = 5.0


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

    def log(exc: BaseException, delay: float) -> None:
        logger.debug("Server unreachable while trying to %s (%s); retrying", what, exc)

    delays = backoff(_FIRST_DELAY, _MAX_DELAY, deadline=time.monotonic() + _budget())
    return call_with_retries(call, delays, on_retry=log)
