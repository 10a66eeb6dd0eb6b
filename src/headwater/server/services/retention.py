"""The retention service: deletes old runs, task runs, logs, artifacts and stored results.

Contract (one pass every ``settings.retention_interval`` seconds; nothing happens for a
kind whose age setting is ``None``, which is the default for every kind):

- ``retention_flow_runs``: finished flow runs that ended (or last changed state) longer
  ago are deleted with their task runs, states, logs, labels, artifacts, hook deliveries
  and stored result files; their child runs keep running and lose the parent link.
- ``retention_task_runs``: finished task runs of finished flow runs whose state is older
  are deleted with their states, artifacts and result files.
- ``retention_logs`` / ``retention_artifacts``: log lines and artifacts older than that.
- ``retention_results``: result files in the server's store of task runs last changed
  longer ago; the task run stays and its result reads as missing (404).

Unfinished runs and their task runs are never touched. Work is done in batches of
``settings.retention_batch_size`` rows, one short transaction each, followed by a pause at
least as long as the batch took, so that writers (on SQLite: the one writer) are never
held up for long and keep at least half of the database's time during a pass. Result
files are removed after the transaction that forgot them has committed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import time
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from headwater.server.database import Database, orm, queue_event
from headwater.server.database.orm_backend import Artifact, HookDelivery
from headwater.server.result_store import ResultStore
from headwater.server.schemas.states import FINISHED
from headwater.server.services._base import Service
from headwater.server.settings import ServerSettings

__all__ = ["KINDS", "RetentionService"]

logger = logging.getLogger("headwater.server.services.retention")

#: The kinds of data retention knows, in the order a pass handles them.
KINDS = ("flow_runs", "task_runs", "logs", "artifacts", "results")
# Pause between two batches, so that other writers get the database in between.
_PAUSE = 0.02
_MAX_BATCHES_PER_PASS = 10_000


class RetentionService(Service):
    """Deletes what is older than the configured ages, in bounded batches.

    Args:
        db: The server's database.
        results: The server's result store (files of deleted task runs go too).
        ages: Seconds per kind of :data:`KINDS`; ``None`` or missing keeps that kind.
        interval: Seconds between passes.
        batch_size: Rows per transaction.
    """

    name = "retention"

    def __init__(
        self,
        db: Database,
        results: ResultStore | None,
        *,
        ages: dict[str, float | None],
        interval: float = ServerSettings.retention_interval,
        batch_size: int = ServerSettings.retention_batch_size,
    ) -> None:
        unknown = sorted(set(ages) - set(KINDS))
        if unknown:
            raise ValueError(f"unknown retention kind(s): {', '.join(unknown)}")
        super().__init__(interval)
        self.db = db
        self.results = results
        self.ages = {k: v for k, v in ages.items() if v is not None and v > 0}
        self.batch_size = max(1, int(batch_size))
        self.totals: dict[str, int] = dict.fromkeys(KINDS, 0)

    @classmethod
    def from_settings(
        cls, db: Database, results: ResultStore | None, settings: ServerSettings
    ) -> RetentionService:
        """A retention service configured by the server's settings (``retention_*``)."""
        return cls(
            db,
            results,
            ages={kind: getattr(settings, f"retention_{kind}") for kind in KINDS},
            interval=settings.retention_interval,
            batch_size=settings.retention_batch_size,
        )

    @property
    def enabled(self) -> bool:
        """Whether any kind has an age set."""
        return bool(self.ages)

    async def run_once(self) -> None:
        """One pass over every configured kind."""
        await self.run_pass()

    async def run_pass(self) -> dict[str, int]:
        """One pass over every configured kind; returns what it deleted per kind."""
        deleted = dict.fromkeys(KINDS, 0)
        now = orm.utcnow()
        for kind in KINDS:
            age = self.ages.get(kind)
            if age is None:
                continue
            cutoff = now - dt.timedelta(seconds=age)
            step = getattr(self, f"_batch_{kind}")
            for _ in range(_MAX_BATCHES_PER_PASS):
                started = time.monotonic()
                count, files = await self._in_transaction(step, cutoff)
                held = time.monotonic() - started
                await self._remove_files(files)
                deleted[kind] += count
                if count < self.batch_size:
                    break
                # Give writers at least as long as the batch held the database.
                await asyncio.sleep(max(_PAUSE, held))
        for kind, count in deleted.items():
            self.totals[kind] += count
        if any(deleted.values()):
            logger.info(
                "Retention deleted %s",
                ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in deleted.items() if n),
            )
        return deleted

    async def _in_transaction(self, step: Any, cutoff: dt.datetime) -> tuple[int, list[str]]:
        async with self.db.session() as session:
            count, files = await step(session, cutoff)
            await session.commit()
        return count, files

    async def _remove_files(self, locations: list[str]) -> None:
        if not locations or self.results is None:
            return
        await asyncio.to_thread(self._remove_sync, locations)

    def _remove_sync(self, locations: list[str]) -> None:
        assert self.results is not None
        store = self.results
        for location in locations:
            if not _inside(store, location):
                continue
            try:
                if store._local:
                    os.remove(location)
                else:
                    import fsspec  # deferred: only a store at an fsspec URL needs it

                    fs, path = fsspec.core.url_to_fs(location)
                    fs.rm(path)
            except (FileNotFoundError, OSError):
                pass
            except Exception:
                logger.warning("Retention: could not remove a stored result", exc_info=True)

    # -- one batch per kind: (rows deleted, result files to remove) ------------------------

    async def _batch_flow_runs(
        self, session: AsyncSession, cutoff: dt.datetime
    ) -> tuple[int, list[str]]:
        ended = func.coalesce(orm.FlowRun.end_time, orm.FlowRun.state_timestamp)
        ids = list(
            (
                await session.execute(
                    select(orm.FlowRun.id)
                    .where(orm.FlowRun.state_type.in_(FINISHED), ended < cutoff)
                    .order_by(ended)
                    .limit(self.batch_size)
                )
            ).scalars()
        )
        if not ids:
            return 0, []
        task_ids = select(orm.TaskRun.id).where(orm.TaskRun.flow_run_id.in_(ids))
        files = list(
            (
                await session.execute(
                    select(orm.TaskRun.result_location).where(
                        orm.TaskRun.flow_run_id.in_(ids), orm.TaskRun.result_location.is_not(None)
                    )
                )
            ).scalars()
        )
        await session.execute(
            update(orm.FlowRun)
            .where(orm.FlowRun.parent_flow_run_id.in_(ids))
            .values(parent_flow_run_id=None)
            .execution_options(synchronize_session=False)
        )
        await session.execute(delete(Artifact).where(Artifact.flow_run_id.in_(ids)))
        await session.execute(delete(HookDelivery).where(HookDelivery.flow_run_id.in_(ids)))
        await session.execute(
            delete(orm.TaskRunState).where(orm.TaskRunState.task_run_id.in_(task_ids))
        )
        for table in (orm.Log, orm.FlowRunLabel, orm.FlowRunState, orm.TaskRun):
            await session.execute(delete(table).where(table.flow_run_id.in_(ids)))
        await session.execute(
            delete(orm.FlowRun)
            .where(orm.FlowRun.id.in_(ids))
            .execution_options(synchronize_session=False)
        )
        for run_id in ids:
            queue_event(session, "flow_run.updated", flow_run_id=run_id, data={"deleted": True})
        return len(ids), [f for f in files if f]

    async def _batch_task_runs(
        self, session: AsyncSession, cutoff: dt.datetime
    ) -> tuple[int, list[str]]:
        rows = list(
            (
                await session.execute(
                    select(orm.TaskRun.id, orm.TaskRun.result_location)
                    .join(orm.FlowRun, orm.FlowRun.id == orm.TaskRun.flow_run_id)
                    .where(
                        orm.FlowRun.state_type.in_(FINISHED),
                        orm.TaskRun.state_type.in_(FINISHED),
                        orm.TaskRun.state_timestamp < cutoff,
                    )
                    .order_by(orm.TaskRun.state_timestamp)
                    .limit(self.batch_size)
                )
            ).all()
        )
        if not rows:
            return 0, []
        ids = [r[0] for r in rows]
        await session.execute(delete(Artifact).where(Artifact.task_run_id.in_(ids)))
        await session.execute(delete(orm.TaskRunState).where(orm.TaskRunState.task_run_id.in_(ids)))
        await session.execute(
            delete(orm.TaskRun)
            .where(orm.TaskRun.id.in_(ids))
            .execution_options(synchronize_session=False)
        )
        return len(ids), [r[1] for r in rows if r[1]]

    async def _batch_logs(
        self, session: AsyncSession, cutoff: dt.datetime
    ) -> tuple[int, list[str]]:
        ids = list(
            (
                await session.execute(
                    select(orm.Log.id)
                    .where(orm.Log.timestamp < cutoff)
                    .order_by(orm.Log.timestamp)
                    .limit(self.batch_size)
                )
            ).scalars()
        )
        if ids:
            await session.execute(delete(orm.Log).where(orm.Log.id.in_(ids)))
        return len(ids), []

    async def _batch_artifacts(
        self, session: AsyncSession, cutoff: dt.datetime
    ) -> tuple[int, list[str]]:
        ids = list(
            (
                await session.execute(
                    select(Artifact.id)
                    .where(Artifact.updated < cutoff)
                    .order_by(Artifact.updated)
                    .limit(self.batch_size)
                )
            ).scalars()
        )
        if ids:
            await session.execute(delete(Artifact).where(Artifact.id.in_(ids)))
        return len(ids), []

    async def _batch_results(
        self, session: AsyncSession, cutoff: dt.datetime
    ) -> tuple[int, list[str]]:
        rows = list(
            (
                await session.execute(
                    select(orm.TaskRun.id, orm.TaskRun.result_location)
                    .join(orm.FlowRun, orm.FlowRun.id == orm.TaskRun.flow_run_id)
                    .where(
                        orm.FlowRun.state_type.in_(FINISHED),
                        orm.TaskRun.result_location.is_not(None),
                        orm.TaskRun.updated < cutoff,
                    )
                    .order_by(orm.TaskRun.updated)
                    .limit(self.batch_size)
                )
            ).all()
        )
        if not rows:
            return 0, []
        await session.execute(
            update(orm.TaskRun)
            .where(orm.TaskRun.id.in_([r[0] for r in rows]))
            .values(result_location=None)
            .execution_options(synchronize_session=False)
        )
        return len(rows), [r[1] for r in rows if r[1]]


def _inside(store: ResultStore, location: str) -> bool:
    """Whether ``location`` lies in the server's store (never delete anything else)."""
    base = store.base.rstrip("/")
    if store._local:
        real = os.path.realpath(location)
        return real.startswith(os.path.realpath(base) + os.sep)
    return location.startswith(base + "/")
