"""Geometry of the run page's pictures: the gantt chart and the flow's schematic.

Contract: pure functions, no database and no templates. Coordinates are in SVG user units;
the templates draw what these return, so tests can check the geometry directly.

- :func:`gantt` places one bar per task (mapped children folded into their task) on a
  time axis from the run's start to its end (or now while it runs), plus the run's own
  state history as segments of the top row.
- :func:`layered_layout` lays a task graph out in layers (longest path from the roots),
  ordered inside each layer by the mean position of their upstream tasks, so edges mostly
  run left to right without crossing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "GANTT_WIDTH",
    "Bar",
    "Gantt",
    "GanttRow",
    "Layout",
    "Node",
    "Segment",
    "gantt",
    "layered_layout",
]

#: Width of the gantt's drawing area, in SVG units.
GANTT_WIDTH = 1000.0
ROW_HEIGHT = 18.0


@dataclass(frozen=True)
class GanttRow:
    """What the gantt needs about one task: its time span and state."""

    slug: str
    name: str
    start: dt.datetime | None
    end: dt.datetime | None
    state_type: str | None
    children: int = 0


@dataclass(frozen=True)
class Bar:
    """One bar: ``x`` and ``width`` on the time axis, ``y`` the row's top."""

    slug: str
    name: str
    x: float
    y: float
    width: float
    state_type: str | None
    running: bool
    children: int
    seconds: float


@dataclass(frozen=True)
class Segment:
    """One stretch of the run's own state history."""

    x: float
    width: float
    state_type: str


@dataclass
class Gantt:
    """The whole chart; ``height`` covers the run row and every bar."""

    start: dt.datetime | None
    end: dt.datetime | None
    bars: list[Bar] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    height: float = ROW_HEIGHT
    ticks: list[tuple[float, str]] = field(default_factory=list)


def _seconds(a: dt.datetime, b: dt.datetime) -> float:
    return (b - a).total_seconds()


def _label(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"


def gantt(
    rows: Sequence[GanttRow],
    history: Sequence[tuple[dt.datetime, str]],
    *,
    run_start: dt.datetime | None,
    run_end: dt.datetime | None,
    now: dt.datetime,
    width: float = GANTT_WIDTH,
) -> Gantt:
    """Place the bars of a run's gantt chart.

    Args:
        rows: One entry per task; tasks that never started get no bar.
        history: The run's states as ``(timestamp, state_type)``, oldest first.
        run_start: When the run started (``None``: the earliest task start).
        run_end: When the run ended (``None``: it is still running; the axis ends now).
        now: The current time (the end of unfinished bars).
        width: Width of the time axis.

    Returns:
        The chart; without any started task and no start time, an empty chart.
    """
    starts = [r.start for r in rows if r.start is not None]
    t0 = run_start or (min(starts) if starts else None)
    if t0 is None and history:
        t0 = history[0][0]
    if t0 is None:
        return Gantt(start=None, end=None)
    ends = [r.end or now for r in rows if r.start is not None]
    t1 = run_end or now
    if ends:
        t1 = max(t1, max(ends))
    if starts:
        t0 = min(t0, min(starts))
    span = max(_seconds(t0, t1), 1e-3)
    scale = width / span

    def x_of(moment: dt.datetime) -> float:
        return max(0.0, min(width, _seconds(t0, moment) * scale))

    chart = Gantt(start=t0, end=t1)
    for i, (stamp, state_type) in enumerate(history):
        until = history[i + 1][0] if i + 1 < len(history) else t1
        x = x_of(max(stamp, t0))
        chart.segments.append(Segment(x=x, width=max(0.0, x_of(until) - x), state_type=state_type))
    y = ROW_HEIGHT + 6
    for row in rows:
        if row.start is None:
            continue
        end = row.end or now
        x = x_of(row.start)
        chart.bars.append(
            Bar(
                slug=row.slug,
                name=row.name,
                x=x,
                y=y,
                width=max(1.0, x_of(end) - x),
                state_type=row.state_type,
                running=row.end is None,
                children=row.children,
                seconds=max(0.0, _seconds(row.start, end)),
            )
        )
        y += ROW_HEIGHT
    chart.height = y + ROW_HEIGHT
    chart.ticks = [(width * k / 4, _label(span * k / 4)) for k in range(5)]
    return chart


@dataclass(frozen=True)
class Node:
    """A placed task: centre ``(x, y)``, its layer and position in the layer."""

    slug: str
    name: str
    layer: int
    index: int
    x: float
    y: float
    mapped: bool


@dataclass
class Layout:
    """A placed graph: nodes by slug, edges as ``(x1, y1, x2, y2)``, overall size."""

    nodes: dict[str, Node]
    edges: list[tuple[float, float, float, float]]
    width: float
    height: float


NODE_WIDTH = 150.0
NODE_HEIGHT = 28.0
_LAYER_GAP = 60.0
_ROW_GAP = 14.0


def layered_layout(tasks: Iterable[dict[str, Any]], edges: Iterable[dict[str, Any]]) -> Layout:
    """Lay a flow's tasks out in layers.

    Args:
        tasks: Serialized tasks (``slug``, ``name``, ``mapped``).
        edges: Serialized edges (``upstream_task``, ``downstream_task``).

    Returns:
        The layout. Edges naming unknown tasks are ignored; a cycle (which a registered
        flow cannot have) is broken by placing the remaining tasks in one more layer.
    """
    info = {str(t["slug"]): t for t in tasks if isinstance(t, dict) and "slug" in t}
    order = list(info)
    ups: dict[str, list[str]] = {slug: [] for slug in order}
    downs: dict[str, list[str]] = {slug: [] for slug in order}
    pairs: list[tuple[str, str]] = []
    for edge in edges:
        up, down = str(edge.get("upstream_task")), str(edge.get("downstream_task"))
        if up in info and down in info and up != down:
            ups[down].append(up)
            downs[up].append(down)
            pairs.append((up, down))
    # Longest path from the roots (Kahn's algorithm keeps it linear).
    layer: dict[str, int] = {}
    indegree = {slug: len(set(ups[slug])) for slug in order}
    ready = [slug for slug in order if indegree[slug] == 0]
    while ready:
        slug = ready.pop()
        layer.setdefault(slug, 0)
        for down in set(downs[slug]):
            layer[down] = max(layer.get(down, 0), layer[slug] + 1)
            indegree[down] -= 1
            if indegree[down] == 0:
                ready.append(down)
    last = max(layer.values(), default=-1) + 1
    for slug in order:
        layer.setdefault(slug, last)
    layers: dict[int, list[str]] = {}
    for slug in order:
        layers.setdefault(layer[slug], []).append(slug)
    position: dict[str, float] = {}
    for number in sorted(layers):
        members = layers[number]
        if number > 0:

            def barycentre(slug: str) -> float:
                placed = [position[u] for u in ups[slug] if u in position]
                return sum(placed) / len(placed) if placed else float("inf")

            members.sort(key=barycentre)
        for i, slug in enumerate(members):
            position[slug] = float(i)
    nodes: dict[str, Node] = {}
    for number, members in layers.items():
        for i, slug in enumerate(members):
            task = info[slug]
            nodes[slug] = Node(
                slug=slug,
                name=str(task.get("name") or slug),
                layer=number,
                index=i,
                x=number * (NODE_WIDTH + _LAYER_GAP) + NODE_WIDTH / 2 + 10,
                y=i * (NODE_HEIGHT + _ROW_GAP) + NODE_HEIGHT / 2 + 10,
                mapped=bool(task.get("mapped")),
            )
    lines = [
        (
            nodes[u].x + NODE_WIDTH / 2,
            nodes[u].y,
            nodes[d].x - NODE_WIDTH / 2,
            nodes[d].y,
        )
        for u, d in pairs
    ]
    widest = max((len(m) for m in layers.values()), default=0)
    return Layout(
        nodes=nodes,
        edges=lines,
        width=len(layers) * (NODE_WIDTH + _LAYER_GAP) + 20,
        height=widest * (NODE_HEIGHT + _ROW_GAP) + 20,
    )
