"""The late-run reporter: explains, on the run itself, why nobody picks it up.

Contract (one pass, every ``settings.late_runs_interval`` seconds): a flow run still
``Scheduled`` more than ``settings.late_after`` seconds past its start time, for which no
healthy agent (seen within :data:`HEALTHY_WITHIN` seconds) has fitting labels, gets one
``WARNING`` log line naming the run's labels and every agent that exists with its labels
and when it was last seen. Each run is reported once: the line itself (logger name
:data:`LOGGER_NAME`) is the record that it was reported, so restarts and other server
processes do not repeat it.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import and_, func, or_, select

from headwater.server.database import orm, queue_event
from headwater.server.orchestration.claims import labels_fit
from headwater.server.services._base import Service
from headwater.server.settings import ServerSettings

__all__ = ["HEALTHY_WITHIN", "LOGGER_NAME", "LateRunReporter", "describe_late_run"]

logger = logging.getLogger("headwater.server.services.late_runs")

#: Logger name of the warning line; also marks a run as reported.
LOGGER_NAME = "headwater.server.late_runs"
#: An agent counts as healthy when it asked for work within this many seconds.
HEALTHY_WITHIN = 120.0
_BATCH = 100
_MAX_PAGES = 10


def _ago(now: dt.datetime, then: dt.datetime | None) -> str:
    if then is None:
        return "never seen"
    return f"last seen {max(0.0, (now - then).total_seconds()):.0f} s ago"


def describe_late_run(
    *,
    labels: list[str],
    due: dt.datetime,
    now: dt.datetime,
    agents: list[tuple[str, list[str], dt.datetime | None]],
) -> str:
    """The warning text for a late run.

    Args:
        labels: The run's labels.
        due: When the run should have started.
        now: The current time.
        agents: Every registered agent as ``(name, labels, last_seen)``.
    """
    late = max(0.0, (now - due).total_seconds())
    wanted = f"labels {sorted(labels)}" if labels else "no labels"
    head = (
        f"This flow run is late: it was due {late:.0f} s ago and no healthy agent fits its "
        f"{wanted} (an agent must have every label of the run"
        + (
            ", and a run without labels only goes to an agent without labels)."
            if not labels
            else ")."
        )
    )
    if not agents:
        tail = " No agents are registered."
    else:
        listed = "; ".join(
            f"{name!r} with {'labels ' + str(sorted(al)) if al else 'no labels'}, {_ago(now, seen)}"
            for name, al, seen in agents
        )
        tail = f" Agents: {listed}."
    hint = (
        " Start an agent with "
        + (" ".join(f"--label {x}" for x in sorted(labels)) if labels else "no labels")
        + " to run it."
    )
    return head + tail + hint


class LateRunReporter(Service):
    """Writes one WARNING log line on each late run that no healthy agent fits.

    Args:
        db: The server's ``Database``.
        late_after: Seconds past the start time after which a run is late.
        interval: Seconds between passes.
    """

    name = "late-runs"

    def __init__(
        self,
        db: Any,
        *,
        late_after: float = ServerSettings.late_after,
        interval: float = ServerSettings.late_runs_interval,
    ) -> None:
        super().__init__(interval)
        self.db = db
        self.late_after = late_after
        self.reported = 0

    @classmethod
    def from_settings(cls, db: Any, settings: ServerSettings) -> LateRunReporter:
        """A reporter configured by the server's settings."""
        return cls(db, late_after=settings.late_after, interval=settings.late_runs_interval)

    async def run_once(self) -> None:
        """Report every late run found now that has not been reported yet."""
        now = dt.datetime.now(dt.UTC)
        agents: list[tuple[str, list[str], dt.datetime | None]] | None = None
        after: tuple[dt.datetime, str] | None = None
        # Runs that a healthy agent fits stay late but unreported; page past them (by
        # due time, then id) so that they cannot hide runs behind them.
        for _ in range(_MAX_PAGES):
            async with self.db.read_session() as session:
                runs = await self._late_runs(session, now, after)
                if runs and agents is None:
                    agents = await self._agents(session)
            if not runs or agents is None:
                return
            after = (runs[-1][2], runs[-1][0])
            healthy_since = now - dt.timedelta(seconds=HEALTHY_WITHIN)
            healthy = [al for _, al, seen in agents if seen is not None and seen >= healthy_since]
            for run_id, labels, due_at in runs:
                run_labels = list(labels or [])
                if any(labels_fit(run_labels, al) for al in healthy):
                    continue  # a fitting agent is alive; it is merely busy
                message = describe_late_run(labels=run_labels, due=due_at, now=now, agents=agents)
                await self._report(run_id, message)
            if len(runs) < _BATCH:
                return

    async def _late_runs(
        self, session: Any, now: dt.datetime, after: tuple[dt.datetime, str] | None
    ) -> list[Any]:
        fr, lg = orm.FlowRun, orm.Log
        due = func.coalesce(fr.state_start_time, fr.scheduled_start_time)
        reported = select(lg.id).where(and_(lg.flow_run_id == fr.id, lg.name == LOGGER_NAME))
        stmt = select(fr.id, fr.labels, due).where(
            fr.state_type == "Scheduled",
            due < now - dt.timedelta(seconds=self.late_after),
            ~reported.exists(),
        )
        if after is not None:
            stmt = stmt.where(or_(due > after[0], and_(due == after[0], fr.id > after[1])))
        rows = await session.execute(stmt.order_by(due, fr.id).limit(_BATCH))
        return list(rows.all())

    async def _agents(self, session: Any) -> list[tuple[str, list[str], dt.datetime | None]]:
        rows = await session.execute(select(orm.Agent).order_by(orm.Agent.name))
        return [(a.name, list(a.labels or []), a.last_seen) for a in rows.scalars().all()]

    async def _report(self, run_id: str, message: str) -> None:
        async with self.db.session() as session:
            if await session.get(orm.FlowRun, run_id) is None:
                return
            log = orm.Log(
                flow_run_id=run_id,
                timestamp=dt.datetime.now(dt.UTC),
                level="WARNING",
                name=LOGGER_NAME,
                message=message,
                info={},
            )
            session.add(log)
            await session.flush()
            queue_event(session, "logs", flow_run_id=run_id, data={"count": 1, "max_id": log.id})
            await session.commit()
        self.reported += 1
        logger.info("Late run %s reported.", run_id)
