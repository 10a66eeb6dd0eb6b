"""Claim leases: a claimed run whose agent never got the answer goes back to the queue.

Contract:

- An agent process claims with a ``token`` of its own (random, one per process) and lists
  in every claim the runs it supervises. The claim records the token on each run it
  moves to ``Submitted`` (:func:`record_claims`).
- The agent adds every run it receives to that list before its next claim, and makes its
  claims one at a time. So when a claim of token T arrives, a run still ``Submitted``
  under T that T does not list was never received: the answer was lost (the server died
  after committing, the connection broke). :func:`hand_back_unacknowledged` puts such
  runs back to ``Scheduled`` at once, and the same claim may hand them out again. No
  process was started for them, so nothing runs twice.
- Each claim renews the lease of the Submitted runs it lists (:func:`acknowledge`); a
  long-poll claims again at least every :func:`refresh_interval` seconds (a third of the
  lease, at most :data:`SEEN_INTERVAL`), so the leases of a living agent never expire.
  A process that is never heard from again (killed right after a claim) renews nothing: the reaper hands
  back runs whose lease is older than ``claim_lease`` (:func:`expired_leases`).
- Every change goes through the orchestration rules with the version that was read, and
  writes a log line on the run saying why it was handed back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from headwater.server.database import orm, queue_event
from headwater.server.models.errors import Conflict
from headwater.server.orchestration._core import set_flow_run_state

__all__ = [
    "SEEN_INTERVAL",
    "acknowledge",
    "expired_leases",
    "hand_back",
    "hand_back_unacknowledged",
    "record_claims",
    "refresh_interval",
]

#: Most seconds a claim long-poll waits before it looks (and renews leases) again.
SEEN_INTERVAL = 10.0


def refresh_interval(lease: float) -> float:
    """How often a waiting claim renews its leases: at most a third of the lease."""
    return max(0.2, min(SEEN_INTERVAL, lease / 3))


_LOGGER = "headwater.server.claims"


def record_claims(runs: Sequence[orm.FlowRun], token: str | None) -> None:
    """Remember which agent process each freshly claimed run was handed to."""
    for run in runs:
        run.claim_token = token


async def hand_back(
    session: AsyncSession, run_id: str, version: int, message: str, log_message: str
) -> bool:
    """Put one Submitted run back to Scheduled (due now); False if it moved on meanwhile."""
    now = dt.datetime.now(dt.UTC)
    state = {"type": "Scheduled", "message": message, "start_time": now.isoformat()}
    try:
        result = await set_flow_run_state(session, run_id, state, expected_version=version)
    except Conflict:
        return False
    if result.status != "accepted":
        return False
    run = await session.get(orm.FlowRun, run_id)
    if run is not None:
        run.claim_token = None
    log = orm.Log(
        flow_run_id=run_id,
        timestamp=now,
        level="WARNING",
        name=_LOGGER,
        message=log_message,
        info={},
    )
    session.add(log)
    await session.flush()
    queue_event(session, "logs", flow_run_id=run_id, data={"count": 1, "max_id": log.id})
    return True


async def hand_back_unacknowledged(
    session: AsyncSession, *, agent_id: str, agent_name: str, token: str, running: Sequence[str]
) -> list[str]:
    """Hand back runs Submitted under ``token`` that the agent does not list; the caller commits.

    Returns:
        Ids of the runs put back in the queue.
    """
    fr = orm.FlowRun
    rows = (
        await session.execute(
            select(fr.id, fr.version).where(
                fr.state_type == "Submitted", fr.agent_id == agent_id, fr.claim_token == token
            )
        )
    ).all()
    listed = set(running)
    handed: list[str] = []
    for run_id, version in rows:
        if run_id in listed:
            continue
        if await hand_back(
            session,
            str(run_id),
            version,
            "Handed back: the claim's answer never reached the agent.",
            f"Agent {agent_name!r} claimed again without listing this run, so the answer to "
            "the claim that handed it out was lost (server restart or broken connection); "
            "the run is back in the queue.",
        ):
            handed.append(str(run_id))
    return handed


async def acknowledge(session: AsyncSession, *, token: str, running: Sequence[str]) -> None:
    """Renew the lease of the Submitted runs that the claiming process lists as its own."""
    wanted = list(dict.fromkeys(running))
    if not wanted:
        return
    fr = orm.FlowRun
    now = dt.datetime.now(dt.UTC)
    for start in range(0, len(wanted), 500):
        await session.execute(
            update(fr)
            .where(
                fr.id.in_(wanted[start : start + 500]),
                fr.state_type == "Submitted",
                fr.claim_token == token,
            )
            .values(heartbeat=now)
            .execution_options(synchronize_session=False)
        )


async def expired_leases(
    session: AsyncSession, *, lease: float, now: dt.datetime, grace_from: dt.datetime
) -> list[tuple[str, int, str | None]]:
    """Submitted runs whose claiming process was not heard from for ``lease`` seconds.

    Each claim of that process renews the lease of the runs it lists (:func:`acknowledge`),
    and a waiting long-poll claims again at least every :func:`refresh_interval` s. Time
    before ``grace_from`` (the reaper's start) does not count: while the server was down no
    agent could be heard.

    Returns:
        ``(run id, version, agent id)`` of each such run.
    """
    cutoff = now - dt.timedelta(seconds=lease)
    if grace_from > cutoff:
        return []
    fr = orm.FlowRun
    alive = func.coalesce(fr.heartbeat, fr.state_timestamp)
    rows = (
        await session.execute(
            select(fr.id, fr.version, fr.agent_id)
            .where(fr.state_type == "Submitted", fr.claim_token.is_not(None), alive < cutoff)
            .order_by(fr.id)
            .limit(200)
        )
    ).all()
    return [(str(i), int(v), a) for i, v, a in rows]
