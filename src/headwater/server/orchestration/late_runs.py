"""Late-run policies: cancel the runs that became late, as each flow group says.

Contract: :func:`apply_late_run_policy` handles runs that became late (never submitted,
due in the past; found by :func:`headwater.server.models.schedules.late_runs`): ``all``
leaves them (Prefect 1's behaviour), ``latest`` cancels all but the newest due one of
each group, ``skip`` cancels those more than ``late_runs_max_age`` seconds late.
Cancelled runs keep their slot. Each cancel goes through the orchestration rules with
the version that was read; a run claimed or removed meanwhile is left alone.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from headwater.server.models import schedules
from headwater.server.models.errors import Conflict, NotFound
from headwater.server.orchestration._core import set_flow_run_state

__all__ = ["apply_late_run_policy"]


async def apply_late_run_policy(session: AsyncSession, now: dt.datetime) -> int:
    """Cancel late runs as each group's late-run policy says (caller commits).

    Returns:
        How many runs were cancelled.
    """
    rows = await schedules.late_runs(session, now)
    newest_seen: set[str] = set()
    cancelled = 0
    for run_id, version, group_id, due, policy, max_age in rows:
        due = due if due.tzinfo else due.replace(tzinfo=dt.UTC)
        if policy == "latest":
            if group_id not in newest_seen:
                newest_seen.add(group_id)
                continue
            message = (
                "Skipped by the flow group's late-run policy 'latest': a newer scheduled "
                "run of this flow is due."
            )
        elif policy == "skip" and max_age is not None:
            late = (now - due).total_seconds()
            if late <= max_age:
                continue
            message = (
                f"Skipped by the flow group's late-run policy 'skip': the run was "
                f"{late:.0f} s late, more than the {max_age:g} s allowed."
            )
        else:
            continue
        try:
            result = await set_flow_run_state(
                session,
                run_id,
                {"type": "Cancelled", "message": message},
                expected_version=version,
            )
        except (Conflict, NotFound):
            continue  # claimed or removed meanwhile: no longer late
        if result.status == "accepted":
            cancelled += 1
    return cancelled
