"""State-change hooks and their deliveries.

Contract: a hook names a kind (``webhook`` or ``slack``), environment variables of the
server that hold its URL and optional bearer token, and filters (flow name, project name,
state types; unset means any). :func:`matching_hooks` picks the active hooks for a flow
run's state; :func:`record_delivery` creates the one delivery row of a (hook, flow run,
state version): a second call for the same change returns ``None``, so a change is
delivered once even when several server processes see its event.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from headwater.server.database import orm
from headwater.server.database.engine import insert_unique
from headwater.server.database.orm_backend import Hook, HookDelivery
from headwater.server.models.errors import Conflict, NotFound

__all__ = [
    "create_hook",
    "delete_hook",
    "finish_delivery",
    "hook_matches",
    "matching_hooks",
    "read_deliveries",
    "read_hooks",
    "record_delivery",
    "require_hook",
    "set_hook_active",
]


async def create_hook(session: AsyncSession, **fields: Any) -> Hook:
    """Store a new hook.

    Raises:
        Conflict: a hook of that name exists.
    """
    existing = (
        await session.execute(select(Hook.id).where(Hook.name == fields["name"]))
    ).scalar_one_or_none()
    if existing is not None:
        raise Conflict(f"A hook named {fields['name']!r} already exists ({existing}).")
    hook = Hook(id=orm.new_id(), created=orm.utcnow(), **fields)
    try:
        if not await insert_unique(session, hook):
            raise Conflict(f"A hook named {fields['name']!r} already exists.")
    except IntegrityError:
        raise Conflict(f"A hook named {fields['name']!r} already exists.") from None
    return hook


async def require_hook(session: AsyncSession, hook_id_or_name: str) -> Hook:
    """The hook with this id or name.

    Raises:
        NotFound: no such hook.
    """
    hook = await session.get(Hook, hook_id_or_name)
    if hook is None:
        hook = (
            await session.execute(select(Hook).where(Hook.name == hook_id_or_name))
        ).scalar_one_or_none()
    if hook is None:
        raise NotFound(f"Hook {hook_id_or_name} not found.")
    return hook


async def read_hooks(session: AsyncSession, *, active: bool | None = None) -> list[Hook]:
    """Hooks by name."""
    query = select(Hook).order_by(Hook.name)
    if active is not None:
        query = query.where(Hook.active.is_(active))
    return list((await session.execute(query)).scalars())


async def set_hook_active(session: AsyncSession, hook_id_or_name: str, active: bool) -> Hook:
    """Switch a hook on or off.

    Raises:
        NotFound: no such hook.
    """
    hook = await require_hook(session, hook_id_or_name)
    hook.active = active
    await session.flush()
    return hook


async def delete_hook(session: AsyncSession, hook_id_or_name: str) -> None:
    """Delete a hook and its delivery records.

    Raises:
        NotFound: no such hook.
    """
    hook = await require_hook(session, hook_id_or_name)
    await session.execute(delete(HookDelivery).where(HookDelivery.hook_id == hook.id))
    await session.execute(delete(Hook).where(Hook.id == hook.id))
    session.expunge(hook)


def hook_matches(hook: Hook, run: orm.FlowRun, state_type: str) -> bool:
    """Whether ``hook`` fires for ``run`` entering a state of ``state_type``."""
    if not hook.active:
        return False
    if hook.flow_name is not None and hook.flow_name != run.flow_name:
        return False
    if hook.project_name is not None and hook.project_name != run.project_name:
        return False
    states = hook.states or []
    return not states or state_type in states


async def matching_hooks(session: AsyncSession, run: orm.FlowRun, state_type: str) -> list[Hook]:
    """The active hooks that fire for ``run`` entering ``state_type``."""
    return [h for h in await read_hooks(session, active=True) if hook_matches(h, run, state_type)]


async def record_delivery(
    session: AsyncSession, hook: Hook, flow_run_id: str, state_version: int, state_type: str
) -> HookDelivery | None:
    """Create the delivery of one state change for ``hook``; ``None`` if it exists."""
    exists = (
        await session.execute(
            select(HookDelivery.id).where(
                HookDelivery.hook_id == hook.id,
                HookDelivery.flow_run_id == flow_run_id,
                HookDelivery.state_version == state_version,
            )
        )
    ).scalar_one_or_none()
    if exists is not None:
        return None
    delivery = HookDelivery(
        id=orm.new_id(),
        hook_id=hook.id,
        flow_run_id=flow_run_id,
        state_version=state_version,
        state_type=state_type,
        status="pending",
        attempts=0,
        created=orm.utcnow(),
    )
    try:
        if not await insert_unique(session, delivery):
            return None
    except IntegrityError:
        return None
    return delivery


async def finish_delivery(
    session: AsyncSession,
    delivery_id: str,
    *,
    status: str,
    attempts: int,
    response_status: int | None,
    error: str | None,
) -> None:
    """Record how a delivery ended (``sent`` or ``failed``)."""
    await session.execute(
        update(HookDelivery)
        .where(HookDelivery.id == delivery_id)
        .values(
            status=status,
            attempts=attempts,
            response_status=response_status,
            error=error[:2000] if error else None,
            finished=orm.utcnow(),
        )
        .execution_options(synchronize_session=False)
    )


async def read_deliveries(
    session: AsyncSession,
    *,
    hook_id: str | None = None,
    flow_run_id: str | None = None,
    limit: int = 200,
) -> list[HookDelivery]:
    """Deliveries, newest first."""
    query = select(HookDelivery)
    if hook_id is not None:
        query = query.where(HookDelivery.hook_id == hook_id)
    if flow_run_id is not None:
        query = query.where(HookDelivery.flow_run_id == flow_run_id)
    query = query.order_by(HookDelivery.created.desc(), HookDelivery.id).limit(limit)
    return list((await session.execute(query)).scalars())
