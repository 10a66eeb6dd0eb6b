"""A flow run's ancestors, and the ceiling on how deeply runs may nest.

Contract:
    :func:`ancestors` reads a run and its parents up the ``parent_flow_run_id`` chain in
    one recursive query (SQLite and PostgreSQL alike), nearest first, stopping after
    ``limit`` rows. :func:`check_nesting` is called when a child run is created: a child
    of ``parent_flow_run_id`` gets one ancestor more than its parent has; more than
    ``max_depth`` ancestors is an :class:`~headwater.server.models.errors.InvalidInput`
    (422) whose detail names the chain, so a flow that keeps starting runs of itself stops
    at the ceiling instead of taking the machine down. A missing parent is a
    :class:`~headwater.server.models.errors.NotFound`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from headwater.server.database import orm
from headwater.server.models.errors import InvalidInput, NotFound

__all__ = ["Ancestor", "ancestors", "check_nesting"]

#: Runs of a too-deep chain listed in full at each end of the error's detail.
_SHOWN_AT_EACH_END = 4


@dataclass(frozen=True)
class Ancestor:
    """One run of a parent chain."""

    id: str
    flow_name: str
    name: str


async def ancestors(session: AsyncSession, flow_run_id: str, limit: int) -> list[Ancestor]:
    """``flow_run_id`` and its ancestors, nearest first, at most ``limit`` of them."""
    run = orm.FlowRun
    chain = (
        select(
            run.id,
            run.parent_flow_run_id,
            run.flow_name,
            run.name,
            literal(1).label("level"),
        )
        .where(run.id == flow_run_id)
        .cte("ancestors", recursive=True)
    )
    parent = aliased(orm.FlowRun)
    chain = chain.union_all(
        select(
            parent.id,
            parent.parent_flow_run_id,
            parent.flow_name,
            parent.name,
            (chain.c.level + 1).label("level"),
        ).where(parent.id == chain.c.parent_flow_run_id, chain.c.level < limit)
    )
    rows = await session.execute(
        select(chain.c.id, chain.c.flow_name, chain.c.name).order_by(chain.c.level)
    )
    return [Ancestor(id=r.id, flow_name=r.flow_name, name=r.name) for r in rows]


def _describe(chain: list[Ancestor]) -> str:
    """The chain root first, e.g. ``'a' run 'x' (id) -> 'b' run 'y' (id)``."""
    ordered = list(reversed(chain))
    parts = [f"{a.flow_name!r} run {a.name!r} ({a.id})" for a in ordered]
    if len(parts) > 2 * _SHOWN_AT_EACH_END + 1:
        hidden = len(parts) - 2 * _SHOWN_AT_EACH_END
        parts = [
            *parts[:_SHOWN_AT_EACH_END],
            f"... {hidden} more ...",
            *parts[-_SHOWN_AT_EACH_END:],
        ]
    return " -> ".join(parts)


async def check_nesting(
    session: AsyncSession, parent_flow_run_id: str, flow_name: str, max_depth: int
) -> None:
    """Refuse a child of ``parent_flow_run_id`` that would nest deeper than ``max_depth``.

    Raises:
        NotFound: the parent run does not exist.
        InvalidInput: the child would have more than ``max_depth`` ancestors.
    """
    chain = await ancestors(session, parent_flow_run_id, max_depth + 1)
    if not chain:
        raise NotFound(f"Parent flow run {parent_flow_run_id} not found.")
    if len(chain) < max_depth + 1:
        return
    raise InvalidInput(
        f"Flow run nesting too deep: a run of {flow_name!r} under parent flow run "
        f"{parent_flow_run_id} would have more than {max_depth} ancestor runs (the limit, "
        f"HEADWATER_SERVER_MAX_RUN_DEPTH). A flow that starts runs of itself, or a flow "
        f"script that creates runs while it is loaded, nests without end. Chain, root "
        f"first: {_describe(chain)}."
    )
