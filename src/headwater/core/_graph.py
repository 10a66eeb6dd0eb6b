"""Private graph algorithms of :class:`~headwater.core.flow.Flow`.

Contract:
    :func:`topological_order` orders a flow's tasks upstream-first (ties keep insertion
    order) or raises ``ValueError`` naming the tasks of a cycle; :func:`replace_task`
    swaps one task for another keeping its edges, constants and reference status.
"""

from __future__ import annotations

import copy
import heapq
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from headwater.core._as_task import as_task
from headwater.core.task import Task

if TYPE_CHECKING:
    from headwater.core.flow import Flow

__all__ = ["copy_flow", "replace_task", "topological_order", "update_flow"]


def topological_order(flow: Flow) -> list[Task]:
    """The flow's tasks, upstream first.

    Raises:
        ValueError: when the graph has a cycle; the message names its tasks.
    """
    order = list(flow.slugs)  # insertion order
    indegree = {t: len({e.upstream_task for e in flow._upstream[t]}) for t in order}
    ready = [t for t in order if indegree[t] == 0]
    position = {t: i for i, t in enumerate(order)}
    result: list[Task] = []

    heap = [(position[t], t.slug or "", id(t)) for t in ready]
    by_id = {id(t): t for t in order}
    heapq.heapify(heap)
    while heap:
        _, _, tid = heapq.heappop(heap)
        t = by_id[tid]
        result.append(t)
        for down in {e.downstream_task for e in flow._downstream[t]}:
            indegree[down] -= 1
            if indegree[down] == 0:
                heapq.heappush(heap, (position[down], down.slug or "", id(down)))
    if len(result) != len(order):
        stuck = sorted(t.slug or t.name for t in order if indegree[t] > 0)
        raise ValueError(f"Flow {flow.name!r} has a cycle among the tasks: {', '.join(stuck)}.")
    return result


def replace_task(flow: Flow, old: Task, new: Any) -> None:
    """Put ``new`` in place of ``old`` in ``flow``, keeping edges and constants.

    Raises:
        ValueError: when ``old`` is not in the flow.
    """
    if old not in flow.tasks:
        raise ValueError(f"Flow {flow.name!r}: {old} is not in this flow.")
    new_task = as_task(new, flow=flow)
    incoming = list(flow._upstream[old])
    outgoing = list(flow._downstream[old])
    constants = flow.constants.pop(old, {})
    was_reference = old in flow._reference_tasks
    for e in incoming + outgoing:
        flow.edges.discard(e)
        flow._upstream[e.downstream_task].discard(e)
        flow._downstream[e.upstream_task].discard(e)
    flow.tasks.discard(old)
    del flow.slugs[old], flow._upstream[old], flow._downstream[old]
    flow._reference_tasks.discard(old)
    flow.add_task(new_task)
    for e in incoming:
        flow.add_edge(e.upstream_task, new_task, e.key, e.mapped, e.flattened)
    for e in outgoing:
        flow.add_edge(new_task, e.downstream_task, e.key, e.mapped, e.flattened)
    if constants:
        flow.constants[new_task].update(constants)
    if was_reference:
        flow._reference_tasks.add(new_task)
    flow._changed()


def update_flow(target: Flow, flow: Flow) -> None:
    """Add every task, edge and constant of ``flow`` to ``target``."""
    for t in flow.sorted_tasks() if flow.tasks else []:
        if t not in target.tasks:
            target.add_task(t)
    for e in flow.edges:
        if e not in target.edges:
            target.add_edge(e.upstream_task, e.downstream_task, e.key, e.mapped, e.flattened)
    for t, consts in flow.constants.items():
        target.constants[t].update(consts)
    target._changed()


def copy_flow(flow: Flow) -> Flow:
    """A copy of ``flow`` with its own containers (tasks are shared)."""
    new = copy.copy(flow)
    new.tasks = set(flow.tasks)
    new.edges = set(flow.edges)
    new.constants = defaultdict(dict, {t: dict(c) for t, c in flow.constants.items()})
    new.slugs = dict(flow.slugs)
    new._slug_counters = dict(flow._slug_counters)
    new._upstream = {t: set(e) for t, e in flow._upstream.items()}
    new._downstream = {t: set(e) for t, e in flow._downstream.items()}
    new._reference_tasks = set(flow._reference_tasks)
    new.state_handlers = list(flow.state_handlers)
    new._tokens = []
    new._sorted = None
    return new
