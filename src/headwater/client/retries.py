"""Headwater's retry policy: which errors are worth another attempt, and how long to wait.

Contract:
    Every place that retries a call to the server uses this module: the client's request
    retries (``client/_base.py``), the flow-run process's writes
    (``engine/backend/_retry.py``), the agent's reconnect loop (``agent/base.py``) and the
    child-run handles (``tasks/headwater/_handles.py``). Each keeps its own numbers (first
    delay, cap, attempts or time budget); the rules live here.

    * :func:`is_transient` is the one definition of "the server cannot be reached right
      now": OS-level connection and timeout errors, httpx transport errors and
      :class:`~headwater.exceptions.ServerUnavailable`. Errors the server answered with
      (404, 409, 422, ...) are not transient.
    * :func:`backoff` yields the delays between attempts: ``first``, then multiplied by
      ``factor`` up to ``cap``; optionally shortened by a random fraction (``jitter``),
      never longer than the cap. It ends after ``attempts`` delays, or before a delay
      that would end past ``deadline`` (a :func:`time.monotonic` time), whichever comes
      first; without either it never ends.
    * :func:`call_with_retries` runs a call, sleeping the delays of an iterator between
      attempts while the error is retryable; the last error is raised when the delays run
      out.

    The module sits in the client layer (it recognises httpx's errors), so everything
    above the client may use it; the client's package init loads httpx first.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import httpx

from headwater.exceptions import ServerUnavailable

__all__ = ["backoff", "call_with_retries", "is_transient"]

T = TypeVar("T")

_TRANSIENT: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    OSError,
    ServerUnavailable,
    httpx.TransportError,
)


def is_transient(exc: BaseException) -> bool:
    """True when ``exc`` means the server could not be reached (worth retrying)."""
    return isinstance(exc, _TRANSIENT)


def backoff(
    first: float,
    cap: float,
    *,
    factor: float = 2.0,
    attempts: int | None = None,
    deadline: float | None = None,
    jitter: float = 0.0,
    clock: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
) -> Iterator[float]:
    """The delays between attempts: exponential, capped, bounded by attempts or a deadline.

    Args:
        first: The first delay in seconds.
        cap: The longest delay.
        factor: What each delay is multiplied by to give the next.
        attempts: The most delays to yield (None: no limit).
        deadline: A :func:`time.monotonic` time no delay may end after (None: no limit).
        jitter: Shorten each delay by up to this fraction, at random (0: exact delays).
        clock: The clock ``deadline`` is measured on.
        rng: The random source for ``jitter`` (default: the ``random`` module's).

    Yields:
        Seconds to wait before the next attempt.
    """
    if first < 0 or cap < 0:
        raise ValueError("backoff delays must not be negative")
    if not 0.0 <= jitter <= 1.0:
        raise ValueError(f"jitter must be between 0 and 1, got {jitter}")
    draw = (rng or random).random
    delay = min(first, cap)
    count = 0
    while attempts is None or count < attempts:
        wait = delay * (1.0 - jitter * draw()) if jitter else delay
        if deadline is not None and clock() + wait > deadline:
            return
        yield wait
        count += 1
        delay = min(delay * factor, cap)


def call_with_retries(
    call: Callable[[], T],
    delays: Iterator[float],
    *,
    retry_on: Callable[[BaseException], bool] = is_transient,
    on_retry: Callable[[BaseException, float], None] | None = None,
    sleep: Callable[[float], object] = time.sleep,
) -> T:
    """Run ``call``; while it fails with a retryable error, wait the next delay and repeat.

    Args:
        call: What to run.
        delays: The waits between attempts (e.g. from :func:`backoff`); when it is
            exhausted the last error is raised.
        retry_on: Whether an error is worth another attempt (default :func:`is_transient`).
        on_retry: Called with the error and the delay before each wait (for logging).
        sleep: How to wait.

    Returns:
        What ``call`` returned.
    """
    while True:
        try:
            return call()
        except Exception as exc:
            if not retry_on(exc):
                raise
            delay = next(delays, None)
            if delay is None:
                raise
            if on_retry is not None:
                on_retry(exc, delay)
            sleep(delay)
