"""Private helpers of :class:`~headwater.core.flow.Flow`: JSON form, scheduled runs, defaults.

Contract:
    :func:`serialize_flow` builds the JSON-able description the server stores (see
    ``Flow.serialize``); :func:`run_on_schedule` runs a flow once per scheduled time;
    ``configured_class`` (re-exported from :mod:`headwater.utilities.configuration`)
    resolves the configured default runner/executor classes;
    :func:`save_flow`/:func:`load_flow` write and read a flow with cloudpickle.
"""

from __future__ import annotations

import datetime
import inspect
import json
import os
import time
from typing import TYPE_CHECKING, Any

from headwater._version import __version__
from headwater.utilities.configuration import config, configured_class
from headwater.utilities.logging import get_logger

if TYPE_CHECKING:
    from headwater.core.flow import Flow
    from headwater.engine.state import State

__all__ = ["configured_class", "load_flow", "run_on_schedule", "save_flow", "serialize_flow"]


def _json_safe(value: Any) -> Any:
    """``value`` when JSON can hold it; dates as ISO strings; otherwise its repr."""
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value


def _ref(obj: Any) -> Any:
    """A JSON-safe reference to a configuration object (result, run config, storage)."""
    if obj is None:
        return None
    for attr in ("to_ref", "serialize"):
        fn = getattr(obj, attr, None)
        if callable(fn):
            try:
                return fn()
            except Exception:  # a reference is informative; never fail serialization
                break
    return {"type": type(obj).__name__}


def _qualname(obj: Any) -> str:
    module = getattr(obj, "__module__", None) or ""
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if name is None:
        name = type(obj).__qualname__
    return f"{module}.{name}" if module else str(name)


def serialize_flow(flow: Flow) -> dict[str, Any]:
    """The JSON-able description of ``flow``."""
    sorted_tasks = flow.sorted_tasks()
    mapped_tasks = {e.downstream_task for e in flow.edges if e.mapped}
    tasks = []
    for t in sorted_tasks:
        tasks.append(
            {
                "slug": t.slug,
                "name": t.name,
                "type": _qualname(type(t)),
                "tags": sorted(t.tags),
                "max_retries": t.max_retries,
                "retry_delay": t.retry_delay.total_seconds() if t.retry_delay else None,
                "timeout": t.timeout,
                "trigger": _qualname(t.trigger),
                "mapped": t in mapped_tasks,
                "checkpoint": t.checkpoint,
                "result": _ref(t.result),
            }
        )
    edges = sorted(
        (
            {
                "upstream_task": e.upstream_task.slug,
                "downstream_task": e.downstream_task.slug,
                "key": e.key,
                "mapped": e.mapped,
                "flattened": e.flattened,
            }
            for e in flow.edges
        ),
        key=lambda d: (d["upstream_task"], d["downstream_task"], d["key"] or ""),
    )
    params = sorted(
        (
            {
                "name": p.name,
                "slug": p.slug,
                "required": p.required,
                "default": _json_safe(p.default),
            }
            for p in flow.parameters()
        ),
        key=lambda d: d["name"],
    )
    return {
        "name": flow.name,
        "tasks": tasks,
        "edges": edges,
        "parameters": params,
        "reference_tasks": sorted(t.slug or "" for t in flow.reference_tasks()),
        "schedule": _ref(flow.schedule),
        "run_config": _ref(flow.run_config),
        "storage": _ref(flow.storage),
        "environment": None,
        "__version__": __version__,
    }


def run_on_schedule(
    flow: Flow,
    runner: Any,
    params: dict[str, Any],
    executor: Any,
    context: dict[str, Any] | None,
    runner_kwargs: dict[str, Any],
    max_runs: int | None = None,
) -> State:
    """Run ``flow`` at each next time of its schedule, waiting for it; return the last state.

    As Prefect 1: the next time is always looked up after *now*, so times missed while a
    run was going on are skipped; a clock's parameter defaults are laid over
    ``params``; ``context.scheduled_start_time`` is the scheduled time. The loop ends when
    the schedule has no more times (or after ``max_runs`` runs, a hook for tests); the
    wait is a plain sleep, so Ctrl-C stops it.

    Raises:
        ValueError: when the schedule has no upcoming time at all.
    """
    schedule = flow.schedule
    with_events = "return_events" in inspect.signature(schedule.next).parameters
    logger = get_logger("Flow")
    state: Any = None
    runs = 0
    while max_runs is None or runs < max_runs:
        now = datetime.datetime.now(datetime.UTC)
        found = (
            schedule.next(1, after=now, return_events=True)
            if with_events
            else schedule.next(1, after=now)
        )
        if not found:
            if state is None:
                raise ValueError(f"Flow {flow.name!r}: its schedule has no upcoming times.")
            break
        event = found[0]
        when = getattr(event, "start_time", event)
        run_params = {**params, **(getattr(event, "parameter_defaults", None) or {})}
        if run_params != params:
            flow.check_parameters(run_params)
        delay = (when - datetime.datetime.now(datetime.UTC)).total_seconds()
        if delay > 0:
            logger.info("Waiting for next scheduled run at %s", when.isoformat())
            time.sleep(delay)
        ctx = {**(context or {}), "scheduled_start_time": when}
        state = runner.run(parameters=run_params, executor=executor, context=ctx, **runner_kwargs)
        runs += 1
    return state  # type: ignore[no-any-return]


def save_flow(flow: Flow, fpath: str | None = None) -> str:
    """Write ``flow`` with cloudpickle (see ``Flow.save``) and return the path."""
    # deferred: cloudpickle costs tens of milliseconds, paid only to save a flow file.
    import cloudpickle

    if fpath is None:
        home = config.get("home_dir") or os.path.expanduser("~/.headwater")
        safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in flow.name)
        fpath = os.path.join(str(home), "flows", f"{safe}.headwater")
    os.makedirs(os.path.dirname(os.path.abspath(fpath)), exist_ok=True)
    with open(fpath, "wb") as handle:
        handle.write(cloudpickle.dumps(flow))
    return fpath


def load_flow(fpath: str, flow_cls: type[Flow]) -> Flow:
    """Read a flow written by :func:`save_flow` (see ``Flow.load``)."""
    # deferred: cloudpickle costs tens of milliseconds, paid only to load a flow file.
    import cloudpickle

    with open(fpath, "rb") as handle:
        flow = cloudpickle.loads(handle.read())
    if not isinstance(flow, flow_cls):
        raise TypeError(f"{fpath} does not hold a Flow (found {type(flow).__name__}).")
    return flow
