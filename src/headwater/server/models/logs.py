"""Log queries: batch insert and ordered reads.

Contract: log ids only grow, so a reader resumes with ``after_id``. Reads are ordered by
(timestamp, id). An insert queues one ``logs`` event per flow run with
``{"count": n, "max_id": id}``.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from headwater.server.database import orm, queue_event
from headwater.server.models.errors import InvalidInput, NotFound

__all__ = ["MAX_LIMIT", "insert_logs", "read_log_rows_after", "read_logs"]

#: Largest page of logs one read returns.
MAX_LIMIT = 10_000


def _level_name(level: Any) -> str:
    if isinstance(level, int) and not isinstance(level, bool):
        return logging.getLevelName(level)
    if isinstance(level, str) and level.strip():
        return level.strip().upper()[:16]
    raise InvalidInput(f"A log level must be a name such as 'INFO' or a number, got {level!r}.")


async def insert_logs(session: AsyncSession, logs: list[dict[str, Any]]) -> int:
    """Insert a batch of log lines.

    Each item has ``flow_run_id``, ``message`` and optionally ``task_run_id``,
    ``timestamp`` (default now), ``level`` (name or number, default INFO), ``name`` and
    ``info``.

    Returns:
        The number of rows inserted.

    Raises:
        NotFound: A flow run named by a line does not exist.
    """
    if not logs:
        return 0
    run_ids = {item["flow_run_id"] for item in logs}
    found = set(
        (await session.execute(select(orm.FlowRun.id).where(orm.FlowRun.id.in_(run_ids))))
        .scalars()
        .all()
    )
    missing = sorted(run_ids - found)
    if missing:
        raise NotFound(f"Flow run {missing[0]} not found (log lines name it).")
    now = orm.utcnow()
    rows = []
    for item in logs:
        timestamp: dt.datetime = item.get("timestamp") or now
        if timestamp.tzinfo is None:
            timestamp = timestamp.replace(tzinfo=dt.UTC)
        rows.append(
            orm.Log(
                flow_run_id=item["flow_run_id"],
                task_run_id=item.get("task_run_id"),
                timestamp=timestamp,
                level=_level_name(item.get("level", "INFO")),
                name=item.get("name") or "headwater",
                message=item["message"],
                info=item.get("info"),
            )
        )
    session.add_all(rows)
    await session.flush()
    per_run: dict[str, list[int]] = {}
    for row in rows:
        per_run.setdefault(row.flow_run_id, []).append(row.id)
    for run_id, ids in per_run.items():
        queue_event(
            session, "logs", flow_run_id=run_id, data={"count": len(ids), "max_id": max(ids)}
        )
    return len(rows)


async def read_logs(
    session: AsyncSession,
    *,
    flow_run_id: str,
    task_run_id: str | None = None,
    after: dt.datetime | None = None,
    before: dt.datetime | None = None,
    after_id: int | None = None,
    limit: int | None = 1000,
) -> list[orm.Log]:
    """A flow run's logs ordered by (timestamp, id).

    Args:
        session: Database session.
        flow_run_id: The flow run.
        task_run_id: Only this task run's lines.
        after: Only lines with timestamp >= this.
        before: Only lines with timestamp <= this.
        after_id: Only lines with an id greater than this (stream resumption).
        limit: Page size (at most :data:`MAX_LIMIT`).
    """
    query = select(orm.Log).where(orm.Log.flow_run_id == flow_run_id)
    if task_run_id is not None:
        query = query.where(orm.Log.task_run_id == task_run_id)
    if after is not None:
        query = query.where(orm.Log.timestamp >= after)
    if before is not None:
        query = query.where(orm.Log.timestamp <= before)
    if after_id is not None:
        query = query.where(orm.Log.id > after_id)
    query = query.order_by(orm.Log.timestamp, orm.Log.id).limit(min(limit or MAX_LIMIT, MAX_LIMIT))
    return list((await session.execute(query)).scalars())


async def read_log_rows_after(
    session: AsyncSession, flow_run_id: str, after_id: int, limit: int
) -> list[orm.Log]:
    """Up to ``limit`` of a flow run's logs with an id above ``after_id``, by id (streams)."""
    return list(
        (
            await session.execute(
                select(orm.Log)
                .where(orm.Log.flow_run_id == flow_run_id, orm.Log.id > after_id)
                .order_by(orm.Log.id)
                .limit(limit)
            )
        )
        .scalars()
        .all()
    )
