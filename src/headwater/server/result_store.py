"""The server's result store: task-run result bytes kept as files or at an fsspec URL.

Contract: ``PUT /task-runs/{id}/result`` stores bytes at ``<store>/<task_run_id>``
(:func:`headwater.server.models.task_runs.write_result` records the location on the task
run); a second upload replaces the first. The store is a
local directory (default ``$HEADWATER_HOME/results``) or any fsspec URL (``s3://...``,
``memory://...``). File I/O runs in a worker thread so the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

__all__ = ["ResultStore"]


class ResultStore:
    """Reads and writes result blobs under one base location.

    Args:
        base: A directory path, ``file://`` URL or fsspec URL.
    """

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self._local = "://" not in base or base.startswith("file://")
        if base.startswith("file://"):
            self.base = base[len("file://") :].rstrip("/")

    def location_for(self, task_run_id: str) -> str:
        """Where a task run's result lives."""
        if self._local:
            return str(Path(self.base) / task_run_id)
        return f"{self.base}/{task_run_id}"

    def _write(self, location: str, data: bytes) -> None:
        if self._local:
            path = Path(location)
            path.parent.mkdir(parents=True, exist_ok=True)
            # Write then rename, so a reader never sees half a result.
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
            return
        import fsspec  # deferred: only a store at an fsspec URL needs it

        with fsspec.open(location, "wb") as handle:
            handle.write(data)

    def _read(self, location: str) -> bytes:
        if self._local:
            return Path(location).read_bytes()
        import fsspec  # deferred: only a store at an fsspec URL needs it

        with fsspec.open(location, "rb") as handle:
            data: bytes = handle.read()
        return data

    async def write(self, task_run_id: str, data: bytes) -> str:
        """Store ``data`` for a task run; returns its location."""
        location = self.location_for(task_run_id)
        await asyncio.to_thread(self._write, location, data)
        return location

    async def write_many(self, items: list[tuple[str, bytes]]) -> list[str]:
        """Store several task runs' results in one worker thread; their locations, in order."""
        locations = [self.location_for(task_run_id) for task_run_id, _ in items]

        def write_all() -> None:
            for location, (_, data) in zip(locations, items, strict=True):
                self._write(location, data)

        await asyncio.to_thread(write_all)
        return locations

    async def read(self, location: str) -> bytes:
        """The bytes at ``location``.

        Raises:
            FileNotFoundError: Nothing is stored there.
        """
        return await asyncio.to_thread(self._read, location)
