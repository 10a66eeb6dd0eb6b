"""Debugging helpers for tests of flows.

Contract:
    Inside ``with raise_on_exception():`` an exception raised by a task's ``run()`` (or
    by the engine) is not turned into a ``Failed`` state: it propagates out of
    ``flow.run()``, so a test or a debugger sees the original error and traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from headwater.utilities.context import context

__all__ = ["raise_on_exception"]


@contextmanager
def raise_on_exception() -> Iterator[None]:
    """Make task exceptions propagate out of ``flow.run()`` inside the block."""
    with context(raise_on_exception=True):
        yield
