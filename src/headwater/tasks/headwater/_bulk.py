"""Child runs of a mapped ``create_flow_run`` created in bulk, ahead of the children.

Contract:
    * When a backend flow run expands ``create_flow_run.map(...)``, the flow runner hands
      every child's inputs, task run id and map index to :func:`prepare_mapped_creates`.
      It works out what each child would send (flow, run name, labels, parameters, the
      same idempotency key: the child's task run id plus its map index unless one is
      given, the same lineage) and creates all of them with one ``POST /flow-runs/bulk``.
    * Each child task then finds its run among the prepared ones (:func:`take_prepared`)
      instead of sending its own requests; its logs and return value are unchanged.
    * A child whose inputs cannot be prepared exactly (a relative start time, invalid
      arguments) is left out and does its own create, which raises its own error. If the
      bulk request fails, every child does its own create. Because the keys are the ones
      the children would use, a child's own create, a retry or a restarted parent always
      gets the same run back: no child run is created twice.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from headwater.backend import FlowView
from headwater.backend._common import default_client
from headwater.engine.backend._states import flush_task_states
from headwater.tasks.headwater._common import context_value, lineage

__all__ = ["prepare_mapped_creates", "take_prepared"]

_lock = threading.Lock()
# (task run id, idempotency key) -> (flow view, created flow run id)
_prepared: dict[tuple[str, str], tuple[Any, str]] = {}


def take_prepared(task_run_id: str | None, idempotency_key: str | None) -> tuple[Any, str] | None:
    """The flow view and run prepared for this child, once (None if there is none)."""
    if not task_run_id or not idempotency_key:
        return None
    with _lock:
        return _prepared.pop((str(task_run_id), idempotency_key), None)


def prepare_mapped_creates(
    function: Callable[..., Any], children: list[tuple[dict[str, Any], str, int]]
) -> int:
    """Create the child runs of mapped ``create_flow_run`` children in one request.

    Args:
        function: ``create_flow_run``'s function (for its defaults).
        children: ``(inputs, task_run_id, map_index)`` per child.

    Returns:
        How many child runs were prepared.
    """
    if not context_value("running_with_backend"):
        return 0
    signature = inspect.signature(function)
    flows: dict[tuple[Any, ...], Any] = {}
    parent_flow_run_id, _ = lineage()
    parent_name = context_value("flow_run_name")
    specs: list[dict[str, Any]] = []
    keyed: list[tuple[str, str, Any]] = []
    for inputs, task_run_id, map_index in children:
        try:
            bound = signature.bind(**inputs)
        except TypeError:
            continue
        bound.apply_defaults()
        args = bound.arguments
        flow_id, flow_name = args.get("flow_id"), args.get("flow_name")
        start = args.get("scheduled_start_time")
        if (
            bool(flow_id) == bool(flow_name)
            or not (start is None or isinstance(start, datetime))
            or args.get("idempotency_key") == ""
        ):
            continue  # the child raises its own error, or computes its own start time
        which = (flow_id, flow_name, args.get("project_name"))
        flow = flows.get(which)
        if flow is None:
            if flow_id:
                flow = FlowView.from_id(str(flow_id))
            else:
                flow = FlowView.from_flow_name(str(flow_name), project_name=which[2])
            flows[which] = flow
        run_name = args.get("run_name")
        if not run_name and parent_name:
            run_name = f"{parent_name}-{flow.name}"
        key = args.get("idempotency_key") or f"{task_run_id}-{map_index}"
        labels = args.get("labels")
        specs.append(
            {
                "flow_id": flow.flow_id,
                "parameters": args.get("parameters"),
                "context": args.get("context"),
                "labels": list(labels) if labels is not None else None,
                "run_name": run_name or None,
                "run_config": args.get("run_config"),
                "scheduled_start_time": start,
                "idempotency_key": key,
                "parent_flow_run_id": parent_flow_run_id,
                "parent_task_run_id": task_run_id,
            }
        )
        keyed.append((task_run_id, key, flow))
    if not specs:
        return 0
    # What the parent's tasks did so far reaches the server before its children exist.
    flush_task_states()
    ids = default_client(None).create_flow_runs(specs)
    with _lock:
        for (task_run_id, key, flow), flow_run_id in zip(keyed, ids, strict=True):
            _prepared[(task_run_id, key)] = (flow, flow_run_id)
    return len(ids)
