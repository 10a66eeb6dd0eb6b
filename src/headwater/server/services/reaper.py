"""The reaper: recovers flow runs whose process or agent went away.

Contract (one pass, every ``settings.reaper_interval`` seconds):

- Lazarus: a flow run ``Running`` whose last sign of life (heartbeat, else its state's
  timestamp) is older than ``settings.heartbeat_timeout`` lost its process (and, since
  nobody failed it, its agent too, or its machine). It is *resumed*
  (:func:`~headwater.server.orchestration.resumption.resume_flow_run`): its finished task
  runs keep their results, the others are reset, and it is scheduled again for any
  fitting agent, at most ``max_resurrections`` times (default 3, as Prefect 1's Lazarus;
  0 turns this off; a flow group whose ``settings`` hold ``lazarus_enabled: false`` is
  never resumed). Beyond that it is set ``Failed`` with a message saying it was
  rescheduled that many times, and so are its task runs that were still running.
- A flow run ``Cancelling`` without heartbeat is set ``Failed`` ("No heartbeat detected
  from the flow run; marking it Failed."), with its running task runs.
- A flow run ``Submitted`` to an agent that has not started within
  ``settings.submitted_timeout`` (or whose heartbeat is stale) goes back to ``Scheduled``
  so any fitting agent can claim it again. Both kinds of rescheduling count in the run's
  ``times_resurrected``; after ``max_resurrections`` the run is set ``Failed`` instead of
  looping for ever.
- Claim leases: a run ``Submitted`` under an agent process's claim token whose lease was
  not renewed for ``settings.claim_lease`` seconds (the process stopped claiming before
  it acknowledged the run) goes back to ``Scheduled`` without counting a resurrection
  (see :mod:`headwater.server.orchestration.leases`).
- Every change goes through the orchestration rules with the version that was read, so a
  run that moved on meanwhile (say, it just sent a heartbeat and finished) is left alone,
  and each change writes an explanatory log line on the run.
- Start-up grace: time before the reaper started (:attr:`Reaper.started_at`) does not
  count as silence, because while the server was down no heartbeat or state change could
  reach it. A run's age is measured from ``max(last sign of life, started_at)``, so after
  a (re)start every run gets a full ``heartbeat_timeout`` (and a Submitted run a full
  ``submitted_timeout``) to report before it is judged lost. The rule needs no record of
  when the server stopped and holds for any number of server processes: a process that
  has been up all along judges the runs as before.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import func, or_, select

from headwater.server import orchestration
from headwater.server.database import orm, queue_event
from headwater.server.models.errors import Conflict, NotFound
from headwater.server.orchestration import leases
from headwater.server.orchestration.resumption import resume_flow_run
from headwater.server.services._base import Service
from headwater.server.settings import ServerSettings

__all__ = ["MAX_RESURRECTIONS", "Reaper"]

logger = logging.getLogger("headwater.server.services.reaper")

#: Default of how many times a lost run is put back in the queue before it fails.
MAX_RESURRECTIONS = ServerSettings.max_resurrections
_LOGGER_NAME = "headwater.server.reaper"
_BATCH = 200
_TASK_RUN_MESSAGE = "No heartbeat detected from the flow run; marking the task run Failed."


class Reaper(Service):
    """Fails runs without heartbeat and requeues runs that were never started.

    Args:
        db: The server's ``Database``.
        heartbeat_timeout: Seconds without a sign of life after which a run is lost.
        submitted_timeout: Seconds a Submitted run may take to start.
        interval: Seconds between passes.
        max_resurrections: Most times a lost run is scheduled again (0: never).
        claim_lease: Seconds after which a claimed run whose agent process stopped
            claiming (and so never acknowledged it) is handed back.
    """

    name = "reaper"

    def __init__(
        self,
        db: Any,
        *,
        heartbeat_timeout: float = ServerSettings.heartbeat_timeout,
        submitted_timeout: float = ServerSettings.submitted_timeout,
        interval: float = ServerSettings.reaper_interval,
        max_resurrections: int = MAX_RESURRECTIONS,
        claim_lease: float = ServerSettings.claim_lease,
    ) -> None:
        super().__init__(interval)
        self.claim_lease = claim_lease
        self.handed_back = 0
        self.max_resurrections = max(0, int(max_resurrections))
        self.resumed = 0
        self.db = db
        self.heartbeat_timeout = heartbeat_timeout
        self.submitted_timeout = submitted_timeout
        self.failed = 0
        self.rescheduled = 0
        #: Wall-clock time the reaper started; silence before it is not held against a run.
        self.started_at = dt.datetime.now(dt.UTC)

    @classmethod
    def from_settings(cls, db: Any, settings: ServerSettings) -> Reaper:
        """A reaper configured by the server's settings."""
        return cls(
            db,
            heartbeat_timeout=settings.heartbeat_timeout,
            submitted_timeout=settings.submitted_timeout,
            interval=settings.reaper_interval,
            max_resurrections=settings.max_resurrections,
            claim_lease=settings.claim_lease,
        )

    async def start(self) -> None:
        """Start the loop; the start-up grace counts from now."""
        if not self.running:
            self.started_at = dt.datetime.now(dt.UTC)
        await super().start()

    async def run_once(self) -> None:
        """Reap every lost run found now."""
        now = dt.datetime.now(dt.UTC)
        fr = orm.FlowRun
        stale = now - dt.timedelta(seconds=self.heartbeat_timeout)
        not_started = now - dt.timedelta(seconds=self.submitted_timeout)
        alive = func.coalesce(fr.heartbeat, fr.state_timestamp, fr.updated)
        # Start-up grace: a run's age counts from max(sign of life, started_at), so a
        # cut-off that lies before started_at cannot make any run lost yet.
        heartbeat_due = self.started_at < stale
        start_due = self.started_at < not_started
        lost: list[Any] = []
        stuck: list[Any] = []
        await self._expire_leases(now)
        async with self.db.read_session() as session:
            if heartbeat_due:
                lost = list(
                    (
                        await session.execute(
                            select(
                                fr.id,
                                fr.version,
                                fr.state_type,
                                fr.times_resurrected,
                                fr.flow_group_id,
                            )
                            .where(fr.state_type.in_(("Running", "Cancelling")), alive < stale)
                            .order_by(fr.id)
                            .limit(_BATCH)
                        )
                    ).all()
                )
            late_start = [
                cond
                for due, cond in (
                    (heartbeat_due, alive < stale),
                    (start_due, fr.state_timestamp < not_started),
                )
                if due
            ]
            if late_start:
                stuck = list(
                    (
                        await session.execute(
                            select(fr.id, fr.version, fr.times_resurrected, fr.agent_id)
                            .where(fr.state_type == "Submitted", or_(*late_start))
                            .order_by(fr.id)
                            .limit(_BATCH)
                        )
                    ).all()
                )
        limit = self.max_resurrections
        for run_id, version, state_type, resurrected, group_id in lost:
            resurrected = resurrected or 0
            lazarus = state_type == "Running" and limit > 0
            if lazarus and not await self._lazarus_enabled(group_id):
                lazarus = False
            elif lazarus and resurrected < limit:
                if await self._resume(run_id, version, resurrected):
                    self.resumed += 1
                    self.rescheduled += 1
                continue
            message = "No heartbeat detected from the flow run; marking it Failed."
            if lazarus:
                message = (
                    "No heartbeat detected from the flow run; it was already rescheduled "
                    f"{resurrected} time(s) after losing its process (the limit is {limit}), "
                    "so it is marked Failed."
                )
            detail = (
                f"{message} It was {state_type} and sent no heartbeat for more than "
                f"{self.heartbeat_timeout:g} seconds."
            )
            failed = {"type": "Failed", "message": message}
            if await self._set(run_id, version, failed, detail, fail_task_runs=True):
                self.failed += 1
        for run_id, version, resurrected, agent_id in stuck:
            agent = f" (agent {agent_id})" if agent_id else ""
            if (resurrected or 0) >= limit:
                message = (
                    f"The flow run was submitted{agent} but never started; it was put back "
                    f"in the queue {resurrected or 0} times already (the limit is {limit}), "
                    "so it is marked Failed."
                )
                if await self._set(run_id, version, {"type": "Failed", "message": message}):
                    self.failed += 1
                continue
            state = {
                "type": "Scheduled",
                "message": "Rescheduled by the reaper: the run was submitted but never started.",
                "start_time": now.isoformat(),
            }
            detail = (
                f"The flow run was submitted{agent} but did not start within "
                f"{self.submitted_timeout:g} seconds (or its process stopped sending "
                f"heartbeats); it is scheduled again (attempt {(resurrected or 0) + 1} "
                f"of {limit})."
            )
            if await self._set(run_id, version, state, detail, resurrect=True):
                self.rescheduled += 1

    async def _expire_leases(self, now: dt.datetime) -> None:
        """Hand back claimed runs whose agent process went silent before acknowledging."""
        async with self.db.read_session() as session:
            expired = await leases.expired_leases(
                session, lease=self.claim_lease, now=now, grace_from=self.started_at
            )
        for run_id, version, agent_id in expired:
            try:
                async with self.db.session() as session:
                    done = await leases.hand_back(
                        session,
                        run_id,
                        version,
                        "Handed back: the agent that claimed the run went silent.",
                        f"The agent{f' {agent_id}' if agent_id else ''} that claimed this run "
                        f"was not heard from for {self.claim_lease:g} seconds and never "
                        "started it; the run is back in the queue.",
                    )
                    if done:
                        await session.commit()
                        self.handed_back += 1
            except (Conflict, NotFound) as exc:
                logger.debug("Reaper left flow run %s alone: %s", run_id, exc)

    async def _lazarus_enabled(self, flow_group_id: str | None) -> bool:
        """False when the run's flow group turned resumption off (``lazarus_enabled``)."""
        if not flow_group_id:
            return True
        async with self.db.read_session() as session:
            group = await session.get(orm.FlowGroup, flow_group_id)
            settings = group.settings if group is not None else None
        return not (isinstance(settings, dict) and settings.get("lazarus_enabled") is False)

    async def _resume(self, run_id: str, version: int, resurrected: int) -> bool:
        """Lazarus: schedule a run whose process is gone again, keeping finished tasks."""
        attempt = resurrected + 1
        limit = self.max_resurrections
        try:
            async with self.db.session() as session:
                await resume_flow_run(
                    session,
                    run_id,
                    message=(
                        "Rescheduled by a Lazarus process: the flow run's process stopped "
                        f"sending heartbeats (attempt {attempt} of {limit})."
                    ),
                    expected_version=version,
                    resurrect=True,
                    log_name=_LOGGER_NAME,
                    log_message=(
                        "The flow run sent no heartbeat for more than "
                        f"{self.heartbeat_timeout:g} seconds: its process (and agent) are "
                        f"gone, so it is scheduled again (attempt {attempt} of {limit})."
                    ),
                )
                await session.commit()
        except (Conflict, NotFound) as exc:
            logger.debug("Reaper left flow run %s alone: %s", run_id, exc)
            return False
        logger.info("Reaper: flow run %s rescheduled (Lazarus, attempt %d)", run_id, attempt)
        return True

    async def _set(
        self,
        run_id: str,
        version: int,
        state: dict[str, Any],
        log_message: str | None = None,
        *,
        resurrect: bool = False,
        fail_task_runs: bool = False,
    ) -> bool:
        level = "INFO" if state["type"] == "Scheduled" else "ERROR"
        try:
            async with self.db.session() as session:
                result = await orchestration.set_flow_run_state(
                    session, run_id, state, expected_version=version
                )
                if result.status != "accepted":
                    await session.rollback()
                    return False
                if fail_task_runs:
                    await self._fail_task_runs(session, run_id)
                run = await session.get(orm.FlowRun, run_id)
                if run is not None and resurrect:
                    run.times_resurrected = (run.times_resurrected or 0) + 1
                log = orm.Log(
                    flow_run_id=run_id,
                    timestamp=dt.datetime.now(dt.UTC),
                    level=level,
                    name=_LOGGER_NAME,
                    message=log_message or str(state.get("message")),
                    info={},
                )
                session.add(log)
                await session.flush()
                queue_event(
                    session, "logs", flow_run_id=run_id, data={"count": 1, "max_id": log.id}
                )
                await session.commit()
        except (Conflict, NotFound) as exc:
            # The run changed since it was read, or vanished: it is no longer lost, or
            # another server process already handled it.
            logger.debug("Reaper left flow run %s alone: %s", run_id, exc)
            return False
        logger.info("Reaper: flow run %s -> %s", run_id, state["type"])
        return True

    async def _fail_task_runs(self, session: Any, flow_run_id: str) -> None:
        """Fail the task runs that were running in a flow run whose process is gone."""
        running = (
            await session.execute(
                select(orm.TaskRun.id, orm.TaskRun.version).where(
                    orm.TaskRun.flow_run_id == flow_run_id,
                    orm.TaskRun.state_type.in_(("Running", "Cancelling")),
                )
            )
        ).all()
        state = {"type": "Failed", "message": _TASK_RUN_MESSAGE}
        for task_run_id, version in running:
            await orchestration.set_task_run_state(
                session, task_run_id, state, expected_version=version
            )
