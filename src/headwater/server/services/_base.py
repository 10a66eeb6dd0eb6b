"""The :class:`Service` base: an async loop that runs a pass every ``interval`` seconds.

Contract: ``await start()`` schedules the loop on the running event loop; ``await stop()`` ends it
and waits for a pass in progress to finish (or cancels it after a short grace). An
exception inside a pass is logged and the loop continues: a broken pass must never take
the server down. A service with ``interval <= 0`` is disabled and never started.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging

__all__ = ["Service"]

logger = logging.getLogger("headwater.server.services")


class Service(abc.ABC):
    """A background job of the server process.

    Args:
        interval: Seconds between the end of one pass and the start of the next.
    """

    #: Name used in log lines and task names.
    name: str = "service"

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.passes = 0
        self._task: asyncio.Task[None] | None = None
        self._stopping: asyncio.Event | None = None

    @abc.abstractmethod
    async def run_once(self) -> None:
        """Do one pass of the service's work."""

    @property
    def running(self) -> bool:
        """Whether the loop is active."""
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Start the loop on the running event loop (no-op when disabled or started)."""
        if self.interval <= 0 or self._task is not None:
            return
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._loop(), name=f"headwater-{self.name}")

    async def stop(self, grace: float = 5.0) -> None:
        """Stop the loop, letting a pass in progress finish for up to ``grace`` seconds."""
        task, self._task = self._task, None
        if task is None:
            return
        if self._stopping is not None:
            self._stopping.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), grace)
        except (TimeoutError, Exception):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

    async def _loop(self) -> None:
        assert self._stopping is not None
        while not self._stopping.is_set():
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("Service %s: a pass failed; trying again later.", self.name)
            self.passes += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)
