"""The scheduler: keeps every switched-on flow group's runs ahead of time.

Contract (one pass, every ``settings.scheduler_interval`` seconds; the late-run policies
also run once before the server takes requests, so that no agent claims a run the policy
skips; the first top-up runs in the background right after, so a long backlog never
delays the server's start):

- First the late-run policies (:func:`~headwater.server.orchestration.late_runs.apply_late_run_policy`):
  after downtime, runs that became late are run, reduced to the newest, or skipped as
  each group says. Nothing past is ever created by the service (no back-fill).
- Then every switched-on group with a schedule whose runs ahead may be too few
  (:func:`~headwater.server.models.schedules.groups_needing_runs`, two queries when
  nothing is to do) is reconciled in its own transaction. On PostgreSQL the group's row
  is locked with ``SKIP LOCKED``: when another server process is scheduling it, this one
  moves on. The runs' keys make a second creation impossible anyway.
- A group whose schedule cannot run (say, a required parameter lost its default) is
  logged once per pass and skipped; it never stops the pass.
"""

from __future__ import annotations

import logging
from typing import Any

from headwater.server.database import orm
from headwater.server.models import schedules
from headwater.server.models.errors import DomainError
from headwater.server.orchestration.late_runs import apply_late_run_policy
from headwater.server.services._base import Service
from headwater.server.settings import ServerSettings

__all__ = ["Scheduler"]

logger = logging.getLogger("headwater.server.services.scheduler")


class Scheduler(Service):
    """Creates scheduled flow runs ahead and applies the late-run policies.

    Args:
        db: The server's ``Database``.
        interval: Seconds between passes.
    """

    name = "scheduler"

    def __init__(self, db: Any, *, interval: float = ServerSettings.scheduler_interval) -> None:
        super().__init__(interval)
        self.db = db
        self.created = 0
        self.removed = 0
        self.skipped_late = 0

    @classmethod
    def from_settings(cls, db: Any, settings: ServerSettings) -> Scheduler:
        """A scheduler configured by the server's settings."""
        return cls(db, interval=settings.scheduler_interval)

    async def start(self) -> None:
        """Apply the late-run policies now (before any agent claims), then loop."""
        if self.interval <= 0 or self.running:
            return
        try:
            await self.apply_late_run_policies()
        except Exception:
            logger.exception("Scheduler: the start-up late-run pass failed.")
        await super().start()

    async def apply_late_run_policies(self) -> None:
        """Cancel the late runs each group's late-run policy says to skip."""
        async with self.db.session() as session:
            skipped = await apply_late_run_policy(session, orm.utcnow())
            await session.commit()
        self.skipped_late += skipped

    async def run_once(self) -> None:
        """Apply the late-run policies, then top up the runs ahead of every group."""
        await self.apply_late_run_policies()
        now = orm.utcnow()
        async with self.db.read_session() as session:
            needing = await schedules.groups_needing_runs(session, now)
        for group_id in needing:
            try:
                async with self.db.session() as session:
                    done = await schedules.reconcile(
                        session, group_id, now=orm.utcnow(), skip_locked=True
                    )
                    await session.commit()
            except DomainError as exc:
                logger.warning("Scheduler: flow group %s not scheduled: %s", group_id, exc)
                continue
            except Exception:
                # One group's failure (a database hiccup, say) must not starve the others.
                logger.exception("Scheduler: scheduling flow group %s failed", group_id)
                continue
            if done is not None:
                self.created += done.created
                self.removed += done.removed
                if done.created:
                    logger.info(
                        "Scheduler: %d run(s) created for flow group %s", done.created, group_id
                    )
