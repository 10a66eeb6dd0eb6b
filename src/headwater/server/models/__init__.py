"""Queries of the server, one module per resource, as plain async functions.

Contract: every database query of the server lives here. Functions take an
``AsyncSession`` as first argument, never commit (the caller does), raise the domain
errors of :mod:`headwater.server.models.errors`, and queue events to be published after
the caller commits. Models never import orchestration: claiming runs for agents and the
late-run policies change states, so they live in :mod:`headwater.server.orchestration`;
the result store's blobs live in :mod:`headwater.server.result_store`.
"""

from headwater.server.models import (
    agents,
    artifacts,
    errors,
    flow_runs,
    flows,
    hooks,
    kv_store,
    logs,
    projects,
    states,
    task_runs,
)

__all__ = [
    "agents",
    "artifacts",
    "errors",
    "flow_runs",
    "flows",
    "hooks",
    "kv_store",
    "logs",
    "projects",
    "states",
    "task_runs",
]
