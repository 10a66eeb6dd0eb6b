"""The REST API: thin routers per resource, mounted under ``/api`` by ``create_app``.

Contract: a route validates input with a schema, calls model or orchestration functions
inside one transaction, commits, and returns a schema; it writes no SQL itself. Errors are
turned into responses in ``errors.py`` only. One module per resource: ``health`` (no API
key), ``projects``, ``flows``, ``schedules``, ``flow_runs`` (with the wait long-poll and
the event stream), ``task_runs``, ``logs``, ``agents`` (with the claim long-poll),
``artifacts``, ``kv_store``, ``hooks``, ``concurrency_limits``, ``restarts``.
"""

from __future__ import annotations

from fastapi import APIRouter

from headwater.server.api import (
    agents,
    artifacts,
    concurrency_limits,
    flow_runs,
    flows,
    health,
    hooks,
    kv_store,
    logs,
    projects,
    restarts,
    schedules,
    task_runs,
)

__all__ = ["health_router", "resource_routers"]


def health_router() -> APIRouter:
    """The router that needs no API key: ``GET /health``."""
    return health.router


def resource_routers() -> list[APIRouter]:
    """Every router that needs the API key (all but health), in matching order.

    The push routes (waiting for a flow run, its event stream, agents' claims) come last.
    """
    return [
        projects.router,
        flows.router,
        schedules.router,
        flow_runs.router,
        task_runs.router,
        logs.router,
        agents.router,
        artifacts.router,
        kv_store.router,
        hooks.router,
        concurrency_limits.router,
        restarts.router,
        flow_runs.push_router,
        agents.push_router,
    ]
