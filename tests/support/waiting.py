"""Waiting for a condition with a deadline: the one helper every tier uses.

Contract:
    :func:`wait_until` calls ``condition()`` until it returns something truthy and
    returns that value; :func:`wait_until_async` does the same for an async condition
    without blocking the event loop. Past ``timeout`` seconds either fails the test with
    an ``AssertionError`` naming ``what``. Deadlines are generous because the machines
    running the tests are often loaded; a condition that holds returns at once, so a
    long deadline costs nothing when the system works.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

__all__ = ["wait_until", "wait_until_async"]

T = TypeVar("T")


def _timed_out(timeout: float, what: str) -> AssertionError:
    return AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def wait_until(
    condition: Callable[[], T],
    timeout: float = 30.0,
    interval: float = 0.02,
    what: str = "the condition",
) -> T:
    """Poll ``condition`` until it is truthy; return its value.

    Raises:
        AssertionError: when ``timeout`` seconds pass first.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise _timed_out(timeout, what)
        time.sleep(interval)


async def wait_until_async(
    condition: Callable[[], Awaitable[T]],
    timeout: float = 30.0,
    interval: float = 0.02,
    what: str = "the condition",
) -> T:
    """Await ``condition()`` until it is truthy; return its value.

    Raises:
        AssertionError: when ``timeout`` seconds pass first.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await condition()
        if value:
            return value
        if loop.time() >= deadline:
            raise _timed_out(timeout, what)
        await asyncio.sleep(interval)
