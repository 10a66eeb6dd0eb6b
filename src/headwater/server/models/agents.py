"""Agent queries: registration (identical records reused), listing, last-seen stamps,
the process counts agents report."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from headwater.server.database import orm, queue_event
from headwater.server.database.locks import advisory_lock

__all__ = ["read_agent", "read_agents", "register_agent", "report_agent_stats", "touch_agent"]


async def register_agent(
    session: AsyncSession, *, name: str | None, type: str, labels: list[str]
) -> orm.Agent:
    """Register an agent; a record with the same name, type and labels is reused.

    The returned agent's ``last_seen`` is now.
    """
    clean = sorted(set(labels))
    key = "\n".join(clean)
    agent_name = name or type
    # Identical registrations take turns so that they end up with one record.
    await advisory_lock(session, f"headwater-agent:{agent_name}:{type}:{key}")
    existing = (
        await session.execute(
            select(orm.Agent)
            .where(
                orm.Agent.name == agent_name, orm.Agent.type == type, orm.Agent.labels_key == key
            )
            .order_by(orm.Agent.created)
            .limit(1)
        )
    ).scalar_one_or_none()
    now = orm.utcnow()
    if existing is not None:
        existing.last_seen = now
        agent = existing
    else:
        agent = orm.Agent(
            id=orm.new_id(),
            name=agent_name,
            type=type,
            labels=clean,
            labels_key=key,
            last_seen=now,
            created=now,
        )
        session.add(agent)
    await session.flush()
    queue_event(session, "agent.registered", data={"agent_id": agent.id})
    return agent


async def read_agent(session: AsyncSession, agent_id: str) -> orm.Agent | None:
    """The agent with this id, or ``None``."""
    return await session.get(orm.Agent, agent_id)


async def read_agents(session: AsyncSession) -> list[orm.Agent]:
    """Every agent, most recently seen first."""
    result = await session.execute(
        select(orm.Agent).order_by(orm.Agent.last_seen.desc(), orm.Agent.created.desc())
    )
    return list(result.scalars())


async def touch_agent(session: AsyncSession, agent_id: str) -> bool:
    """Stamp an agent's ``last_seen`` with now; False when the agent is unknown."""
    result = await session.execute(
        update(orm.Agent)
        .where(orm.Agent.id == agent_id)
        .values(last_seen=orm.utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def report_agent_stats(
    session: AsyncSession, agent_id: str, stats: dict[str, object]
) -> orm.Agent | None:
    """Store an agent's process counts (stamped ``reported_at``) and stamp ``last_seen``.

    Returns:
        The agent, or None when it is unknown.
    """
    agent = await session.get(orm.Agent, agent_id)
    if agent is None:
        return None
    now = orm.utcnow()
    agent.stats = {**stats, "reported_at": now.isoformat()}
    agent.last_seen = now
    await session.flush()
    return agent
