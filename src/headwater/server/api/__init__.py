"""The REST API: thin routers per resource, mounted under ``/api`` by ``create_app``.

Contract: a route validates input with a schema, calls one model or orchestration function
inside one transaction, commits, and returns a schema. Errors are turned into responses in
``errors.py`` only.
"""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["resource_routers"]


def resource_routers() -> list[APIRouter]:
    """Every router that needs the API key (all but health)."""
    from headwater.server.api import (
        artifacts,
        concurrency_limits,
        flow_runs,
        flows,
        hooks,
        kv_store,
        logs,
        projects,
        restarts,
        schedules,
        task_runs,
    )

    return [
        projects.router,
        flows.router,
        schedules.router,
        flow_runs.router,
        task_runs.router,
        logs.router,
        artifacts.router,
        kv_store.router,
        hooks.router,
        concurrency_limits.router,
        restarts.router,
    ]
