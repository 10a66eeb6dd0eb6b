"""Enforcing concurrency limits: the claim gate for flow runs, admission for task runs.

Contract:

- Atomicity. A decision (claim these runs / let this task run start) is taken after
  locking the limit rows it depends on, in label/tag order, and is committed by the same
  transaction that writes the resulting states. On PostgreSQL the rows are locked
  ``FOR UPDATE``, so two claimers (or two starting task runs) sharing a limited label
  (tag) take turns, in any number of server processes, and the second one counts after
  the first committed (READ COMMITTED reads the latest commit per statement). On SQLite
  every writing transaction is ``BEGIN IMMEDIATE`` and serialised, which gives the same
  order. Limits that cannot matter are not locked: an agent can only take runs whose
  labels are a subset of its own, so only limits on the agent's labels are read.
- :func:`lock_flow_run_slots` returns a :class:`FlowRunSlots`: SQL clauses that keep runs
  with a label at its limit out of the candidates, and :meth:`FlowRunSlots.take`, which
  admits a run only while each of its limited labels has room, counting the runs claimed
  so far in the same pass. Runs that do not fit stay Scheduled, untouched.
- :func:`admit_task_run` decides a task run's proposed Running state: ``None`` lets it
  run (and records the task's tags in ``task_run_tags`` on its first start), a Queued
  state names the tags at their limit. A task run already running keeps its slot. The
  tags are those of the task as registered with the flow version (``flows.tasks``), never
  what the caller claims.
- :func:`task_run_slot_free` tells a waiting task run whether its limited tags have room
  now (a hint for long-polls; the decision is :func:`admit_task_run`'s).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from headwater.server.database import orm
from headwater.server.models.concurrency_limits import (
    TASK_RUN_SLOT_STATES,
    flow_label_usage,
    task_tag_usage,
)
from headwater.server.models.errors import NotFound

__all__ = [
    "FlowRunSlots",
    "SlotCheck",
    "admit_task_run",
    "check_task_run_slot",
    "lock_flow_run_slots",
    "task_run_slot_free",
    "task_run_tags",
]

# flow id -> {task slug: tags}; flow versions never change, so entries never go stale.
_TAGS_CACHE: OrderedDict[str, dict[str, tuple[str, ...]]] = OrderedDict()
_TAGS_CACHE_SIZE = 256
# flow run id -> flow id (a run never changes its flow version), so that starting an
# untagged task costs no query once its flow run is known.
_FLOW_OF_RUN: OrderedDict[str, str] = OrderedDict()
_FLOW_OF_RUN_SIZE = 4096


def _remember(cache: OrderedDict[str, Any], key: str, value: Any, size: int) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > size:
        cache.popitem(last=False)


@dataclass
class FlowRunSlots:
    """The label limits one claim pass works within.

    Attributes:
        limits: Limit per limited label among the agent's labels.
        used: Slots held per limited label (runs claimed in this pass included).
    """

    limits: dict[str, int] = field(default_factory=dict)
    used: dict[str, int] = field(default_factory=dict)

    def full(self) -> list[str]:
        """Limited labels without a free slot."""
        return sorted(k for k, n in self.limits.items() if self.used.get(k, 0) >= n)

    def where(self) -> list[ColumnElement[bool]]:
        """Clauses for the candidate query: no label at its limit."""
        full = self.full()
        if not full:
            return []
        lab = orm.FlowRunLabel
        blocked = select(lab.flow_run_id).where(
            lab.flow_run_id == orm.FlowRun.id, lab.label.in_(full)
        )
        return [~blocked.exists()]

    def take(self, labels: Iterable[str]) -> bool:
        """Admit a run with ``labels`` if each limited one has room; count it if so."""
        limited = [label for label in set(labels) if label in self.limits]
        if any(self.used.get(label, 0) >= self.limits[label] for label in limited):
            return False
        for label in limited:
            self.used[label] = self.used.get(label, 0) + 1
        return True


def _lock(session: AsyncSession, stmt: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return stmt.with_for_update()
    return stmt


async def lock_flow_run_slots(session: AsyncSession, agent_labels: Sequence[str]) -> FlowRunSlots:
    """Lock the limits on the agent's labels and count the slots they hold."""
    wanted = sorted(set(agent_labels))
    if not wanted:
        return FlowRunSlots()
    limit = orm.FlowConcurrencyLimit
    rows = (
        await session.execute(
            _lock(
                session,
                select(limit.label, limit.concurrency_limit)
                .where(limit.label.in_(wanted))
                .order_by(limit.label),
            )
        )
    ).all()
    limits = {str(label): int(n) for label, n in rows}
    if not limits:
        return FlowRunSlots()
    return FlowRunSlots(limits=limits, used=await flow_label_usage(session, limits))


async def task_run_tags(session: AsyncSession, task_run: orm.TaskRun) -> tuple[str, ...]:
    """The tags of a task run's task as registered with its flow version."""
    flow_id = _FLOW_OF_RUN.get(task_run.flow_run_id)
    if flow_id is None:
        flow_id = (
            await session.execute(
                select(orm.FlowRun.flow_id).where(orm.FlowRun.id == task_run.flow_run_id)
            )
        ).scalar_one_or_none()
        if flow_id is None:
            return ()
        _remember(_FLOW_OF_RUN, task_run.flow_run_id, flow_id, _FLOW_OF_RUN_SIZE)
    by_slug = _TAGS_CACHE.get(flow_id)
    if by_slug is None:
        tasks = (
            await session.execute(select(orm.Flow.tasks).where(orm.Flow.id == flow_id))
        ).scalar_one_or_none()
        by_slug = {}
        for item in tasks or []:
            if isinstance(item, dict) and isinstance(item.get("slug"), str):
                raw = item.get("tags") or []
                tags = raw if isinstance(raw, list) else []
                by_slug[item["slug"]] = tuple(sorted({str(t) for t in tags if t}))
        _remember(_TAGS_CACHE, flow_id, by_slug, _TAGS_CACHE_SIZE)
    else:
        _TAGS_CACHE.move_to_end(flow_id)
    return by_slug.get(task_run.task_slug, ())


async def _full_tags(
    session: AsyncSession, task_run_id: str, tags: Sequence[str], *, lock: bool
) -> dict[str, int]:
    """Limited tags among ``tags`` without room for one more task run: tag -> limit."""
    limit = orm.TaskTagLimit
    stmt = (
        select(limit.tag, limit.concurrency_limit)
        .where(limit.tag.in_(list(tags)))
        .order_by(limit.tag)
    )
    rows = (await session.execute(_lock(session, stmt) if lock else stmt)).all()
    limits = {str(tag): int(n) for tag, n in rows}
    if not limits:
        return {}
    used = await task_tag_usage(session, limits, exclude=[task_run_id])
    return {tag: n for tag, n in limits.items() if used.get(tag, 0) >= n}


def _queued(full: dict[str, int]) -> dict[str, Any]:
    names = ", ".join(f"{tag!r} (limit {n})" for tag, n in sorted(full.items()))
    noun = "tag" if len(full) == 1 else "tags"
    return {
        "type": "Queued",
        "message": (
            f"Queued: the concurrency limit of {noun} {names} is reached; "
            "the task run starts when a slot frees."
        ),
        "context": {"full_tags": sorted(full)},
    }


async def admit_task_run(session: AsyncSession, task_run: orm.TaskRun) -> dict[str, Any] | None:
    """Decide a proposed Running state of ``task_run`` (row locked by the caller).

    Returns:
        ``None`` when it may run, else the Queued state to store instead.
    """
    if task_run.state_type in TASK_RUN_SLOT_STATES:
        return None  # it holds its slots already
    tags = await task_run_tags(session, task_run)
    if not tags:
        return None
    full = await _full_tags(session, task_run.id, tags, lock=True)
    if full:
        return _queued(full)
    if task_run.start_time is None:
        # First start: record the tags so that this run counts against them from now on.
        existing = set(
            (
                await session.execute(
                    select(orm.TaskRunTag.tag).where(orm.TaskRunTag.task_run_id == task_run.id)
                )
            ).scalars()
        )
        session.add_all(
            orm.TaskRunTag(task_run_id=task_run.id, tag=tag) for tag in tags if tag not in existing
        )
    return None


async def task_run_slot_free(session: AsyncSession, task_run: orm.TaskRun) -> list[str]:
    """Limited tags of ``task_run`` that are at their limit now (empty: it may start)."""
    tags = await task_run_tags(session, task_run)
    if not tags:
        return []
    return sorted(await _full_tags(session, task_run.id, tags, lock=False))


@dataclass(frozen=True)
class SlotCheck:
    """Whether a waiting task run may start now (a hint: Running still decides).

    Attributes:
        available: True when it may propose Running (or waiting is pointless).
        state_type: The task run's state type.
        full_tags: Its limited tags that are at their limit.
    """

    available: bool
    state_type: str | None
    full_tags: list[str]


async def check_task_run_slot(session: AsyncSession, task_run_id: str) -> SlotCheck:
    """Whether a task run waiting in Queued may start now.

    It may when it is not Queued, or when its flow run is not Running (proposing
    Running will be refused, so there is nothing to wait for), or when its limited tags
    have room.

    Raises:
        NotFound: No such task run.
    """
    task_run = await session.get(orm.TaskRun, task_run_id)
    if task_run is None:
        raise NotFound(f"Task run {task_run_id} not found.")
    if task_run.state_type != "Queued":
        return SlotCheck(available=True, state_type=task_run.state_type, full_tags=[])
    flow_run_state = (
        await session.execute(
            select(orm.FlowRun.state_type).where(orm.FlowRun.id == task_run.flow_run_id)
        )
    ).scalar_one_or_none()
    if flow_run_state != "Running":
        return SlotCheck(available=True, state_type="Queued", full_tags=[])
    full = await task_run_slot_free(session, task_run)
    return SlotCheck(available=not full, state_type="Queued", full_tags=full)
