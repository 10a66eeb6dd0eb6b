"""Read models of what the server knows: flows, flow runs, task runs, and a run watcher.

Prefect 1 code that used ``prefect.backend`` works with ``headwater.backend``:

* :class:`FlowView`: one registered flow version (by id, flow-group id or name).
* :class:`FlowRunView`: one flow run: state, history, parameters, logs, task runs, and its
  lineage (``parent_flow_run_id``, ``parent_task_run_id``, ``get_children()``).
* :class:`TaskRunView`: one task run and its result, read through the server's result
  store when the run checkpointed there.
* :func:`watch_flow_run`: follow a run's state changes and logs as the server pushes them.
* :func:`set_key_value`, :func:`get_key_value`, :func:`delete_key`, :func:`list_keys`: the
  server's key-value store (:mod:`headwater.backend.kv_store`).
* :mod:`headwater.backend.artifacts`: links and Markdown attached to the current task run.

Every view talks to the server through :class:`headwater.client.Client`; pass ``client=``
to choose one, otherwise a default client is built from the environment.
"""

from __future__ import annotations

from headwater.backend._flow import FlowView
from headwater.backend._flow_run import FlowRunLog, FlowRunView
from headwater.backend._task_run import TaskRunView
from headwater.backend._watch import watch_flow_run
from headwater.backend.kv_store import delete_key, get_key_value, list_keys, set_key_value

__all__ = [
    "FlowRunLog",
    "FlowRunView",
    "FlowView",
    "TaskRunView",
    "delete_key",
    "get_key_value",
    "list_keys",
    "set_key_value",
    "watch_flow_run",
]
