"""Atomic claims of due flow runs by agents.

Contract:

- A flow run is *due* when its state is ``Scheduled`` and its start time (the Scheduled
  state's own ``start_time``, else the run's ``scheduled_start_time``) is not in the
  future. It *fits* an agent when the run's labels are a subset of the agent's labels; a
  run without labels fits only an agent without labels (the ``flow_run_labels`` mirror
  table makes this one portable SQL filter).
- :func:`claim_flow_runs` moves up to ``limit`` due, fitting runs (oldest start first) to
  ``Submitted`` for the agent through the orchestration rules, each with the version it
  read as ``expected_version``. On PostgreSQL the candidate rows are read with
  ``FOR UPDATE SKIP LOCKED``, so concurrent claimers in any number of server processes
  never pick the same row; on SQLite (one server process per database file) writing
  sessions are serialised by the database layer and the version check guards the rest.
  Either way a run is claimed by at most one agent, ever.
- Flow concurrency limits by label: the limits on the agent's labels are locked before
  the candidates are read, runs with a label at its limit are left out, and a run is
  claimed only while each of its limited labels has room
  (:mod:`headwater.server.models.concurrency_slots`); the others stay Scheduled.
- :func:`claim_for_agent` is one claim of an agent's long-poll: it stamps the agent as
  seen, settles the leases of its process's token
  (:mod:`headwater.server.orchestration.leases`), lists the runs it should stop, and
  claims.
- The caller owns the transaction and commits it; the orchestration layer queues the
  ``flow_run.state`` events, which are published once the commit succeeded.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from headwater.server.database import orm
from headwater.server.models import agents, flow_runs
from headwater.server.models.concurrency_slots import lock_flow_run_slots
from headwater.server.models.errors import Conflict, NotFound
from headwater.server.orchestration import leases
from headwater.server.orchestration._core import set_flow_run_state
from headwater.server.schemas import states

__all__ = [
    "CANCEL_STATES",
    "CLAIMABLE_STATES",
    "FINISHED_STATES",
    "AgentClaim",
    "ClaimResult",
    "claim_flow_runs",
    "claim_for_agent",
    "labels_fit",
    "next_due_time",
    "runs_to_cancel",
]

#: States an agent may claim a run from.
CLAIMABLE_STATES: tuple[str, ...] = ("Scheduled",)

#: Finished state types (contracts.md section 2).
FINISHED_STATES = states.FINISHED

#: A run in one of these states should no longer be executing on an agent.
CANCEL_STATES = FINISHED_STATES | {"Cancelling"}


def _as_labels(raw: Any) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return [raw]
    if isinstance(raw, list | tuple | set | frozenset):
        return [str(x) for x in raw]
    return []


def labels_fit(run_labels: Iterable[str] | None, agent_labels: Iterable[str] | None) -> bool:
    """Whether a run with ``run_labels`` may go to an agent with ``agent_labels``.

    Args:
        run_labels: The flow run's labels (``None`` counts as none).
        agent_labels: The agent's labels (``None`` counts as none).

    Returns:
        True when the run's labels are a subset of the agent's, except that a run
        without labels only fits an agent without labels.
    """
    run = set(run_labels or ())
    agent = set(agent_labels or ())
    if not run:
        return not agent
    return run <= agent


@dataclass
class ClaimResult:
    """What one claim attempt found.

    Attributes:
        claimed: Flow runs now ``Submitted`` to the agent (ORM rows, refreshed).
        versions: The state version each claimed run reached, by id.
        next_due: Earliest future start time of a fitting scheduled run, if any.
    """

    claimed: list[Any] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)
    next_due: dt.datetime | None = None


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def _label_clause(agent_labels: Sequence[str]) -> ColumnElement[bool]:
    """SQL form of :func:`labels_fit`, through the ``flow_run_labels`` mirror table."""
    fr, lab = orm.FlowRun, orm.FlowRunLabel
    wanted = sorted(set(agent_labels))
    foreign = select(lab.flow_run_id).where(lab.flow_run_id == fr.id)
    if not wanted:
        return ~foreign.exists()
    outside = foreign.where(lab.label.not_in(wanted))
    return and_(foreign.exists(), ~outside.exists())


def _due_time() -> ColumnElement[dt.datetime]:
    # The Scheduled state's own start time wins (a rescheduled run keeps its original
    # scheduled_start_time); fall back to the run's scheduled start.
    return func.coalesce(orm.FlowRun.state_start_time, orm.FlowRun.scheduled_start_time)


async def next_due_time(
    session: AsyncSession, *, agent_labels: Sequence[str], now: dt.datetime
) -> dt.datetime | None:
    """Earliest ``scheduled_start_time`` after ``now`` of a claimable run fitting the agent."""
    fr = orm.FlowRun
    stmt = select(func.min(_due_time())).where(
        fr.state_type.in_(CLAIMABLE_STATES),
        _due_time() > now,
        _label_clause(agent_labels),
    )
    value = (await session.execute(stmt)).scalar_one_or_none()
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value if isinstance(value, dt.datetime) else None


async def runs_to_cancel(session: AsyncSession, running: Sequence[str]) -> list[str]:
    """Ids among ``running`` that should stop: Cancelling, finished, or deleted."""
    wanted = list(dict.fromkeys(running))
    if not wanted:
        return []
    fr = orm.FlowRun
    found: dict[str, str | None] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = await session.execute(select(fr.id, fr.state_type).where(fr.id.in_(chunk)))
        found.update({str(i): s for i, s in rows.all()})
    return [i for i in wanted if i not in found or found[i] in CANCEL_STATES]


async def claim_flow_runs(
    session: AsyncSession,
    *,
    agent_id: str,
    agent_name: str,
    agent_labels: Sequence[str],
    limit: int,
    now: dt.datetime | None = None,
) -> ClaimResult:
    """Claim up to ``limit`` due runs fitting the agent; the caller commits.

    Args:
        session: Open session; the claims become visible when the caller commits.
        agent_id: The claiming agent; recorded on each run by the Submitted state.
        agent_name: Used in the Submitted state's message.
        agent_labels: The agent's labels.
        limit: Most runs to claim.
        now: The time that decides what is due (default: now, UTC).

    Returns:
        The claimed runs and the next future start time of a fitting run.
    """
    now = now or dt.datetime.now(dt.UTC)
    fr = orm.FlowRun
    result = ClaimResult()
    if limit > 0:
        # Concurrency limits by label: lock them first; full labels' runs stay Scheduled.
        slots = await lock_flow_run_slots(session, agent_labels)
        stmt = (
            select(fr)
            .where(
                fr.state_type.in_(CLAIMABLE_STATES),
                _due_time() <= now,
                _label_clause(agent_labels),
                *slots.where(),
            )
            .order_by(_due_time(), fr.created, fr.id)
            .limit(limit)
        )
        if _dialect(session) == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True, of=fr)
        runs = list((await session.execute(stmt)).scalars().all())
        for run in runs:
            if not labels_fit(_as_labels(run.labels), agent_labels):
                continue  # the SQL filter agrees; this guards odd stored label values
            if not slots.take(_as_labels(run.labels)):
                continue  # a label reached its concurrency limit in this pass
            state = {
                "type": "Submitted",
                "message": f"Submitted for execution to agent {agent_name!r}.",
            }
            try:
                outcome = await set_flow_run_state(
                    session, str(run.id), state, expected_version=run.version, agent_id=agent_id
                )
            except Conflict:
                continue  # changed since it was read (e.g. cancelled): not claimable now
            if outcome.status == "accepted":
                result.claimed.append(run)
                result.versions[str(run.id)] = outcome.version
    if not result.claimed and limit > 0:
        result.next_due = await next_due_time(session, agent_labels=agent_labels, now=now)
    return result


@dataclass
class AgentClaim:
    """One claim of an agent.

    Attributes:
        claimed: Flow runs now ``Submitted`` to the agent (ORM rows, reloaded).
        cancel: Ids among the runs the agent listed that it should stop.
        next_due: Earliest future start time of a fitting scheduled run, if any.
    """

    claimed: list[Any]
    cancel: list[str]
    next_due: dt.datetime | None


async def claim_for_agent(
    session: AsyncSession,
    agent_id: str,
    *,
    token: str | None,
    running: Sequence[str],
    limit: int,
) -> AgentClaim:
    """Claim for a registered agent (an agent process: ``token``); the caller commits.

    Args:
        session: Open session.
        agent_id: The claiming agent.
        token: The agent process's token; with one, the leases of the runs it lists are
            renewed and its claimed runs it does not list are handed back.
        running: The runs the agent supervises.
        limit: Most runs to claim.

    Raises:
        NotFound: The agent is not registered.
    """
    agent = await agents.read_agent(session, agent_id)
    if agent is None:
        raise NotFound(f"Agent {agent_id!r} not found; register it with POST /agents.")
    agent.last_seen = dt.datetime.now(dt.UTC)
    if token:
        await leases.acknowledge(session, token=token, running=running)
        await leases.hand_back_unacknowledged(
            session,
            agent_id=agent_id,
            agent_name=agent.name,
            token=token,
            running=running,
        )
    cancel = await runs_to_cancel(session, running)
    result = await claim_flow_runs(
        session,
        agent_id=agent_id,
        agent_name=agent.name,
        agent_labels=list(agent.labels or []),
        limit=limit,
    )
    leases.record_claims(result.claimed, token)
    await flow_runs.refresh_flow_runs(session, result.claimed)
    return AgentClaim(claimed=result.claimed, cancel=cancel, next_due=result.next_due)
